"""The click group: commands from the static table in ``gpulab_apply.cli``, each imported when used."""

from __future__ import annotations

import importlib

import click

from gpulab_apply import __version__
from gpulab_apply.cli import COMMANDS, EPILOG, HELP, PROG_NAME

_BY_NAME = {command.name: command for command in COMMANDS}


class LazyGroup(click.Group):
    """A group whose subcommands are imported when used, not when the program starts."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [command.name for command in COMMANDS]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = _BY_NAME.get(cmd_name)
        if entry is None:
            return None
        command = getattr(importlib.import_module(entry.module), entry.name)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from the static table, whole (click would cut short help at the column width)."""
        with formatter.section("Commands"):
            formatter.write_dl([(command.name, command.short_help) for command in COMMANDS])


@click.group(cls=LazyGroup, help=HELP, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name=PROG_NAME)
def cli() -> None:
    pass
