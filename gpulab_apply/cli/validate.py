"""``gpulab-apply validate``: check job files against GPULab's rules, offline."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import click

from gpulab_apply.cli.output import emit, format_option
from gpulab_apply.errors import ExitStatus
from gpulab_apply.jobfiles.validation import validate_paths

DEFAULT_PATH = "jobs.d"


@click.command(short_help="Check job files against GPULab's rules, offline.",
               epilog="\b\nExample:\n  gpulab-apply validate\n  gpulab-apply validate jobs.d/train.yaml --format json")
# a missing path is a located problem (exit 1), whether it is the default jobs.d or one the user named
@click.argument("paths", nargs=-1, type=click.Path(file_okay=True, dir_okay=True))
@format_option("validate", "text for people, json for programs, github for workflow annotations.")
@click.option("--strict", is_flag=True, default=None,
              help="Forms GPULab accepts but that are not canonical (cpus: \"4\", interactive: yes) are errors, "
                   "not warnings. Also GPULAB_APPLY_STRICT or strict: true in gpulab-apply.yaml.")
def validate(paths: tuple[str, ...], fmt: str, strict: bool | None) -> int:
    """Check job files (default: jobs.d) and report every problem with file:line:col. No network.

    Exits 0 when every job is valid (warnings allowed, unless --strict), 1 when there is an error.
    """
    paths = paths or (DEFAULT_PATH,)
    result = validate_paths(paths, strict=strict if strict is not None else _strict_setting(paths))
    emit(result)
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
