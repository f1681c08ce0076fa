"""The click group: commands from the static table in ``gpulab_apply.cli``, each imported when used, and the global
options that go before the command (docs/commands.md#global-options).

``gpulab-apply -C repo -v --endpoint URL plan`` is ``gpulab-apply plan -v --endpoint URL`` run in ``repo``, as
``git -C`` and ``terraform -chdir`` do: the connection settings, ``--config`` and ``-v`` may be given on either
side of the command, and one given after the command wins. ``--strict`` stays with the commands that read job
files, where it means something.
"""

from __future__ import annotations

import importlib
import os
import shlex
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click

from gpulab_apply import __version__
from gpulab_apply.cli.table import COMMANDS, EPILOG, HELP, PROG_NAME
from gpulab_apply.setting_table import SETTINGS, SETTINGS_BY_NAME, Setting

F = TypeVar("F", bound=Callable[..., Any])

_BY_NAME = {command.name: command for command in COMMANDS}
#: the settings that may go before the command: all with a flag but ``--strict`` (a job-file setting)
GLOBAL_SETTINGS = tuple(setting.name for setting in SETTINGS if setting.flag and setting.name != "strict")
#: where the group keeps the global settings given, for the command to read (:func:`global_flags`)
_META_KEY = "gpulab_apply.global_flags"


def setting_option(setting: Setting) -> Callable[[F], F]:
    """The click option of one row of the settings table; its help names the environment variable. A path
    setting completes as a file in the shell."""
    assert setting.flag is not None
    notes = [f"env {setting.env}"] if setting.env else []
    if setting.default_help:
        notes.append(f"default: {setting.default_help}")
    help_text = setting.help + (f" [{'; '.join(notes)}]." if notes else "")
    if setting.name == "cert":
        password = SETTINGS_BY_NAME["password"].env
        help_text += f" Its password comes from {password}, or a prompt on a terminal."
    declarations = [*setting.flag.split("/"), setting.name]
    if setting.is_flag:
        return click.option(*declarations, is_flag=True, default=None, help=help_text)
    # values reach resolve_settings as given: the table's parser checks them, whichever source they come from
    kind: click.ParamType[Any] | None = click.Choice(setting.choices) if setting.choices else None
    if setting.is_path or setting.name == "config":
        # the shell completes a file name; the value stays text. A --config FILE that does not exist is a usage
        # error, as a PATH is (GPULAB_APPLY_CONFIG naming none is a configuration error, exit 1)
        kind = click.Path(dir_okay=False, exists=setting.name == "config")
    return click.option(*declarations, type=kind, metavar=setting.metavar, help=help_text)


def global_flags() -> Mapping[str, Any]:
    """The settings given before the command (setting name -> value), empty outside a command line."""
    context = click.get_current_context(silent=True)
    if context is None:
        return {}
    flags: Mapping[str, Any] = context.find_root().meta.get(_META_KEY, {})
    return flags


def verbose_option(function: F) -> F:
    """``-v/--verbose`` for a command without connection settings (validate, render): its log lines, such as
    each file skipped; given before the command (``gpulab-apply -v validate``) it counts too."""
    return click.option("-v", "--verbose", is_flag=True, default=None,
                        help="Say on stderr what is skipped and why (a file named _x.yaml or .x.yaml).")(function)


def is_verbose(flag: bool | None) -> bool:
    """``-v`` given after the command, else before it."""
    return bool(flag if flag is not None else global_flags().get("verbose"))


def config_given() -> str | None:
    """The config file a command without connection settings uses: ``--config`` before the command, else
    ``GPULAB_APPLY_CONFIG`` (else None: the workspace's own, docs/plan-apply.md#workspace)."""
    variable = SETTINGS_BY_NAME["config"].env
    return global_flags().get("config") or (os.environ.get(variable) if variable else None) or None


class JobPaths(click.Path):
    """Positional PATHS: a path named that does not exist is a usage error (exit 64, docs/commands.md#exit-codes).
    One that exists but cannot be read (a symlink loop) is left to the reader, which reports it at the path, in the
    command's format. With ``target_hint``, a word that looks like a job name gets how to select jobs by name
    instead (``status vit-small`` -> ``status --target vit-small``)."""

    def __init__(self, *, target_hint: bool = True) -> None:
        super().__init__(path_type=Path)
        self.target_hint = target_hint

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        path = super().convert(value, param, ctx)
        text = os.fsdecode(value) if isinstance(value, bytes | os.PathLike) else str(value)
        if not os.path.lexists(text):
            hint = ""
            if self.target_hint and "/" not in text and not text.endswith((".yaml", ".yml", ".json")):
                hint = f" To select jobs by name, give --target {shlex.quote(text)}."
            self.fail(f"Path '{text}' does not exist.{hint}", param, ctx)
        return path


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

    def resolve_command(self, ctx: click.Context,
                        args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        """A mistyped command gets the command it most likely meant (``plna`` -> ``plan``), as git does."""
        name = args[0] if args else ""
        if name and not name.startswith("-") and name not in _BY_NAME and not ctx.resilient_parsing:
            import difflib  # only for a mistyped command: never on a command line that works

            close = difflib.get_close_matches(name, list(_BY_NAME), n=1, cutoff=0.5)
            ctx.fail(f"No such command {name!r}." + (f" Did you mean {close[0]!r}?" if close else "")
                     + f" '{PROG_NAME} --help' lists the commands.")
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from the static table, whole (click would cut short help at the column width)."""
        with formatter.section("Commands"):
            formatter.write_dl([(command.name, command.short_help) for command in COMMANDS])


def _global_options(function: F) -> F:
    for name in reversed(GLOBAL_SETTINGS):
        function = setting_option(SETTINGS_BY_NAME[name])(function)
    return function


def _change_directory(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``-C DIR``: run as if started in DIR. The CLI's :func:`~gpulab_apply.cli.run` goes back afterwards."""
    if value is not None and not ctx.resilient_parsing:
        try:
            os.chdir(Path(value).expanduser())
        except OSError as exc:
            raise click.BadParameter(f"cannot change to {value!r}: {exc.strerror or exc}", ctx, param) from None
    return value


@click.group(cls=LazyGroup, help=HELP, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name=PROG_NAME)
@click.option("-C", "--chdir", "directory", metavar="DIR", type=click.Path(file_okay=False), is_eager=True,
              expose_value=True, callback=_change_directory,
              help="Run as if gpulab-apply was started in DIR (as git -C, terraform -chdir).")
@_global_options
@click.pass_context
def cli(ctx: click.Context, /, directory: str | None, **flags: Any) -> None:
    ctx.meta[_META_KEY] = {name: value for name, value in flags.items() if value is not None}
