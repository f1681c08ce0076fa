"""``gpulab-apply validate``: check job files against GPULab's rules, offline.

The command a pre-commit hook or an editor starts on every save, so its start-up counts
(docs/validate.md#start-up): this module and what it imports at the top must stay light. It reads no
network setting and imports neither ``requests`` nor ``jsonschema`` (jsonschema only explains an
invalid job; tests/test_validate_argv.py holds the line).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gpulab_apply.cli.group import JobPaths, config_given, is_verbose, verbose_option
from gpulab_apply.cli.output import emit, format_option, hide
from gpulab_apply.errors import ExitStatus

if TYPE_CHECKING:
    from gpulab_apply.workspace import Workspace


@click.command(short_help="Check job files against GPULab's rules, offline.",
               epilog="\b\nExample:\n  gpulab-apply validate\n  gpulab-apply validate jobs.d/train.yaml --format json")
# a PATH named that does not exist is a usage error (64); a missing default job root is a located problem (1)
@click.argument("paths", nargs=-1, type=JobPaths(target_hint=False))
@format_option("validate", "text for people, json for programs, github for workflow annotations, gitlab for a "
                           "Code Quality report.")
@click.option("--strict", is_flag=True, default=None,
              help="Forms GPULab accepts but that are not canonical (cpus: \"4\", interactive: yes) are errors, "
                   "not warnings. Also GPULAB_APPLY_STRICT or strict: true in gpulab-apply.yaml.")
@verbose_option
def validate(paths: tuple[Path, ...], fmt: str, strict: bool | None, verbose: bool | None) -> int:
    """Check job files (default: jobs.d) and report every problem with file:line:col. No network.

    Exits 0 when every job is valid (warnings allowed, unless --strict), 1 when there is an error.
    """
    from gpulab_apply.jobfiles.validation import validate_paths
    from gpulab_apply.workspace import find_workspace

    # the workspace (docs/plan-apply.md#workspace) as every command finds it: _defaults.yaml apply from the job
    # root down, whichever paths are given and wherever this runs
    workspace = find_workspace(paths, config=config_given())
    with job_file_lines(is_verbose(verbose)):
        result = validate_paths(workspace.select(paths).paths, job_root=workspace.job_root,
                                strict=strict if strict is not None else _strict_setting(workspace))
    hide(result.secrets)
    emit(result)
    return ExitStatus.OK if result.ok else ExitStatus.ERROR


def _strict_setting(workspace: Workspace) -> bool:
    """``strict`` from the environment or the config file, by the one precedence; validate reads no other
    setting (it is offline), so it resolves this one alone."""
    from gpulab_apply.setting_table import SETTINGS_BY_NAME, given_values

    raw, _ = given_values(flags={}, env=os.environ, config=lambda _: (workspace.config, workspace.config_values),
                          only=("strict",))
    if "strict" not in raw:
        return bool(SETTINGS_BY_NAME["strict"].default)
    value, source = raw["strict"]
    return bool(SETTINGS_BY_NAME["strict"].parse(value, source))


@contextmanager
def job_file_lines(verbose: bool) -> Iterator[None]:
    """With --verbose, the job files' log lines (each file skipped) on stderr; the logging it needs is imported
    only then (docs/validate.md#start-up)."""
    if not verbose:
        yield
        return
    from gpulab_apply.cli.options import verbose_lines

    with verbose_lines():
        yield
