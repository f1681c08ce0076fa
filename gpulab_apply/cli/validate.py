"""``gpulab-apply validate``: check job files against GPULab's rules, offline."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import click

from gpulab_apply.cli.output import render
from gpulab_apply.errors import ExitStatus
from gpulab_apply.jobfiles.validation import validate_paths
from gpulab_apply.reporters.problems import REPORTERS

DEFAULT_PATH = "jobs.d"


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, file_okay=True, dir_okay=True))
@click.option("--format", "output_format", type=click.Choice(list(REPORTERS)), default="text", show_default=True,
              help="text for people, json for programs, github for workflow annotations.")
@click.option("--strict", is_flag=True, default=None,
              help="Forms GPULab accepts but that are not canonical (cpus: \"4\", interactive: yes) are errors, "
                   "not warnings. Also GPULAB_APPLY_STRICT or strict: true in gpulab-apply.yaml.")
def validate(paths: tuple[str, ...], output_format: str, strict: bool | None) -> int:
    """Check job files (default: jobs.d) and report every problem with file:line:col. No network.

    Exits 0 when every job is valid (warnings allowed, unless --strict), 1 when there is an error.
    """
    paths = paths or (DEFAULT_PATH,)
    result = validate_paths(paths, strict=strict if strict is not None else _strict_setting(paths))
    render(lambda stream, color: REPORTERS[output_format](result, stream))
    return ExitStatus.OK if result.ok else ExitStatus.ERROR


def _strict_setting(paths: Sequence[str]) -> bool:
    """``strict`` from the environment or the config file: validate reads no other setting (it is offline)."""
    from gpulab_apply.configfile import find_config, read_config
    from gpulab_apply.settings import CONFIG_KEYS, SETTINGS_BY_NAME

    setting = SETTINGS_BY_NAME["strict"]
    assert setting.env is not None and setting.key is not None
    if os.environ.get(setting.env):
        return bool(setting.parse(os.environ[setting.env], setting.env))
    config = find_config(os.environ.get("GPULAB_APPLY_CONFIG") or None, [Path(p) for p in paths], Path.cwd())
    if config is None:
        return False
    value = read_config(config, CONFIG_KEYS).get(setting.name)
    return bool(setting.parse(value, str(config))) if value is not None else False
