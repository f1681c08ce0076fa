"""How commands write: the output context of one command line (:class:`Output`), made at the CLI's boundary.

Like httpie's injected ``Environment``: :func:`gpulab_apply.cli.run` makes one :class:`Output` per command line and
hands it to click as the context object; ``--format`` (:func:`format_option`) says what kind of result the command
writes and in which format, and the command receives the same object as its ``output`` parameter (commands without
``--format`` take it with :func:`pass_output`). Nothing is read from a global: the boundary that made the object
reports a failure through it (:meth:`Output.fail`), the secrets it was handed (:meth:`Output.hide`) masked, and what
the command had made travels in the error itself (:attr:`gpulab_apply.errors.GpulabApplyError.made`).
Light on purpose (no client, no requests), so every command can use it.
"""

from __future__ import annotations

import functools
import io
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TextIO, TypeVar

import click

from gpulab_apply.errors import GpulabApplyError, InvalidJobsError
from gpulab_apply.masking import NO_SECRETS, Secrets, mask_message, safe
from gpulab_apply.reporters import (
    AUTO,
    DOCUMENT_FORMATS,
    Failure,
    Kind,
    fail_reporter,
    formats,
    report,
    resolve_format,
)

F = TypeVar("F", bound=Callable[..., Any])


def is_terminal(stream: Any) -> bool:
    """Whether a stream is an interactive terminal (never true under CI or click's test runner)."""
    try:
        return stream is not None and bool(stream.isatty())
    except ValueError:  # a closed stream
        return False


class Output:
    """One command line's output: its streams and environment, the kind and format of its result, the secrets
    nothing it writes may show, and whether its report is out."""

    __slots__ = ("_stderr", "_stdout", "done", "environ", "fmt", "kind", "secrets", "set_name")

    def __init__(self, *, environ: Mapping[str, str], stdout: TextIO | None = None,
                 stderr: TextIO | None = None) -> None:
        self.environ = environ
        # None: sys.stdout/sys.stderr as they are when written to (click's test runner swaps them per call)
        self._stdout = stdout
        self._stderr = stderr
        #: the kind of result and its resolved ``--format``; None until the command declares them
        self.kind: Kind | None = None
        self.fmt = "text"
        self.set_name: str | None = None
        #: the command's final report was written: a later error is only the CLI's ``Error:`` line
        self.done = False
        #: what no output of the command may show (docs/security.md), handed over by :meth:`hide`
        self.secrets = NO_SECRETS

    @property
    def stdout(self) -> TextIO:
        return self._stdout or sys.stdout

    @property
    def stderr(self) -> TextIO:
        return self._stderr or sys.stderr

    def is_terminal(self, *, err: bool = False) -> bool:
        return is_terminal(self.stderr if err else self.stdout)

    @property
    def is_document(self) -> bool:
        """One whole document per command (JSON, Markdown): nothing else may go to stdout."""
        return self.fmt in DOCUMENT_FORMATS

    def start(self, kind: Kind, fmt: str) -> str:
        """Declare the command's result; ``auto`` becomes ``github`` under GitHub Actions, else ``text``."""
        self.kind = kind
        self.fmt = resolve_format(kind, fmt, self.environ)
        return self.fmt

    def hide(self, secrets: Secrets) -> None:
        """Mask ``secrets`` (what the job files took from the environment, the key's password) in everything this
        command writes from now on: its report, a failure, the ``Error:`` line."""
        self.secrets |= secrets

    def masked(self, text: str) -> str:
        """``text`` with the command's secrets masked (for what a command writes itself)."""
        return self.secrets.mask(text)

    def emit(self, result: object, *, kind: Kind | None = None, final: bool = True) -> None:
        """Write ``result`` to stdout through the reporter of the command's format."""
        kind = kind or self.kind
        assert kind is not None, "emit() before the command declared its kind (format_option or start)"
        buffer = io.StringIO()
        report(kind, self.fmt, result, buffer, color=self.is_terminal())
        self.write(self.secrets.mask(buffer.getvalue()))
        if final:
            self.done = True

    def fail(self, error: GpulabApplyError) -> None:
        """Report an error that stopped the command in its format (stdout), unless its report is already out."""
        if self.kind is None or self.done:
            return
        self.done = True
        if isinstance(error, InvalidJobsError) and error.secrets is not None:
            self.hide(error.secrets)
        problems = error.problems if isinstance(error, InvalidJobsError) else ()
        files = error.files if isinstance(error, InvalidJobsError) else 0
        hint = mask_message(error.hint) if error.hint else None
        failure = Failure(kind=self.kind, message=mask_message(error.message), hint=hint,
                          exit_status=int(error.exit_status), problems=tuple(problems), files=files,
                          set_name=self.set_name, partial=error.made)
        buffer = io.StringIO()
        fail_reporter(self.kind, self.fmt)(failure, buffer)
        self.write(self.secrets.mask(buffer.getvalue()))

    def error_lines(self, error: GpulabApplyError) -> None:
        """``Error: …`` (red on a terminal) and ``Hint: …`` on stderr: secrets masked, control characters escaped."""
        if isinstance(error, InvalidJobsError) and error.secrets is not None:
            self.hide(error.secrets)
        message = f"Error: {safe(self.masked(mask_message(error.message)))}"
        self.write(f"\x1b[31m{message}\x1b[0m\n" if self.is_terminal(err=True) else f"{message}\n", err=True)
        if error.hint:
            self.write(f"Hint: {safe(self.masked(mask_message(error.hint)))}\n", err=True)

    def render(self, reporter: Callable[..., None], *, err: bool = False) -> None:
        """Run a reporter into a buffer and write it; colour only when the target is a terminal."""
        buffer = io.StringIO()
        reporter(buffer, color=self.is_terminal(err=err))
        self.write(self.masked(buffer.getvalue()), err=err)

    def write(self, text: str, *, err: bool = False) -> None:
        """Write to stdout (or stderr) and flush: what click.echo does for the text reporters make, whose colour is
        already decided, without importing click (validate runs without it)."""
        stream = self.stderr if err else self.stdout
        stream.write(text)
        stream.flush()


@contextmanager
def masking_errors(secrets: Secrets) -> Iterator[None]:
    """For commands without a report (logs, wait): an error raised inside names no secret (a job's name)."""
    try:
        yield
    except GpulabApplyError as exc:
        exc.message = secrets.mask(exc.message)
        exc.hint = exc.hint and secrets.mask(exc.hint)
        raise


def output_of(ctx: click.Context) -> Output:
    """The command line's :class:`Output`, made by :func:`gpulab_apply.cli.run`, the one entry point."""
    found = ctx.find_object(Output)
    assert found is not None, "commands run through gpulab_apply.cli.run, which makes their Output"
    return found


def format_option(kind: Kind, help: str) -> Callable[[F], F]:
    """``--format`` with the kind's registered formats and ``auto`` (the default); the command gets the
    :class:`Output` as ``output``, its format resolved, and failures from here on come out in that format."""

    def begin(ctx: click.Context, param: click.Parameter, value: str) -> Output:
        output = output_of(ctx)
        output.start(kind, value)
        return output

    return click.option("--format", "output", type=click.Choice(formats(kind)), default=AUTO, show_default=True,
                        is_eager=True, callback=begin,
                        help=f"{help} auto: github under GitHub Actions (GITHUB_ACTIONS=true), else text.")


def pass_output(function: F) -> F:
    """Give a command without ``--format`` the command line's :class:`Output` as ``output``."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return function(*args, output=output_of(click.get_current_context()), **kwargs)

    return wrapper  # type: ignore[return-value]
