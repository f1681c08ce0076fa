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
from pathlib import Path

from gpulab_apply.cli import JOBS_DIR
from gpulab_apply.cli.output import emit, hide, start
from gpulab_apply.errors import ExitStatus
from gpulab_apply.reporters import AUTO, formats

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
    """Check the job files under ``paths`` (default: jobs.d), report in ``fmt``, return the exit status.

    From click, ``fmt`` is already resolved and the output started (``--format`` is eager); starting it again
    with the resolved name changes nothing."""
    from gpulab_apply.jobfiles.validation import validate_paths

    start("validate", fmt)
    paths = paths or (JOBS_DIR,)
    result = validate_paths(paths, strict=strict if strict is not None else _strict_setting(paths))
    hide(result.secrets)
    emit(result)
    return ExitStatus.OK if result.ok else ExitStatus.ERROR


def _strict_setting(paths: Sequence[str]) -> bool:
    """``strict`` from the environment or the config file: validate reads no other setting (it is offline)."""
    from gpulab_apply.configfile import find_config, read_config
    from gpulab_apply.setting_table import CONFIG_KEYS, SETTINGS_BY_NAME

    setting, config_setting = SETTINGS_BY_NAME["strict"], SETTINGS_BY_NAME["config"]
    assert setting.env is not None and setting.key is not None and config_setting.env is not None
    if os.environ.get(setting.env):
        return bool(setting.parse(os.environ[setting.env], setting.env))
    config = find_config(os.environ.get(config_setting.env) or None, [Path(p) for p in paths], Path.cwd())
    if config is None:
        return False
    value = read_config(config, CONFIG_KEYS).get(setting.name)
    return bool(setting.parse(value, str(config))) if value is not None else False
