"""GPULab's rules that a JSON Schema cannot express, checked on one job document.

These mirror the checks GPULab's own job model makes after its field types: the order of
``notBefore``/``notAfter``, ``interactive`` without them, ``maxDuration`` of at least a minute, and
``minDuration`` not above ``maxDuration``. Each check looks only at values of the right type, so a
document with schema violations still gets every other problem reported.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from gpulab_apply.jobfiles.schema import Violation, job_file_schema
from gpulab_apply.model import parse_timestamp

#: GPULab stops a job with a shorter maximum at once; its job model rejects it
MIN_MAX_DURATION_SECONDS = 60

_DURATION = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+) *([a-zA-Z]+)")
_UNIT_SECONDS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hour", "hours"), 3600),
    **dict.fromkeys(("day", "days"), 86400),
    **dict.fromkeys(("week", "weeks"), 604800),
}

_SCHEDULING = ("request", "scheduling")


@functools.cache
def _timestamp_shape() -> re.Pattern[str]:
    # the schema's own pattern, so the two never disagree on what a timestamp looks like
    return re.compile(job_file_schema()["$defs"]["timestamp"]["pattern"])


def parse_duration(text: str) -> float | None:
    """Seconds in a GPULab duration (``"3 days"``, ``"0.5 hour"``, ``"90s"``), or None if GPULab would refuse it."""
    match = _DURATION.fullmatch(text)
    if match is None:
        return None
    factor = _UNIT_SECONDS.get(match.group(2).lower())
    return None if factor is None else float(match.group(1)) * factor


def job_violations(job: Any) -> Iterator[Violation]:
    """Every cross-field rule the job document breaks."""
    request = job.get("request") if isinstance(job, Mapping) else None
    scheduling = request.get("scheduling") if isinstance(request, Mapping) else None
    if not isinstance(scheduling, Mapping):
        return
    yield from _time_window(scheduling)
    yield from _durations(scheduling)


def _time_window(scheduling: Mapping[str, Any]) -> Iterator[Violation]:
    times: dict[str, datetime] = {}
    for key in ("notBefore", "notAfter"):
        value = scheduling.get(key)
        if not isinstance(value, str):
            continue
        if scheduling.get("interactive") is True:
            yield Violation((*_SCHEDULING, key), "cannot be combined with interactive: true (an interactive job "
                                                 "starts at once or fails)")
        if not _timestamp_shape().search(value):
            continue  # the schema reports it
        parsed = parse_timestamp(value.upper())
        if parsed is None:
            # the right shape, but a time that does not exist, like month 13
            yield Violation((*_SCHEDULING, key), f"{value!r} is not a valid date and time")
        else:
            times[key] = parsed
    if len(times) == 2 and times["notAfter"] <= times["notBefore"]:
        yield Violation((*_SCHEDULING, "notAfter"),
                        f"must be after notBefore ({scheduling['notBefore']}), not {scheduling['notAfter']}")


def _durations(scheduling: Mapping[str, Any]) -> Iterator[Violation]:
    seconds: dict[str, float] = {}
    for key in ("minDuration", "maxDuration"):
        value = scheduling.get(key)
        parsed = parse_duration(value) if isinstance(value, str) else None
        if parsed is not None:
            seconds[key] = parsed
    maximum = seconds.get("maxDuration")
    if maximum is not None and maximum < MIN_MAX_DURATION_SECONDS:
        yield Violation((*_SCHEDULING, "maxDuration"),
                        f"must be at least 1 minute, not {scheduling['maxDuration']!r}")
    minimum = seconds.get("minDuration")
    if minimum is not None and maximum is not None and minimum > maximum:
        yield Violation((*_SCHEDULING, "minDuration"),
                        f"{scheduling['minDuration']!r} is longer than maxDuration {scheduling['maxDuration']!r}")
