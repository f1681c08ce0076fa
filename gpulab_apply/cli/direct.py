"""``validate`` run without click: the command a pre-commit hook or an editor starts on every save.

Importing click costs a fifth of validate's start-up, so :func:`gpulab_apply.cli.run` hands a plain
``gpulab-apply validate [--format F] [--strict] [PATHS]...`` to :func:`parse_validate` and
:func:`validate` here. Anything else on that command line (``--help``, an unknown option, a bad
``--format``) returns None from the parser and goes through click, which owns every usage message.
The click command in :mod:`gpulab_apply.cli.validate` declares the same options and runs the same
:func:`validate`; tests/test_cli_direct.py keeps the two equal.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from gpulab_apply.cli.output import emit, start
from gpulab_apply.errors import ExitStatus
from gpulab_apply.reporters import AUTO, formats
from gpulab_apply.setting_table import SETTINGS_BY_NAME

if TYPE_CHECKING:
    from gpulab_apply.workspace import Workspace

#: the options parse_validate reads: every option validate's click command declares (a test keeps them equal,
#: so a new option fails that test until the parser knows it)
OPTIONS = frozenset({"--strict", "--format"})


def parse_validate(args: Sequence[str]) -> tuple[tuple[str, ...], str, bool | None] | None:
    """``(paths, format, strict)`` from validate's arguments, as click would read them; None for anything
    but paths, ``--strict``, ``--format F`` / ``--format=F`` with a known F, and ``--``."""
    paths: list[str] = []
    fmt, strict = AUTO, None
    tokens = iter(args)
    for token in tokens:
        if token == "--":
            paths.extend(tokens)
        elif token == "--strict":
            strict = True
        elif token.startswith("--format"):
            name, equals, value = token.partition("=")
            if not equals:
                value = next(tokens, "")
            if name != "--format" or value not in formats("validate"):
                return None
            fmt = value
        elif token.startswith("-"):  # -h, --help, an unknown option or a lone "-": click's to answer
            return None
        else:
            paths.append(token)
    return tuple(paths), fmt, strict


def validate(paths: tuple[str, ...], fmt: str, strict: bool | None) -> int:
    """Check the job files under ``paths`` (default: the job root, jobs.d), report in ``fmt``, return the exit
    status. The workspace (docs/plan-apply.md#workspace) is found as every command finds it: ``_defaults.yaml``
    apply from the job root down, whichever paths are given and wherever this runs.

    From click, ``fmt`` is already resolved and the output started (``--format`` is eager); starting it again
    with the resolved name changes nothing."""
    from gpulab_apply.jobfiles.validation import validate_paths
    from gpulab_apply.workspace import find_workspace

    start("validate", fmt)
    config_setting = SETTINGS_BY_NAME["config"]
    assert config_setting.env is not None
    workspace = find_workspace(paths, config=os.environ.get(config_setting.env) or None)
    result = validate_paths(workspace.select(paths).paths, job_root=workspace.job_root,
                            strict=strict if strict is not None else _strict_setting(workspace))
    emit(result)
    return ExitStatus.OK if result.ok else ExitStatus.ERROR


def _strict_setting(workspace: Workspace) -> bool:
    """``strict`` from the environment or the config file: validate reads no other setting (it is offline)."""
    setting = SETTINGS_BY_NAME["strict"]
    assert setting.env is not None
    if os.environ.get(setting.env):
        return bool(setting.parse(os.environ[setting.env], setting.env))
    value = workspace.config_values.get(setting.name)
    return bool(setting.parse(value, str(workspace.config))) if value is not None else False
