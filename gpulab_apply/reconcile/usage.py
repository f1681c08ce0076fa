"""GPU-hours *used* by a set's runs, and the budget they count against (docs/capacity.md#usage-and-budgets).

A run uses ``gpus x`` the time it ran: from its ``eventTimes.RUNNING`` (else ``STARTING``) to when its work
stopped (``MUSTHALT``, ``FINISHED``, ``FAILED``, ``CANCELLED`` or ``HALTED``, the earliest after the start),
or to GPULab's ``now`` while it still runs. A period is the calendar month or ISO week (Monday) in UTC on
GPULab's clock; a run that began before the period counts only its time inside it. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from gpulab_apply.errors import ConfigError
from gpulab_apply.model import RemoteJob, parse_timestamp

_HOUR = 3600.0
#: event times at which a run's work stops
_STOPS = ("MUSTHALT", "CANCELLING", "FINISHED", "FAILED", "CANCELLED", "HALTED")


class Period(StrEnum):
    WEEK = "week"
    MONTH = "month"

    def start(self, now: datetime) -> datetime:
        """The first moment of the period that holds ``now`` (UTC)."""
        day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        if self is Period.MONTH:
            return day.replace(day=1)
        return day - timedelta(days=day.weekday())


@dataclass(frozen=True, slots=True)
class Budget:
    """``budget: {gpu-hours: 500, per: month}`` in gpulab-apply.yaml."""

    gpu_hours: float
    per: Period

    def __str__(self) -> str:
        return f"{self.gpu_hours:g} GPU-hours per {self.per.value}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Usage:
    """GPU-hours the set's runs used this period, and the budget they count against (if any)."""

    period: Period
    since: datetime
    used: float
    budget: Budget | None = None

    @property
    def left(self) -> float | None:
        return None if self.budget is None else round(max(self.budget.gpu_hours - self.used, 0.0), 2)

    def line(self) -> str:
        """``used this month: 212 of 500 GPU-hours`` (without a budget: ``used this month: 212 GPU-hours``)."""
        used = f"used this {self.period.value}: {self.used:g}"
        return f"{used} of {self.budget.gpu_hours:g} GPU-hours" if self.budget else f"{used} GPU-hours"


def run_span(job: RemoteJob, now: datetime) -> tuple[datetime, datetime] | None:
    """When the job's run began and when its work stopped (``now`` while it runs); None if it never ran."""
    times = _mapping(_mapping(job.raw.get("state")).get("eventTimes"))
    start = parse_timestamp(times.get("RUNNING")) or parse_timestamp(times.get("STARTING"))
    if start is None:
        return None
    stops = [stop for key in _STOPS if (stop := parse_timestamp(times.get(key))) is not None and stop >= start]
    if stops:
        return start, min(stops)
    return (start, max(start, now)) if job.status.is_active else None


def used_hours(job: RemoteJob, now: datetime, *, since: datetime | None = None) -> float:
    """GPU-hours the job's run used (only after ``since``, when given), up to ``now``."""
    span = run_span(job, now)
    if span is None:
        return 0.0
    start, end = span
    if since is not None:
        start = max(start, since)
    return _gpus(job) * max(0.0, (min(end, now) - start).total_seconds()) / _HOUR


def usage_of(jobs: Iterable[RemoteJob], *, now: datetime, budget: Budget | None,
             period: Period = Period.MONTH) -> Usage:
    """The usage of ``jobs`` (the set's runs) in the budget's period (else ``period``) up to ``now``."""
    per = budget.per if budget is not None else period
    since = per.start(now)
    used = sum(used_hours(job, now, since=since) for job in jobs)
    return Usage(period=per, since=since, used=round(used, 2), budget=budget)


def budget_value(value: object, source: str) -> Budget:
    """A budget from the config file (``{gpu-hours: 500, per: month}``) or text (``500/month``)."""
    hint = "write it as `budget: {gpu-hours: 500, per: month}` (per: week or month), or GPULAB_APPLY_BUDGET=500/month"
    if isinstance(value, Mapping):
        unknown = sorted(set(map(str, value)) - {"gpu-hours", "per"})
        if unknown:
            raise ConfigError(f"{source}: budget has unknown key(s) {', '.join(unknown)}", hint=hint)
        hours, per = value.get("gpu-hours"), value.get("per", Period.MONTH.value)
    elif isinstance(value, str) and "/" in value:
        hours, per = (part.strip() for part in value.split("/", 1))
    else:
        raise ConfigError(f"{source}: budget must give gpu-hours and per, not {value!r}", hint=hint)
    try:
        number = float(str(hours))
    except ValueError:
        number = -1.0
    if isinstance(hours, bool) or not number >= 0:
        raise ConfigError(f"{source}: budget gpu-hours must be a number >= 0, not {hours!r}", hint=hint)
    if str(per).strip().lower() not in {p.value for p in Period}:
        raise ConfigError(f"{source}: budget per must be week or month, not {per!r}", hint=hint)
    return Budget(gpu_hours=number, per=Period(str(per).strip().lower()))


def _gpus(job: RemoteJob) -> int:
    value = _mapping(job.request.get("resources")).get("gpus")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True, slots=True, kw_only=True)
class SetUsage:
    """GPU-hours used by a set's runs: in all, this week, this month, and per sweep (in all)."""

    total: float
    week: float
    month: float
    sweeps: Mapping[str, float]

    def lines(self) -> list[str]:
        """``GPU-hours used: 12.5 in all, 2 this week, 10 this month.`` then ``sweep train: 8 GPU-hours used``;
        nothing when the runs used nothing yet."""
        if not self.total:
            return []
        head = (f"GPU-hours used: {self.total:g} in all, {self.week:g} this week, {self.month:g} this month.")
        return [head, *(f"sweep {name}: {hours:g} GPU-hours used" for name, hours in self.sweeps.items())]


def set_usage(runs: Iterable[tuple[RemoteJob, str | None]], now: datetime) -> SetUsage:
    """The usage of ``runs`` (each job with its sweep, or None) up to ``now``."""
    week, month = Period.WEEK.start(now), Period.MONTH.start(now)
    total = in_week = in_month = 0.0
    sweeps: dict[str, float] = {}
    for job, sweep in runs:
        hours = used_hours(job, now)
        total += hours
        in_week += used_hours(job, now, since=week)
        in_month += used_hours(job, now, since=month)
        if sweep is not None:
            sweeps[sweep] = sweeps.get(sweep, 0.0) + hours
    return SetUsage(total=round(total, 2), week=round(in_week, 2), month=round(in_month, 2),
                    sweeps={name: round(hours, 2) for name, hours in sorted(sweeps.items())})
