"""Ctrl-C and SIGTERM while apply acts: settle what is in flight, then report (docs/plan-apply.md#interrupts).

Outside :func:`settling`, Ctrl-C stops a command at once (nothing it does is half done: plan, status, logs and
wait only read) and the CLI's boundary exits 130. While apply submits and cancels, stopping between two
requests is safe but stopping inside one is not: the first signal asks the executor to start nothing new and
lets the requests in flight finish, so the report says exactly what was done; a second signal abandons at once.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType

from gpulab_apply.errors import ExitStatus

#: exit status per signal: 128 + its number, as a shell reports a process a signal ended
EXIT_STATUS = {signal.SIGINT: ExitStatus.INTERRUPTED, signal.SIGTERM: ExitStatus.TERMINATED}


@dataclass
class StopRequest:
    """Set by the first signal: the event the executor watches, and which signal it was."""

    event: threading.Event = field(default_factory=threading.Event)
    signal: signal.Signals | None = None

    @property
    def exit_status(self) -> ExitStatus:
        return EXIT_STATUS.get(self.signal, ExitStatus.INTERRUPTED) if self.signal else ExitStatus.OK


@contextmanager
def settling() -> Iterator[StopRequest]:
    """Within the block, SIGINT and SIGTERM set the returned request instead of stopping the process; a second
    one raises KeyboardInterrupt. Handlers can only be installed on the main thread: elsewhere (a test running
    the CLI on a worker thread) the block runs with the process's own handlers."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        if request.event.is_set():
            raise KeyboardInterrupt
        request.signal = signal.Signals(signum)
        request.event.set()

    previous = {sig: signal.signal(sig, handle) for sig in EXIT_STATUS}
    try:
        yield request
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
