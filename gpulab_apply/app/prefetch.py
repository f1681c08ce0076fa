"""The listing read ahead: while a large set of job files is checked in other processes, ``plan`` and ``status`` open
their client and read GPULab's listing in a thread of this one, so that they take the longer of the two, not their
sum (docs/plan-apply.md#speed).

Nothing of it shows before the files are known to be valid, so ``plan`` reports exactly what it reported without
it: the files' problems first; a failure met ahead (no certificate, GPULab unreachable, a cut listing) is kept and
raised where the command asks for the client; retry notices are held until then. A certificate whose password
would have to be typed is not read ahead: the question waits until the files are valid, as it always did.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Self

from gpulab_apply.app.connection import open_client
from gpulab_apply.gpulab.client import GpulabClient
from gpulab_apply.gpulab.listing import Listing
from gpulab_apply.settings import Settings


class ListingAhead:
    """A client and its listing, maybe read ahead; closes the client on exit.

    ``read`` is what :func:`gpulab_apply.jobfiles.validation.validate_paths` calls once its workers run (it does
    not call it for small sets, which are checked here at once): the listing is read in a thread of this process,
    so the files' verdict never waits for it: invalid files are reported at once, even while GPULab is slow to
    answer, and the listing's requests are abandoned, so that nothing holds the process at exit. ``client`` then
    hands over what was read (waiting for it if need be), or opens the client now.
    """

    def __init__(self, settings: Settings, lister: Callable[[GpulabClient], Listing]) -> None:
        self._settings = settings
        self._lister = lister  # the command's listing rule (app/planning.py's list_remote)
        self._stack = ExitStack()  # a client opened by client()
        self._notices = _HeldNotices()
        self._reader: threading.Thread | None = None
        self._reader_stack = ExitStack()  # the client the reader opened: closed by whoever finishes last
        self._lock = threading.Lock()
        self._read = self._left = False
        self._reader_client: GpulabClient | None = None
        self._ahead: tuple[GpulabClient, Listing] | Exception | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._stack.close()
        with self._lock:
            self._left = True
            still_reading = self._reader is not None and not self._read
            reader_client = self._reader_client
        if not still_reading:
            self._reader_stack.close()
        elif reader_client is not None:
            # its requests end now: a page thread still waiting for a slow answer would hold the process at exit
            # (the interpreter joins them), for as long as the answer's time allows
            reader_client.abandon()

    def read(self) -> None:
        """Start reading the listing, keeping the outcome, a failure included; never raises."""
        if self._settings.local:  # the embedded emulator would run in this process: there is nothing to wait for
            return
        self._reader = threading.Thread(target=self._read_listing, name="gpulab-apply listing", daemon=True)
        self._reader.start()

    def _read_listing(self) -> None:
        settings = self._settings
        ahead = dataclasses.replace(settings, retry_notice=self._notices,
                                    password_prompt=_no_prompt if settings.password_prompt else None)
        try:
            client = self._reader_stack.enter_context(open_client(ahead))
            with self._lock:
                self._reader_client, left = client, self._left
            if left:  # the command ended while the client was being opened
                client.abandon()
            self._ahead = client, self._lister(client)
        except _PasswordWanted:
            pass  # opened by client(), after the files, with the question
        except Exception as exc:  # noqa: BLE001 - any failure is the command's, raised by client() in its place
            self._ahead = exc
        finally:
            with self._lock:
                self._read = True
                left = self._left
            if left:  # the command ended without it (invalid files, an interrupt)
                self._reader_stack.close()

    def client(self) -> tuple[GpulabClient, Listing | None]:
        """The client, and the listing if it was read ahead (else None: the caller lists); a failure met ahead is
        raised here, where the command would have met it."""
        if self._reader is not None:
            self._reader.join()
        self._notices.release(self._settings.retry_notice)
        if isinstance(self._ahead, Exception):
            raise self._ahead
        if self._ahead is not None:
            return self._ahead
        return self._stack.enter_context(open_client(self._settings)), None


class _PasswordWanted(Exception):
    """Reading ahead would have to ask for the certificate's password."""


def _no_prompt(path: Path) -> str:
    raise _PasswordWanted(path)


class _HeldNotices:
    """Retry notices, held until the command may show them, then passed on as they come (released once the reader
    has ended, or never: no two threads use it at once)."""

    def __init__(self) -> None:
        self._held: list[str] = []
        self._target: Callable[[str], None] | None = None
        self._released = False

    def __call__(self, notice: str) -> None:
        if not self._released:
            self._held.append(notice)
        elif self._target is not None:
            self._target(notice)

    def release(self, target: Callable[[str], None] | None) -> None:
        self._target, self._released = target, True
        held, self._held = self._held, []
        if target is not None:
            for notice in held:
                target(notice)
