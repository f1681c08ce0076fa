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

from gpulab_apply.cli.group import global_flags, setting_option
from gpulab_apply.cli.output import Output, is_terminal, output_of
from gpulab_apply.masking import Secrets, mask_message, safe
from gpulab_apply.setting_table import SETTINGS
from gpulab_apply.settings import Settings, resolve_settings

F = TypeVar("F", bound=Callable[..., Any])


#: the settings with a flag, in the table's order: each is a click option of every networked command
_FLAGGED = tuple(setting for setting in SETTINGS if setting.flag)
#: the settings that mean something only to a command that reads job files for what it sends or checks
_JOB_FILE_SETTINGS = frozenset({"strict"})


@overload
def connection_options(command: F) -> F: ...
@overload
def connection_options(*, paths_param: str = "paths", job_files: bool = True,
                       workspace_paths: Callable[[list[Path]], list[Path]] | None = None) -> Callable[[F], F]: ...
def connection_options(command: F | None = None, *, paths_param: str = "paths", job_files: bool = True,
                       workspace_paths: Callable[[list[Path]], list[Path]] | None = None) -> F | Callable[[F], F]:
    """Add the connection options to a click command and pass it ``settings: Settings`` instead. Settings given
    before the command (``gpulab-apply -v plan``) count as if given after it, unless given there too.
    ``job_files=False``: the command checks no job files, so it offers no ``--strict`` (docs/commands.md)."""
    offered = tuple(setting for setting in _FLAGGED if job_files or setting.name not in _JOB_FILE_SETTINGS)

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            flags = {setting.name: kwargs.pop(setting.name) for setting in offered}
            for name, value in global_flags().items():
                if flags.get(name) is None:
                    flags[name] = value
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
        for setting in reversed(offered):
            decorated = setting_option(setting)(decorated)
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
    with verbose_lines(output):
        yield


@contextmanager
def verbose_lines(output: Output, enabled: bool = True) -> Iterator[None]:
    """This tool's log lines (each request, each file skipped) on stderr while the command runs, when ``enabled``."""
    if not enabled:
        yield
        return
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


#: the one spelling of the job directory where a command's arguments are job names (docs/commands.md#job-directory)
JOBS_FLAG = "--jobs"


def job_directory_option(*, help: str, multiple: bool = True, exists: bool = False, file_okay: bool = True,
                         deprecated: tuple[str, ...] = ()) -> Callable[[F], F]:
    """``--jobs PATH``: the job directory of a command whose arguments are job names (render, logs, wait) or that
    writes job files (import), passed as ``paths`` (a tuple; with ``multiple=False``, one path or None).
    Commands whose main input is job files take them as positional PATHS instead, as validators and
    ``terraform``/``kubectl -f`` users expect.

    ``deprecated``: earlier spellings (``-p``, ``--path``, ``--dir``), kept working but hidden, with a warning on
    stderr, so scripts do not break (docs/commands.md#deprecated-spellings)."""
    kind = click.Path(path_type=Path, exists=exists, file_okay=file_okay)
    metavar = "PATH" if file_okay else "DIR"

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            old = kwargs.pop("deprecated_paths", None)
            if old:
                click.echo(f"gpulab-apply: {'/'.join(deprecated)} is deprecated; use {JOBS_FLAG} {metavar} "
                           "(docs/commands.md#job-directory)", err=True)
                if multiple:
                    kwargs["paths"] = (*old, *kwargs["paths"])
                elif kwargs["paths"] is None:
                    kwargs["paths"] = old
            return function(*args, **kwargs)

        decorated: Any = click.option(JOBS_FLAG, "paths", multiple=multiple, type=kind, metavar=metavar,
                                      help=help)(wrapper)
        if deprecated:
            decorated = click.option(*deprecated, "deprecated_paths", multiple=multiple, type=kind, hidden=True)(
                decorated)
        return decorated  # type: ignore[no-any-return]

    return decorate

