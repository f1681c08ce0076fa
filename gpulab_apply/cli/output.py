"""How commands write: whether a stream is a terminal, the ``--format`` option, and results through reporters.

A command declares its kind of result with :func:`format_option`; from then on the result it
:func:`emit`\\ s, or the error that stops it (:func:`fail`, called by the CLI's one error boundary), comes
out in the format asked for. Once the command has loaded its job files it hands their secrets to the output
(:func:`hide`): everything written after that, report, failure or ``Error:`` line, is masked with them.
Light on purpose (no client, no requests), so every command can use it.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

from gpulab_apply.errors import GpulabApplyError, InvalidJobsError
from gpulab_apply.masking import NO_SECRETS, Secrets, mask_message, safe
from gpulab_apply.reporters import AUTO, DOCUMENT_FORMATS, Failure, Kind, formats, report, resolve_format

if TYPE_CHECKING:
    import click

F = TypeVar("F", bound=Callable[..., Any])


def is_terminal(stream: Any) -> bool:
    """Whether a stream is an interactive terminal (never true under CI or click's test runner)."""
    try:
        return stream is not None and bool(stream.isatty())
    except ValueError:  # a closed stream
        return False


class Output:
    """What the running command reports, and in which format."""

    __slots__ = ("done", "fmt", "kind", "partial", "secrets", "set_name")

    def __init__(self, kind: Kind, fmt: str) -> None:
        self.kind = kind
        self.fmt = fmt
        self.set_name: str | None = None
        #: what the command had made so far (the plan before a guard refused it), for a failure report
        self.partial: Any = None
        #: the command's final report was written: a later error is only the CLI's ``Error:`` line
        self.done = False
        #: what no output of the command may show (docs/security.md), handed over by :func:`hide`
        self.secrets = NO_SECRETS

    @property
    def is_document(self) -> bool:
        """One whole document per command (JSON, Markdown): nothing else may go to stdout."""
        return self.fmt in DOCUMENT_FORMATS


# per thread (a test may run two commands at once in one process)
_current: ContextVar[Output | None] = ContextVar("gpulab_apply_output", default=None)


def current() -> Output | None:
    return _current.get()


def reset() -> None:
    _current.set(None)


def start(kind: Kind, fmt: str) -> Output:
    """Begin a command's output; ``auto`` becomes ``github`` under GitHub Actions, else ``text``."""
    output = Output(kind=kind, fmt=resolve_format(kind, fmt, os.environ))
    _current.set(output)
    return output


def hide(secrets: Secrets) -> None:
    """Mask ``secrets`` (what the job files took from the environment, the key's password) in everything the
    running command writes from now on: its report, a failure, the ``Error:`` line."""
    output = _current.get()
    if output is not None:
        output.secrets |= secrets


@contextmanager
def masking_errors(secrets: Secrets) -> Iterator[None]:
    """For commands without a report (logs, wait): an error raised inside names no secret (a job's name)."""
    try:
        yield
    except GpulabApplyError as exc:
        exc.message = secrets.mask(exc.message)
        exc.hint = exc.hint and secrets.mask(exc.hint)
        raise


def masked(text: str) -> str:
    """``text`` with the running command's secrets masked (for what a command writes itself)."""
    output = _current.get()
    return output.secrets.mask(text) if output is not None else text


def format_option(kind: Kind, help: str) -> Callable[[F], F]:
    """``--format`` with the kind's registered formats and ``auto`` (the default); the command gets the
    resolved name, and failures from here on come out in that format."""
    import click

    def begin(ctx: click.Context, param: click.Parameter, value: str) -> str:
        return start(kind, value).fmt

    return click.option("--format", "fmt", type=click.Choice(formats(kind)), default=AUTO, show_default=True,
                        is_eager=True, callback=begin,
                        help=f"{help} auto: github under GitHub Actions (GITHUB_ACTIONS=true), else text.")


def emit(result: object, *, kind: Kind | None = None, final: bool = True) -> None:
    """Write ``result`` to stdout through the reporter of the running command's format."""
    output = _current.get()
    assert output is not None, "emit() before format_option/start()"
    color = is_terminal(sys.stdout)
    buffer = io.StringIO()
    report(kind or output.kind, output.fmt, result, buffer, color=color)
    write(output.secrets.mask(buffer.getvalue()))
    if final:
        output.done = True


def fail(error: GpulabApplyError) -> None:
    """Report an error that stopped the command in its format (stdout), unless its report is already out."""
    output = _current.get()
    if output is None or output.done:
        return
    output.done = True
    problems = error.problems if isinstance(error, InvalidJobsError) else ()
    files = error.files if isinstance(error, InvalidJobsError) else 0
    hint = mask_message(error.hint) if error.hint else None
    failure = Failure(kind=output.kind, message=mask_message(error.message), hint=hint,
                      exit_status=int(error.exit_status),
                      problems=tuple(problems), files=files, set_name=output.set_name, partial=output.partial)
    buffer = io.StringIO()
    report(output.kind, output.fmt, failure, buffer)
    write(output.secrets.mask(buffer.getvalue()))


def error_lines(error: GpulabApplyError) -> None:
    """``Error: …`` (red on a terminal) and ``Hint: …`` on stderr: secrets masked, control characters escaped."""
    message = f"Error: {safe(masked(mask_message(error.message)))}"
    write(f"\x1b[31m{message}\x1b[0m\n" if is_terminal(sys.stderr) else f"{message}\n", err=True)
    if error.hint:
        write(f"Hint: {safe(masked(mask_message(error.hint)))}\n", err=True)


def render(reporter: Callable[..., None], *, err: bool = False) -> None:
    """Run a reporter into a buffer and echo it; colour only when the target is a terminal."""
    color = is_terminal(sys.stderr if err else sys.stdout)
    buffer = io.StringIO()
    reporter(buffer, color=color)
    write(masked(buffer.getvalue()), err=err)


def write(text: str, *, err: bool = False) -> None:
    """Write to stdout (or stderr) as it is at the time of the call, and flush: what click.echo does for the
    text reporters make, whose colour is already decided, without importing click (validate runs without it)."""
    stream = sys.stderr if err else sys.stdout
    stream.write(text)
    stream.flush()
