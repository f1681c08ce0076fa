"""Status reporters: an aligned table for people, versioned JSON for scripts (Markdown: ``markdown.py``).

Rows sort in the one natural order (:mod:`gpulab_apply.order`: ``sweep-2`` before ``sweep-10``, ``wd0.05`` before ``wd0.1``), ages read as people say them
("1 day ago"), and a queued job says why it waits, in GPULab's own words (``queuedExplanations``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

from gpulab_apply.masking import mask_message, safe, safe_log
from gpulab_apply.model import RemoteJob, format_timestamp
from gpulab_apply.order import natural_key
from gpulab_apply.reconcile.results import Results
from gpulab_apply.reconcile.status import StatusRow
from gpulab_apply.reconcile.usage import SetUsage, set_usage, used_hours
from gpulab_apply.reporters import envelope, location_document

_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))
#: the status formats that carry the results report (docs/results.md): the pull-request comment and scripts'
#: JSON; the text table stays one request (``logs NAME`` shows a failed job's log)
RESULTS_FORMATS = frozenset({"markdown", "json"})


@dataclass(frozen=True, kw_only=True)
class StatusReport:
    """The rows of one set, in natural name order, as of ``now``."""

    set_name: str
    rows: tuple[StatusRow, ...]
    now: datetime
    #: how the jobs ended (docs/results.md); made for the formats in :data:`RESULTS_FORMATS`
    results: Results | None = None

    @classmethod
    def of(cls, rows: Sequence[StatusRow], *, set_name: str, now: datetime) -> StatusReport:
        ordered = sorted(enumerate(rows), key=lambda item: (natural_key(item[1].name), item[0]))
        return cls(set_name=set_name, rows=tuple(row for _, row in ordered), now=now)

    def with_results(self, results: Results) -> StatusReport:
        return dataclasses.replace(self, results=results)


def ago(seconds: int | None) -> str:
    """``just now``, ``1 minute ago``, ``3 hours ago``, ``1 day ago``: the largest whole unit."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return "just now"
    for unit, size in _UNITS:
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'} ago"
    return "just now"


def queued_explanations(job: RemoteJob | None) -> list[str]:
    """Why GPULab has not started a QUEUED job yet (``state.scheduling.queuedExplanations``); empty otherwise."""
    if job is None or job.status.name != "QUEUED":
        return []
    scheduling = (job.raw.get("state") or {}).get("scheduling") or {}
    reasons = scheduling.get("queuedExplanations") if isinstance(scheduling, dict) else None
    return [str(reason) for reason in reasons if reason] if isinstance(reasons, list) else []


def cells(row: StatusRow, now: datetime) -> list[str]:
    """The columns of one row, for text and Markdown; control characters escaped."""
    job = row.job
    if row.source is None:
        source = "(not in the job files)"
    else:
        source = str(row.source) + (" (changed since submitted)" if row.in_sync is False else "")
    return [safe(cell) for cell in (
        row.name,
        status_text(row),
        ago(row.age_seconds),
        "-" if row.gpus is None else str(row.gpus),
        job.uuid if job else "-",
        source,
        "; ".join(queued_explanations(job)),
    )]


def status_text(row: StatusRow) -> str:
    """``RUNNING``; with ``status --all``, ``CANCELLED (duplicate)`` or ``FINISHED (history)`` for a job that
    is not its name's current run."""
    if row.job is None:
        return "(not submitted)"
    if row.duplicate:
        return f"{row.job.status.name} (duplicate)"
    return row.job.status.name + ("" if row.current else " (history)")


def counts_line(report: StatusReport) -> str:
    """``5 jobs: 2 RUNNING, 1 QUEUED, 2 not submitted.``"""
    counts: dict[str, int] = {}
    for row in report.rows:
        status = row.job.status.name if row.job else "not submitted"
        counts[status] = counts.get(status, 0) + 1
    total = len(report.rows)
    parts = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
    return f"{total} job{'' if total == 1 else 's'}" + (f": {parts}." if parts else ".")


def report_text(report: StatusReport, stream: TextIO, *, color: bool = False) -> None:
    """An aligned table; under a queued job, a line saying why it waits."""
    stream.write(f"Set: {safe(report.set_name)}\n")
    if not report.rows:
        stream.write("No managed jobs and no job files.\n")
        return
    table = [["NAME", "STATUS", "AGE", "GPUS", "JOB", "FILE", ""], *(cells(row, report.now) for row in report.rows)]
    widths = [max(len(line[i]) for line in table) for i in range(5)]
    for line in table:
        stream.write("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=False))
                     + "  " + line[5] + "\n")
        if line[6]:
            stream.write(f"  waiting: {line[6]}\n")
    stream.writelines(f"{line}\n" for line in sweep_lines(report.rows))
    stream.writelines(f"{safe(line)}\n" for line in usage_of_rows(report).lines())


def usage_of_rows(report: StatusReport) -> SetUsage:
    """GPU-hours the set's runs used (docs/capacity.md#usage-and-budgets)."""
    return set_usage(((row.job, row.sweep) for row in report.rows if row.job is not None), report.now)


def sweep_lines(rows: Sequence[StatusRow]) -> list[str]:
    """``sweep train: 6 jobs: 4 RUNNING, 2 QUEUED`` per sweep, after the table (docs/authoring.md)."""
    by_sweep: dict[str, dict[str, int]] = {}
    for row in rows:
        if row.sweep is not None:
            state = row.job.status.name if row.job else "NOT SUBMITTED"
            group = by_sweep.setdefault(row.sweep, {})
            group[state] = group.get(state, 0) + 1
    return [f"sweep {safe(name)}: {sum(group.values())} jobs: "
            + ", ".join(f"{count} {state}" for state, count in sorted(group.items(), key=lambda item: -item[1]))
            for name, group in sorted(by_sweep.items(), key=lambda item: natural_key(item[0]))]


def status_document(report: StatusReport) -> dict[str, Any]:
    return envelope("status", ok=True, body={
        "set": report.set_name,
        "now": format_timestamp(report.now),
        "jobs": [_job_document(row, report.now) for row in report.rows],
        "gpuHoursUsed": _usage_document(usage_of_rows(report)),
        "results": results_document(report.results) if report.results is not None else None,
    })


def results_document(results: Results) -> dict[str, Any]:
    """The results report as JSON (docs/results.md#json): the same figures as the Markdown comment."""
    return {
        "ended": results.ended,
        "summary": results.summary(),
        "submittedBy": results.submitted_by(),
        "gpuHoursUsed": results.used_hours,
        "gpuHoursRequested": results.requested_hours,
        "commits": [{"commit": commit.sha, "dirty": commit.dirty, "jobs": count} for commit, count in results.commits],
        "jobsWithoutCommit": results.without_commit,
        "failuresNotRead": results.details_left_out,
        "jobs": [{
            "name": job.name,
            "sweep": job.sweep,
            "matrix": dict(job.matrix) if job.matrix else None,
            "uuid": job.uuid,
            "status": job.status,
            "final": job.final,
            "exitCode": job.exit_code,
            "runSeconds": None if job.run_seconds is None else round(job.run_seconds),
            "gpuHoursUsed": job.used_hours,
            "gpuHoursRequested": job.requested_hours,
            "commit": job.commit.sha if job.commit else None,
            "dirty": job.commit.dirty if job.commit else None,
            "runId": job.run_id,
            "logTail": [mask_message(safe_log(line)) for line in job.log_tail] if job.log_tail is not None else None,
        } for job in results.jobs],
        "sweeps": [{
            "name": grid.name,
            "axes": list(grid.axes) if grid.axes else None,
            "rows": list(grid.rows) if grid.axes else None,
            "columns": list(grid.columns) if grid.axes else None,
            "members": {member.name: member.status for member in grid.members},
        } for grid in results.sweeps],
    }


def _usage_document(usage: SetUsage) -> dict[str, Any]:
    return {"total": usage.total, "thisWeek": usage.week, "thisMonth": usage.month, "sweeps": dict(usage.sweeps)}


def report_json(report: StatusReport, stream: TextIO, *, color: bool = False) -> None:
    json.dump(status_document(report), stream, indent=2)
    stream.write("\n")


def _job_document(row: StatusRow, now: datetime) -> dict[str, Any]:
    job = row.job
    return {
        "name": row.name,
        "sweep": row.sweep,
        "uuid": job.uuid if job else None,
        "status": job.status.name if job else None,
        "created": format_timestamp(job.created) if job and job.created else None,
        "ageSeconds": row.age_seconds,
        "gpus": row.gpus,
        "inSync": row.in_sync,
        "current": row.current,
        "duplicate": row.duplicate,
        "location": location_document(row.source),
        "queuedExplanations": queued_explanations(job),
        "gpuHoursUsed": round(used_hours(job, now), 2) if job else None,
    }
