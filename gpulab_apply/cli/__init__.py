"""The command line: a thin layer that turns options into calls and results into output.

Each command lives in its own module (``gpulab_apply.cli.<command>``) and is imported only when it
runs, so ``validate`` never pays for importing ``requests`` or ``deepdiff``. Every error this tool
raises on purpose is caught here, in :func:`run`, and nowhere else.
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
import os
import sys
from collections.abc import Sequence

import click

from gpulab_apply import __version__
from gpulab_apply.errors import ExitStatus, GpulabApplyError

#: allocations between two young-generation collections (CPython's default is 700)
GC_THRESHOLD = 50_000

#: command name -> "module:attribute"; the module is imported on first use
COMMANDS: dict[str, str] = {
    "validate": "gpulab_apply.cli.validate:validate",
    "plan": "gpulab_apply.cli.plan:plan",
    "apply": "gpulab_apply.cli.apply:apply",
    "status": "gpulab_apply.cli.status:status",
    "whoami": "gpulab_apply.cli.whoami:whoami",
    "emulator": "gpulab_apply.cli.emulator:emulator",
    "schema": "gpulab_apply.cli.schema:schema",
    "completion": "gpulab_apply.cli.completion:completion",
    "render": "gpulab_apply.cli.render:render",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported when used, not when the program starts."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name, target in COMMANDS.items() if _module_exists(target))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None or not _module_exists(target):
            return None
        module_name, attribute = target.split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command)
        return command


def _module_exists(target: str) -> bool:
    return importlib.util.find_spec(target.split(":")[0]) is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gpulab-apply")
def cli() -> None:
    """Keep GPULab's jobs in line with a directory of job files (GitOps for GPU experiments).

    \b
    validate  check job files, no network
    plan      show what apply would do
    apply     submit missing jobs, cancel removed ones
    status    the managed jobs and their state
    """


def run(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit status; the one place where errors become messages."""
    # Commands build large, acyclic trees (parsed job files, job listings) that reference counting frees.
    # With the default threshold the cyclic collector rescans them over and over: about a quarter of a
    # plan's time. A higher one still collects cycles, in the long-running emulator too.
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
    try:
        result = cli.main(args=list(argv) if argv is not None else None, prog_name="gpulab-apply",
                          standalone_mode=False)
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
    except GpulabApplyError as exc:
        click.secho(f"Error: {exc.message}", err=True, fg="red")
        if exc.hint:
            click.echo(f"Hint: {exc.hint}", err=True)
        return exc.exit_status
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    # Commands return an exit status; a command that returns nothing succeeded.
    return int(result) if result is not None else ExitStatus.OK


def main() -> None:
    status = run()
    # Everything is done: run() closed every file, joined every thread and stopped a --local emulator.
    # Freeing the heap object by object (parsed job files, listings of thousands of jobs) would only
    # delay the exit, by a tenth of a second in a large plan, so flush and leave.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
