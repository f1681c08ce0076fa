"""GPULab's duration strings (``"3 days"``, ``"0.5 hour"``, ``"90s"``): the one grammar of a length of time.

Job files, the emulator, the cost estimate and the command line's ``--wait-timeout`` all read durations
with :func:`parse_duration`; only the command line also takes a bare number of seconds (``bare_seconds``).
"""

from __future__ import annotations

import re
from typing import Any

#: GPULab stops a job with a shorter maximum at once; its job model rejects it
MIN_MAX_DURATION_SECONDS = 60

_DURATION = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+) *([a-zA-Z]*)")
_UNIT_SECONDS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hour", "hours"), 3600),
    **dict.fromkeys(("day", "days"), 86400),
    **dict.fromkeys(("week", "weeks"), 604800),
}


def parse_duration(text: str, *, bare_seconds: bool = False) -> float | None:
    """Seconds in a GPULab duration (``"3 days"``, ``"0.5 hour"``, ``"90s"``), or None if GPULab would refuse it.

    ``bare_seconds``: a number without a unit is seconds (GPULab itself wants the unit).
    """
    match = _DURATION.fullmatch(text)
    if match is None:
        return None
    unit = match.group(2).lower()
    factor = 1 if bare_seconds and not unit else _UNIT_SECONDS.get(unit)
    return None if factor is None else float(match.group(1)) * factor


def stored_duration(value: Any) -> Any:
    """The duration text GPULab's model keeps: its check is Python's ``re.match(...$)``, which also matches before
    one final newline, so ``"2 hours\\n"`` is accepted and kept as ``"2 hours"``. Anything else is kept as it is."""
    return value[:-1] if isinstance(value, str) and value.endswith("\n") and not value.endswith("\n\n") else value
