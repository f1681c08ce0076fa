"""The command line: a thin layer that turns options into calls and results into output.

Each command lives in its own module (``gpulab_apply.cli.<command>``) and is imported only when it
runs, so ``validate`` never pays for importing ``requests`` or ``deepdiff``: click's group lists the
commands from :data:`COMMANDS`, a static table (:mod:`gpulab_apply.cli.table`) that a test keeps equal to the
commands' own help, so ``--help`` imports no command module. Every command line goes through click. Every error
this tool raises on purpose is caught here, in :func:`run`, and nowhere else.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from gpulab_apply.cli.output import Output
from gpulab_apply.cli.table import COMMANDS, EPILOG, HELP, PROG_NAME, Command
from gpulab_apply.errors import ExitStatus, GpulabApplyError, InternalError, InterruptedByUser

__all__ = ["COMMANDS", "COMPLETE_VAR", "EPILOG", "GC_THRESHOLD", "HELP", "PROG_NAME", "Command", "main", "run"]

#: allocations between two young-generation collections (CPython's default is 700)
GC_THRESHOLD = 50_000
#: the variable click's completion protocol reads: _<PROG_NAME>_COMPLETE
COMPLETE_VAR = "_GPULAB_APPLY_COMPLETE"


def run(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit status; the one place where errors become messages."""
    args = list(sys.argv[1:] if argv is None else argv)

    # what this command line writes, and where: made here, handed down through click, reported through here
    output = Output(environ=os.environ)

    # Commands build large, acyclic trees (parsed job files, job listings) that reference counting frees.
    # With the default threshold the cyclic collector rescans them over and over: about a quarter of a
    # plan's time. A higher one still collects cycles, in the long-running emulator too.
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
    try:
        try:
            return _dispatch(args, output)
        except KeyboardInterrupt:
            raise InterruptedByUser("interrupted (Ctrl-C)") from None
        except GpulabApplyError:
            raise
        except Exception as exc:  # a bug: a message, a crash report and exit 70, never a bare traceback
            raise _crashed(exc, args, output) from exc
    except GpulabApplyError as exc:
        # in the command's format on stdout (a Markdown plan that says it failed), and as a line on stderr
        output.fail(exc)
        output.error_lines(exc)
        return exc.exit_status


def _crashed(error: Exception, args: Sequence[str], output: Output) -> InternalError:
    """The error that reports a bug: where its crash report is (or why none could be written)."""
    # only after a bug: platform and traceback are not worth importing on every start
    from gpulab_apply.crash import write_crash_report
    from gpulab_apply.masking import mask_message

    what = f"unexpected error: {type(error).__name__}"
    try:
        path = write_crash_report(error, args, mask=lambda text: output.masked(mask_message(text)))
    except OSError as exc:
        return InternalError(f"{what} (no crash report: {exc.strerror or exc})",
                             hint="this is a bug in gpulab-apply: please report it with the command you ran")
    return InternalError(f"{what}; crash report written to {path}",
                         hint="this is a bug in gpulab-apply: please report it, attaching the crash report "
                              "(secrets in it are masked)")


def _dispatch(args: list[str], output: Output) -> int:
    """Run one command through click, ``output`` its context object; its usage errors exit 64 (2 means "changes
    present" here)."""
    # click's group and its global options: imported when a command line runs, not when this module is imported
    from gpulab_apply.cli.group import cli

    try:
        started_in = os.getcwd()
    except OSError:  # the working directory was removed: -C can still name one
        started_in = None
    try:
        result = cli.main(args=args, prog_name=PROG_NAME, standalone_mode=False, obj=output)
    except click.UsageError as exc:
        exc.show()
        return ExitStatus.USAGE
    except click.ClickException as exc:
        exc.show()
        return ExitStatus.ERROR
    except click.exceptions.Exit as exc:  # --help, --version
        return exc.exit_code
    except click.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):  # click turns Ctrl-C into Abort
            raise KeyboardInterrupt from None
        click.echo("Aborted.", err=True)  # a question answered "no", or end of input at a prompt
        return ExitStatus.ERROR
    finally:
        if started_in is not None and os.getcwd() != started_in:  # -C DIR changed it for this command only
            os.chdir(started_in)
    # Commands return an exit status; a command that returns nothing succeeded.
    return int(result) if result is not None else ExitStatus.OK


def main() -> None:
    """The console script: run, then leave by the normal exit path (atexit handlers run, logging flushes)."""
    status = run()
    # Everything is done: run() closed every file, joined every thread and stopped a --local emulator.
    # The interpreter's last act would be a full collection over whatever the cyclic collector still
    # tracks (a large plan leaves thousands of objects behind, the threshold being high): a tenth of a
    # second for nothing. gc.freeze() moves them all to the permanent generation, which that collection
    # skips; unlike os._exit, atexit handlers and logging.shutdown still run and stdout is flushed.
    gc.freeze()
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # `gpulab-apply ... | head -1`: the reader left; do not fail again at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = status or ExitStatus.ERROR
    sys.exit(status)


def __getattr__(name: str) -> Any:
    # ``from gpulab_apply.cli import cli``: the click group, imported only when asked for
    if name == "cli":
        from gpulab_apply.cli.group import cli  # imported when asked for: see _dispatch

        return cli
    raise AttributeError(name)


if TYPE_CHECKING:
    cli: click.Group
