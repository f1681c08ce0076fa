"""The results report: how the jobs of a set's applies ended (docs/results.md).

Per job its state, exit code, run time, GPU-hours used (:mod:`~gpulab_apply.reconcile.usage`) against those
requested (``gpus x maxDuration``, :mod:`~gpulab_apply.reconcile.cost`), the commit the apply that submitted it
applied (from the run id in its marker), and for a failed job the last lines of its log; per sweep a grid of its
members' states. Pure: what GPULab says about failed jobs (their event log and log) is read by the caller and
handed in as :class:`FailureDetails`.

GPULab's Job2 state has no exit-code field, so the exit code of a FAILED job is read from what GPULab wrote
about it: its event log (``GET jobs/{uuid}/debug``), else its log's last lines. A FINISHED job exited 0.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from gpulab_apply.reconcile.cost import request_hours
from gpulab_apply.reconcile.marker import RunCommit, parse_marker, run_commit
from gpulab_apply.reconcile.status import StatusRow
from gpulab_apply.reconcile.usage import run_span, used_hours

#: log lines a failed job shows
LOG_LINES = 20
#: failed jobs whose event log and log one report reads (the requests a report may cost; the rest are counted)
DETAILED_FAILURES = 20
#: the most columns a sweep's grid has; a sweep with more values on both of its axes is listed instead
GRID_COLUMNS = 12
#: how much of the end of a failed job's log a report reads: its last lines are in it unless they are very long
LOG_BYTES = 64 * 1024
#: how much of a log line a report keeps
LINE_CHARS = 300
_EXIT_CODE = re.compile(r"\bexit(?:ed)?(?: with)?(?: (?:code|status))+\s*[:=]?\s*\(?(-?\d{1,4})\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True, kw_only=True)
class FailureDetails:
    """What GPULab says about one failed job: its exit code (if it names one) and its log's last lines, as
    GPULab has them (reporters make them safe)."""

    exit_code: int | None
    log_tail: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class JobResult:
    """How one job ended (or where it is)."""

    name: str
    sweep: str | None
    matrix: tuple[tuple[str, str], ...]
    uuid: str | None
    #: GPULab's status name, or ``NOT SUBMITTED``
    status: str
    final: bool
    exit_code: int | None
    #: seconds its run lasted (to now while it runs); None when it never ran
    run_seconds: float | None
    used_hours: float
    #: ``gpus x maxDuration``, the most it may use; None when not submitted
    requested_hours: float | None
    commit: RunCommit | None
    run_id: str | None
    #: the log's last lines for a failed job whose log was read, else None
    log_tail: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepGrid:
    """A sweep's members' states: a grid by two matrix axes when its members have exactly two, else a list."""

    name: str
    members: tuple[JobResult, ...]
    #: (row axis, column axis), or None for a list
    axes: tuple[str, str] | None = None
    rows: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()

    def cell(self, row: str, column: str) -> tuple[JobResult, ...]:
        """The members at ``row`` x ``column`` (more than one when an ``include`` added a value twice)."""
        assert self.axes is not None
        return tuple(member for member in self.members
                     if dict(member.matrix).get(self.axes[0]) == row and dict(member.matrix).get(self.axes[1]) == column)


@dataclass(frozen=True, slots=True, kw_only=True)
class Results:
    jobs: tuple[JobResult, ...]
    sweeps: tuple[SweepGrid, ...]
    #: the commits that the applies of these jobs recorded, each with how many of the jobs it submitted
    commits: tuple[tuple[RunCommit, int], ...]
    #: jobs submitted by applies that recorded no commit (older versions, outside git)
    without_commit: int
    #: failed jobs whose log was not read (over :data:`DETAILED_FAILURES`)
    details_left_out: int

    @property
    def ended(self) -> bool:
        """Every job was submitted and is final: the report is the last word."""
        return bool(self.jobs) and all(job.final for job in self.jobs)

    def count(self, status: str) -> int:
        return sum(1 for job in self.jobs if job.status == status)

    @property
    def used_hours(self) -> float:
        return round(sum(job.used_hours for job in self.jobs), 2)

    @property
    def requested_hours(self) -> float:
        return round(sum(job.requested_hours or 0.0 for job in self.jobs), 2)

    def summary(self) -> str:
        """``All 4 jobs ended: 3 FINISHED, 1 FAILED. GPU-hours: 5.5 used of 40 requested.``"""
        total = len(self.jobs)
        if not total:
            return "No jobs."
        ended = sum(1 for job in self.jobs if job.final)
        counts: dict[str, int] = {}
        for job in self.jobs:
            counts[job.status] = counts.get(job.status, 0) + 1
        states = ", ".join(f"{count} {status}" for status, count in sorted(counts.items(), key=lambda i: (-i[1], i[0])))
        head = f"all {total} jobs ended" if self.ended else f"{ended} of {total} job{'' if total == 1 else 's'} ended"
        return (f"{head[0].upper()}{head[1:]}: {states}. GPU-hours: {self.used_hours:g} used of "
                f"{self.requested_hours:g} requested.")

    def submitted_by(self) -> str | None:
        """``Jobs submitted by merge abc1234.`` (several: each with its count); None when no apply recorded one."""
        if not self.commits:
            return None
        if len(self.commits) == 1 and not self.without_commit:
            return f"Jobs submitted by merge {self.commits[0][0]}."
        parts = [f"{commit} ({count})" for commit, count in self.commits]
        if self.without_commit:
            parts.append(f"no recorded commit ({self.without_commit})")
        return "Jobs submitted by merges " + ", ".join(parts) + "."


def failures_to_read(rows: Sequence[StatusRow]) -> tuple[str, ...]:
    """The uuids of the failed current runs whose event log and log a report reads (the first
    :data:`DETAILED_FAILURES`, in the rows' order)."""
    failed = [row.job.uuid for row in rows if row.current and row.job is not None and row.job.status.name == "FAILED"]
    return tuple(failed[:DETAILED_FAILURES])


def failure_details(events: Iterable[Mapping[str, object]], log: str, *, cut: bool = False) -> FailureDetails:
    """The exit code GPULab's event log names (the newest event that names one; else the log's last lines), and
    the log's last :data:`LOG_LINES` lines, each cut at :data:`LINE_CHARS` characters. ``cut``: ``log`` is the
    end of a longer log, so its first line is a part of one and left out."""
    lines = log.replace("\r\n", "\n").rstrip("\n").split("\n") if log.strip() else []
    if cut and len(lines) > 1:
        lines = lines[1:]
    tail = tuple(line if len(line) <= LINE_CHARS else line[:LINE_CHARS] + "…" for line in lines[-LOG_LINES:])
    messages = [str(event.get("msg") or "") for event in events if isinstance(event, Mapping)]
    return FailureDetails(exit_code=exit_code_in([*reversed(messages), *reversed(tail)]), log_tail=tail)


def exit_code_in(texts: Iterable[str]) -> int | None:
    """The exit code the first of ``texts`` that names one says (``exit code 3``, ``exited with status 137``)."""
    for text in texts:
        if found := _EXIT_CODE.search(text):
            return int(found[1])
    return None


def results_of(rows: Sequence[StatusRow], details: Mapping[str, FailureDetails], now: datetime) -> Results:
    """The results of the current runs in ``rows`` (and the desired jobs not submitted yet) as of ``now``."""
    jobs = tuple(_result(row, details.get(row.job.uuid) if row.job else None, now) for row in rows if row.current)
    commits: dict[RunCommit, int] = {}
    for job in jobs:
        if job.commit is not None:
            commits[job.commit] = commits.get(job.commit, 0) + 1
    failed = sum(1 for job in jobs if job.status == "FAILED")
    return Results(jobs=jobs, sweeps=_sweeps(jobs), commits=tuple(commits.items()),
                   without_commit=sum(1 for job in jobs if job.uuid is not None and job.commit is None),
                   details_left_out=max(0, failed - sum(1 for job in jobs if job.log_tail is not None)))


def _result(row: StatusRow, details: FailureDetails | None, now: datetime) -> JobResult:
    job = row.job
    if job is None:
        return JobResult(name=row.name, sweep=row.sweep, matrix=row.matrix, uuid=None, status="NOT SUBMITTED",
                         final=False, exit_code=None, run_seconds=None, used_hours=0.0, requested_hours=None,
                         commit=None, run_id=None)
    marker = parse_marker(job.description)
    span = run_span(job, now)
    status = job.status.name
    exit_code = 0 if status == "FINISHED" else details.exit_code if details else None
    return JobResult(
        name=row.name, sweep=row.sweep, matrix=row.matrix, uuid=job.uuid, status=status,
        final=not job.status.is_active, exit_code=exit_code,
        run_seconds=(span[1] - span[0]).total_seconds() if span else None,
        used_hours=round(used_hours(job, now), 2), requested_hours=round(request_hours(job.request)[0], 2),
        commit=run_commit(marker.run_id) if marker else None, run_id=marker.run_id if marker else None,
        log_tail=details.log_tail if details and status == "FAILED" else None,
    )


def _sweeps(jobs: Sequence[JobResult]) -> tuple[SweepGrid, ...]:
    by_sweep: dict[str, list[JobResult]] = {}
    for job in jobs:
        if job.sweep is not None:
            by_sweep.setdefault(job.sweep, []).append(job)
    return tuple(_grid(name, tuple(members)) for name, members in sorted(by_sweep.items()))


def _grid(name: str, members: tuple[JobResult, ...]) -> SweepGrid:
    axes = {tuple(key for key, _ in member.matrix) for member in members}
    if len(axes) != 1 or len(shared := next(iter(axes))) != 2:
        return SweepGrid(name=name, members=members)
    row_axis, column_axis = shared
    rows = tuple(dict.fromkeys(dict(member.matrix)[row_axis] for member in members))
    columns = tuple(dict.fromkeys(dict(member.matrix)[column_axis] for member in members))
    if len(columns) > GRID_COLUMNS:  # the longer axis goes down the rows: a comment is narrow
        row_axis, column_axis, rows, columns = column_axis, row_axis, columns, rows
    if len(columns) > GRID_COLUMNS:
        return SweepGrid(name=name, members=members)
    return SweepGrid(name=name, members=members, axes=(row_axis, column_axis), rows=rows, columns=columns)
