"""The command line: a thin layer that turns options into calls and results into output.

Each command lives in its own module (``gpulab_apply.cli.<command>``) and is imported only when it
runs, so ``validate`` never pays for importing ``requests`` or ``deepdiff``. The top-level ``--help``
and ``--version`` import no command module and not even click: they are written from :data:`COMMANDS`,
a static table that a test keeps equal to the commands' own help; a plain ``validate`` command line
runs without click too (:mod:`gpulab_apply.cli.direct`). Every error this tool raises on purpose is
caught here, in :func:`run`, and nowhere else.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from gpulab_apply import __version__
from gpulab_apply.errors import ExitStatus, GpulabApplyError

if TYPE_CHECKING:
    import click

#: allocations between two young-generation collections (CPython's default is 700)
GC_THRESHOLD = 50_000
PROG_NAME = "gpulab-apply"
#: the variable click's completion protocol reads: _<PROG_NAME>_COMPLETE
COMPLETE_VAR = "_GPULAB_APPLY_COMPLETE"


class Command(NamedTuple):
    """One command: its name, the module defining it (as an attribute of the same name), its short help."""

    name: str
    module: str
    short_help: str


#: every command, in the order ``--help`` lists them; the short help must equal the command's own
#: (tests/test_cli.py checks it), and a new command is one line here
COMMANDS: tuple[Command, ...] = (
    Command("validate", "gpulab_apply.cli.validate", "Check job files against GPULab's rules, offline."),
    Command("plan", "gpulab_apply.cli.plan", "Show what apply would do, read-only."),
    Command("apply", "gpulab_apply.cli.apply", "Submit missing jobs, cancel removed ones, verify."),
    Command("status", "gpulab_apply.cli.status", "List the jobs of this set and their state."),
    Command("logs", "gpulab_apply.cli.logs", "Print a job's log; --follow until the job ends."),
    Command("wait", "gpulab_apply.cli.wait", "Wait until jobs run or end; exit 1 if one failed."),
    Command("whoami", "gpulab_apply.cli.whoami", "Show who the certificate says you are."),
    Command("render", "gpulab_apply.cli.render", "Print the jobs as they would be submitted."),
    Command("import", "gpulab_apply.cli.import_", "Write job files for jobs already on GPULab."),
    Command("schema", "gpulab_apply.cli.schema", "Print the JSON Schema of a job file."),
    Command("completion", "gpulab_apply.cli.completion", "Print the shell completion script."),
    Command("emulator", "gpulab_apply.cli.emulator", "Serve a local GPULab emulator until Ctrl-C."),
)
#: the top-level help's text; the group's docstring is this, so both ways of printing it agree
HELP = "Keep GPULab's jobs in line with a directory of job files (GitOps for GPU experiments)."
EPILOG = ("\b\nExample:\n  gpulab-apply validate jobs.d\n  gpulab-apply plan jobs.d\n"
          "  gpulab-apply apply jobs.d\n\nRun 'gpulab-apply COMMAND --help' for a command's options.")
_OPTIONS = (("--version", "Show the version and exit."), ("-h, --help", "Show this message and exit."))


def run(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit status; the one place where errors become messages."""
    args = list(sys.argv[1:] if argv is None else argv)
    fast = _fast_path(args)
    if fast is not None:
        return fast
    from gpulab_apply.cli import output

    # Commands build large, acyclic trees (parsed job files, job listings) that reference counting frees.
    # With the default threshold the cyclic collector rescans them over and over: about a quarter of a
    # plan's time. A higher one still collects cycles, in the long-running emulator too.
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
    output.reset()
    try:
        return _dispatch(args)
    except GpulabApplyError as exc:
        # in the command's format on stdout (a Markdown plan that says it failed), and as a line on stderr
        output.fail(exc)
        output.error_lines(exc)
        return exc.exit_status
    except KeyboardInterrupt:
        output.write("Interrupted.\n", err=True)
        return 130
    finally:
        output.reset()  # let go of what the command made (a plan of thousands of jobs) before the exit


def _dispatch(args: list[str]) -> int:
    """Run one command: plain ``validate`` directly, everything else through click."""
    if args[:1] == ["validate"] and not os.environ.get(COMPLETE_VAR):
        from gpulab_apply.cli import direct

        invocation = direct.parse_validate(args[1:])
        if invocation is not None:
            return direct.validate(*invocation)
    import click

    from gpulab_apply.cli.group import cli

    try:
        result = cli.main(args=args, prog_name=PROG_NAME, standalone_mode=False)
    except click.UsageError as exc:
        exc.show()
        return ExitStatus.USAGE
    except click.ClickException as exc:
        exc.show()
        return ExitStatus.ERROR
    except click.exceptions.Exit as exc:  # --help, --version
        return exc.exit_code
    except click.Abort:
        click.echo("Aborted.", err=True)
        return ExitStatus.ERROR
    # Commands return an exit status; a command that returns nothing succeeded.
    return int(result) if result is not None else ExitStatus.OK


def _fast_path(args: list[str]) -> int | None:
    """``gpulab-apply [--help|-h|--version]``: answered from the static table without importing click; the
    exit status, or None for everything else. No command at all is a usage error, with the help on stderr."""
    if os.environ.get(COMPLETE_VAR):  # shell completion asks with no arguments
        return None
    if args in (["--help"], ["-h"]):
        sys.stdout.write(top_level_help(help_width()))
    elif args == ["--version"]:
        sys.stdout.write(f"{PROG_NAME}, version {__version__}\n")
    elif not args:
        sys.stderr.write(top_level_help(help_width()))
        sys.stderr.flush()
        return ExitStatus.USAGE
    else:
        return None
    sys.stdout.flush()
    return ExitStatus.OK


def help_width() -> int:
    """The width click's help formatter uses: the terminal's (or ``COLUMNS``), at most 80, minus 2, at least 50."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns if sys.__stdout__ else 80
        except (AttributeError, ValueError, OSError):
            columns = 80
    return max(min(columns, 80) - 2, 50)


def top_level_help(width: int) -> str:
    """``gpulab-apply --help`` as click would format the group (a test compares the two)."""
    import textwrap

    def paragraph(text: str) -> str:
        return textwrap.fill(text, width, initial_indent="  ", subsequent_indent="  ") + "\n"

    def rows(items: Sequence[tuple[str, str]]) -> str:
        first = min(max(len(term) for term, _ in items), 30) + 2
        text = ""
        for term, description in items:
            lines = textwrap.wrap(description, max(width - first - 2, 10)) or [""]
            text += f"  {term}".ljust(first + 2) + lines[0] + "\n"
            text += "".join(" " * (first + 2) + line + "\n" for line in lines[1:])
        return text

    # click keeps a paragraph that starts with \b as written, and fills the others
    epilog = "\n".join("".join(f"  {line}\n" for line in block.removeprefix("\b\n").splitlines())
                       if block.startswith("\b\n") else paragraph(block) for block in EPILOG.split("\n\n"))
    return (f"Usage: {PROG_NAME} [OPTIONS] COMMAND [ARGS]...\n\n{paragraph(HELP)}\nOptions:\n{rows(_OPTIONS)}\n"
            f"Commands:\n{rows([(c.name, c.short_help) for c in COMMANDS])}\n{epilog}")


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
        from gpulab_apply.cli.group import cli

        return cli
    raise AttributeError(name)


if TYPE_CHECKING:
    cli: click.Group
