"""What a plan costs in GPU-hours (docs/plan-apply.md#cost): requested by the jobs it submits, and the work
already done by running jobs it cancels, which is lost.

Requested: per submitted job ``gpus x maxDuration`` — the most it may use, since GPULab stops a job at its
``maxDuration`` — with GPULab's default maxDuration (2 weeks) when the file sets none. Lost: per cancelled job
that is running, ``gpus x`` the time since it started (``eventTimes.STARTING``, else ``RUNNING``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gpulab_apply.gpulab.api import DEFAULT_MAX_DURATION
from gpulab_apply.jobmodel.durations import parse_duration
from gpulab_apply.model import JobSpec, RemoteJob, parse_timestamp

_HOUR = 3600.0


@dataclass(frozen=True)
class GpuHours:
    """The plan's cost. ``defaulted``: how many submitted jobs were counted with GPULab's default maxDuration."""

    requested: float = 0.0
    lost: float = 0.0
    defaulted: int = 0


def requested_hours(spec: JobSpec) -> tuple[float, bool]:
    """``gpus x maxDuration`` in GPU-hours for one desired job, and whether the default maxDuration was used."""
    return request_hours(_mapping(spec.job.get("request")))


def request_hours(request: Mapping[str, Any]) -> tuple[float, bool]:
    """``gpus x maxDuration`` of a Job2 ``request`` (a desired job's, or one GPULab lists), and whether the
    default maxDuration was used."""
    gpus = _gpus(_mapping(request.get("resources")).get("gpus"))
    written = _mapping(request.get("scheduling")).get("maxDuration")
    seconds = parse_duration(written) if isinstance(written, str) else None
    by_default = seconds is None
    if seconds is None:
        seconds = parse_duration(DEFAULT_MAX_DURATION) or 0.0
    return gpus * seconds / _HOUR, by_default


def lost_hours(job: RemoteJob, now: datetime | None) -> float:
    """GPU-hours of work a running job has done so far (0 when it is not running or ``now`` is unknown)."""
    times = _mapping(job.raw.get("state")).get("eventTimes")
    started = parse_timestamp(_mapping(times).get("STARTING")) or parse_timestamp(_mapping(times).get("RUNNING"))
    if now is None or started is None:
        return 0.0
    return _gpus(_mapping(job.request.get("resources")).get("gpus")) * max(0.0, (now - started).total_seconds()) / _HOUR


def plan_cost(submitted: Iterable[JobSpec], cancelled_running: Iterable[RemoteJob], now: datetime | None) -> GpuHours:
    """The cost of submitting ``submitted`` and cancelling ``cancelled_running``."""
    requested, defaulted = 0.0, 0
    for spec in submitted:
        hours, by_default = requested_hours(spec)
        requested += hours
        defaulted += by_default
    lost = sum(lost_hours(job, now) for job in cancelled_running)
    return GpuHours(requested=round(requested, 2), lost=round(lost, 2), defaulted=defaulted)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _gpus(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
