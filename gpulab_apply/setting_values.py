"""How each setting's raw value (a flag, an environment variable, a YAML scalar) becomes its value.

The parsers of the settings table (:data:`gpulab_apply.setting_table.SETTINGS`): each takes the raw value and
where it came from, and returns the value or raises an error naming that source
(:func:`~gpulab_apply.errors.setting_error`: a usage error, exit 64, when the source is a flag).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from gpulab_apply.errors import setting_error
from gpulab_apply.gpulab.api import API_VERSIONS

if TYPE_CHECKING:
    from gpulab_apply.reconcile.usage import Budget

#: what a set name may be: it is written into every job's marker
SET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def text(value: object, source: str) -> str:
    return str(value)


def path_value(value: object, source: str) -> Path:
    return value if isinstance(value, Path) else Path(str(value)).expanduser()


def api_version(value: object, source: str) -> str:
    version = str(value).strip().lstrip("vV")
    if version not in API_VERSIONS:
        raise setting_error(source, f"{source}: API version {value!r} is not supported",
                          hint=f"Use one of {', '.join(API_VERSIONS)}.")
    return version


def project(value: object, source: str) -> str | None:
    return str(value).strip() or None


def set_name(value: object, source: str) -> str:
    name = str(value)
    if not SET_NAME.match(name):
        raise setting_error(source, f"{source}: invalid set name {name!r}",
            hint="A set name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit.",
        )
    return name


def positive(rule: str) -> Callable[[object, str], float]:
    """A parser of positive finite numbers; ``rule`` completes "SOURCE: ..., not VALUE" when one is not."""
    def parse(value: object, source: str) -> float:
        try:
            number = float(str(value))
        except ValueError:
            number = -1.0
        if not 0 < number < float("inf"):
            raise setting_error(source, f"{source}: {rule}, not {value!r}")
        return number
    return parse


def count(value: object, source: str) -> int:
    try:
        number = int(str(value))
    except ValueError:
        number = -1
    if number < 0:
        raise setting_error(source, f"{source}: retries must be a whole number >= 0, not {value!r}")
    return number


def gpu_hours(value: object, source: str) -> float:
    try:
        number = float(str(value))
    except ValueError:
        number = -1.0
    if not number >= 0:
        raise setting_error(source, f"{source}: max-gpu-hours must be a number of GPU-hours >= 0, not {value!r}")
    return number


def budget(value: object, source: str) -> Budget:
    """``{gpu-hours: 500, per: month}`` or ``500/month`` (docs/capacity.md#usage-and-budgets)."""
    from gpulab_apply.reconcile.usage import budget_value  # validate reads the settings table, never a budget

    return budget_value(value, source)


def active_cap(value: object, source: str) -> int:
    """The set's cap of queued and running jobs (docs/workflows.md#sweep-throttling)."""
    try:
        number = int(str(value))
    except ValueError:
        number = 0
    if number < 1:
        raise setting_error(source, f"{source}: max-active must be a whole number of jobs >= 1, not {value!r}")
    return number


def switch(value: object, source: str) -> bool:
    return bool(value)


_YES, _NO = frozenset({"1", "true", "yes", "on"}), frozenset({"0", "false", "no", "off", ""})


def boolean(value: object, source: str) -> bool:
    """A yes/no setting from a flag, a YAML boolean or the text of an environment variable."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in _YES | _NO:
        return word in _YES
    raise setting_error(source, f"{source}: {value!r} is not true or false")
