"""The connection options every networked command shares, resolved into one ``Settings`` value.

Usage::

    @click.command()
    @click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
    @connection_options
    def plan(paths: tuple[Path, ...], *, settings: Settings) -> int:
        with open_client(settings) as client:
            ...

The workspace (docs/plan-apply.md#workspace: its job root, config file and default set) is found from the first of
the command's ``paths`` parameter, else from the working directory; name another parameter with
``@connection_options(paths_param="dirs")``, or say which of its values are paths in the workspace with
``workspace_paths``.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, overload

import click

from gpulab_apply.cli.output import Output, is_terminal, output_of
from gpulab_apply.masking import Secrets, mask_message, safe
from gpulab_apply.setting_table import SETTINGS, SETTINGS_BY_NAME, Setting
from gpulab_apply.settings import Settings, resolve_settings

F = TypeVar("F", bound=Callable[..., Any])


def _option(setting: Setting) -> Callable[[F], F]:
    """The click option of one row of the settings table; its help names the environment variable."""
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
    kind = click.Choice(setting.choices) if setting.choices else None
    return click.option(*declarations, type=kind, metavar=setting.metavar, help=help_text)


#: one click option per setting that has a flag, in the table's order
_OPTIONS: tuple[Callable[[F], F], ...] = tuple(_option(setting) for setting in SETTINGS if setting.flag)
#: the click parameters that are settings (the others belong to the command)
_SETTING_PARAMS = tuple(setting.name for setting in SETTINGS if setting.flag)


@overload
def connection_options(command: F) -> F: ...
@overload
def connection_options(*, paths_param: str = "paths",
                       workspace_paths: Callable[[list[Path]], list[Path]] | None = None) -> Callable[[F], F]: ...
def connection_options(command: F | None = None, *, paths_param: str = "paths",
                       workspace_paths: Callable[[list[Path]], list[Path]] | None = None) -> F | Callable[[F], F]:
    """Add the connection options to a click command and pass it ``settings: Settings`` instead."""

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            flags = {name: kwargs.pop(name) for name in _SETTING_PARAMS}
            settings = resolve_settings(
                flags=flags,
                env=os.environ,
                job_paths=(workspace_paths or _same)(_paths(kwargs.get(paths_param))),
                password_prompt=_prompt_for_password if is_terminal(sys.stdin) else None,
            )
            output = output_of(click.get_current_context())
            if is_terminal(sys.stderr) and not settings.verbose:  # --verbose logs each retry already
                settings = dataclasses.replace(settings, retry_notice=functools.partial(_show_retry, output))
            output.set_name = settings.set_name
            if settings.password:  # never shown, even where GPULab or a library quotes it
                output.hide(Secrets((settings.password,)))
            with _verbose_logging(settings, output):
                return function(*args, settings=settings, **kwargs)

        decorated: Any = wrapper
        for option in reversed(_OPTIONS):
            decorated = option(decorated)
        return decorated  # type: ignore[no-any-return]

    return decorate(command) if command is not None else decorate


def _same(paths: list[Path]) -> list[Path]:
    return paths


def _paths(value: object) -> list[Path]:
    if value is None:
        return []
    if isinstance(value, str | Path):
        return [Path(value)]
    if isinstance(value, Iterable):
        return [Path(str(item)) for item in value]
    return []


def _show_retry(output: Output, notice: str) -> None:
    click.echo(f"gpulab-apply: {safe(output.masked(mask_message(notice)))}…", err=True)


def _prompt_for_password(path: Path) -> str:
    value: str = click.prompt(f"Password for the private key in {path}", hide_input=True, err=True,
                              default="", show_default=False)
    return value


@contextmanager
def _verbose_logging(settings: Settings, output: Output) -> Iterator[None]:
    """With --verbose: the resolved settings (password as "(set)") and each request, on stderr."""
    if not settings.verbose:
        yield
        return
    for name, value, source in settings.describe():
        click.echo(f"gpulab-apply: {name + ':':<13} {value}  [{source}]", err=True)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_PrintableFormatter("gpulab-apply: %(message)s", output))
    # The in-process emulator of --local logs each request it serves; the client's lines say it already.
    handler.addFilter(lambda record: not record.name.startswith("gpulab_apply.emulator"))
    logger = logging.getLogger("gpulab_apply")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


class _PrintableFormatter(logging.Formatter):
    """Log lines as safe as every other output: secrets masked (a password in an endpoint URL, a server
    error quoting the environment), control characters escaped."""

    def __init__(self, fmt: str, output: Output) -> None:
        super().__init__(fmt)
        self.output = output

    def format(self, record: logging.LogRecord) -> str:
        return safe(self.output.masked(mask_message(super().format(record))))
