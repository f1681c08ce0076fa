"""The connection options every networked command shares, resolved into one ``Settings`` value.

Usage::

    @click.command()
    @click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
    @connection_options
    def plan(paths: tuple[Path, ...], *, settings: Settings) -> int:
        with open_client(settings) as client:
            ...

The job directories (for the config file and the default set name) are read from the command's
``paths`` parameter; name another with ``@connection_options(paths_param="dirs")``.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, overload

import click

from gpulab_apply.cli.output import is_terminal
from gpulab_apply.gpulab.api import API_VERSIONS
from gpulab_apply.settings import ENV_VARS, Settings, resolve_settings

F = TypeVar("F", bound=Callable[..., Any])

_OPTIONS: tuple[Callable[[F], F], ...] = (
    click.option("--endpoint", metavar="URL",
                 help=f"GPULab API root, or 'local' [env {ENV_VARS['endpoint']}; default: production v3.1]."),
    click.option("--api-version", type=click.Choice(API_VERSIONS),
                 help=f"API version for an endpoint without /vX.Y/ [env {ENV_VARS['api_version']}]."),
    click.option("--cert", metavar="PEM",
                 help=f"Login certificate: one PEM with certificate and key [env {ENV_VARS['cert']}]. "
                 f"Its password comes from {ENV_VARS['password']}, or a prompt on a terminal."),
    click.option("--ca-bundle", metavar="PEM",
                 help=f"Trust only these CAs for the server [env {ENV_VARS['ca_bundle']}]."),
    click.option("--project", metavar="NAME",
                 help=f"Project for jobs without owner.projectUrn [env {ENV_VARS['project']}]."),
    click.option("--set", "set_name", metavar="NAME",
                 help=f"Ownership set [env {ENV_VARS['set']}; default: the git repository's name]."),
    click.option("--local", is_flag=True, default=None,
                 help="Use the embedded GPULab emulator (state in .gpulab-apply/), no account needed."),
    click.option("--config", metavar="FILE",
                 help=f"Config file [env {ENV_VARS['config']}; default: gpulab-apply.yaml beside the job directory]."),
    click.option("--timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
                 help=f"Seconds to wait for each answer [env {ENV_VARS['timeout']}; default 30]."),
    click.option("-v", "--verbose", is_flag=True, default=None,
                 help="Show the settings and each request on stderr (never secrets)."),
)
#: option parameter name -> setting name in resolve_settings
_FLAG_NAMES = {
    "endpoint": "endpoint", "api_version": "api_version", "cert": "cert", "ca_bundle": "ca_bundle",
    "project": "project", "set_name": "set", "local": "local", "config": "config", "timeout": "timeout",
    "verbose": "verbose",
}


@overload
def connection_options(command: F) -> F: ...
@overload
def connection_options(*, paths_param: str = "paths") -> Callable[[F], F]: ...
def connection_options(command: F | None = None, *, paths_param: str = "paths") -> F | Callable[[F], F]:
    """Add the connection options to a click command and pass it ``settings: Settings`` instead."""

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            flags = {setting: kwargs.pop(option) for option, setting in _FLAG_NAMES.items()}
            settings = resolve_settings(
                flags=flags,
                env=os.environ,
                job_paths=_paths(kwargs.get(paths_param)),
                password_prompt=_prompt_for_password if is_terminal(sys.stdin) else None,
            )
            with _verbose_logging(settings):
                return function(*args, settings=settings, **kwargs)

        decorated: Any = wrapper
        for option in reversed(_OPTIONS):
            decorated = option(decorated)
        return decorated  # type: ignore[no-any-return]

    return decorate(command) if command is not None else decorate


def _paths(value: object) -> list[Path]:
    if value is None:
        return []
    if isinstance(value, str | Path):
        return [Path(value)]
    if isinstance(value, Iterable):
        return [Path(str(item)) for item in value]
    return []


def _prompt_for_password(path: Path) -> str:
    value: str = click.prompt(f"Password for the private key in {path}", hide_input=True, err=True,
                              default="", show_default=False)
    return value


@contextmanager
def _verbose_logging(settings: Settings) -> Iterator[None]:
    """With --verbose: the resolved settings (password as "(set)") and each request, on stderr."""
    if not settings.verbose:
        yield
        return
    for name, value, source in settings.describe():
        click.echo(f"gpulab-apply: {name + ':':<13} {value}  [{source}]", err=True)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("gpulab-apply: %(message)s"))
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
