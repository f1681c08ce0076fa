"""``validate`` for the command line: the job files checked, offline.

What a pre-commit hook or an editor starts on every save (docs/validate.md#start-up): this module imports nothing of
the network side nor of the other commands, and reads one setting (``strict``) by the one precedence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from gpulab_apply.jobfiles.validation import ValidationResult, validate_paths
from gpulab_apply.setting_table import SETTINGS_BY_NAME, given_values
from gpulab_apply.workspace import Workspace, find_workspace


def validate_jobs(paths: Sequence[str | Path], *, strict: bool | None, environ: Mapping[str, str],
                  config: str | None) -> ValidationResult:
    """The job files under ``paths`` checked, in the workspace (docs/plan-apply.md#workspace) every command finds:
    ``_defaults.yaml`` apply from the job root down, whichever paths are given and wherever this runs. ``config``:
    the config file named (``--config``, ``GPULAB_APPLY_CONFIG``), else the workspace's own."""
    workspace = find_workspace(paths, config=config)
    return validate_paths(workspace.select(paths).paths, job_root=workspace.job_root,
                          strict=strict if strict is not None else _strict_setting(workspace, environ))


def _strict_setting(workspace: Workspace, environ: Mapping[str, str]) -> bool:
    """``strict`` from the environment or the config file, by the one precedence; validate reads no other
    setting (it is offline), so it resolves this one alone."""
    raw, _ = given_values(flags={}, env=environ, config=lambda _: (workspace.config, workspace.config_values),
                          only=("strict",))
    if "strict" not in raw:
        return bool(SETTINGS_BY_NAME["strict"].default)
    value, source = raw["strict"]
    return bool(SETTINGS_BY_NAME["strict"].parse(value, source))
