"""Apply reporters: one line per job outcome and a final summary; JSON and GitHub annotations for CI."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, TextIO

from gpulab_apply.masking import mask_message, safe
from gpulab_apply.order import natural_key
from gpulab_apply.reconcile.executor import ApplyReport, Outcome, Result
from gpulab_apply.reconcile.planner import Plan
from gpulab_apply.reporters import Failure, envelope, location_document
from gpulab_apply.reporters.github import Level, annotation
from gpulab_apply.reporters.plan import plan_document, short


@dataclass(frozen=True, kw_only=True)
class ApplyResult:
    """What apply did: the plan it acted on, and the report of its actions (None when there was nothing to do)."""

    plan: Plan
    report: ApplyReport | None

_SYMBOL = {Result.CREATED: "+", Result.REPLACED: "-/+", Result.CANCELLED: "-", Result.DEDUPLICATED: "-",
           Result.FAILED: "x", Result.SKIPPED: "..."}
_COLOUR = {Result.CREATED: "32", Result.REPLACED: "33", Result.CANCELLED: "31", Result.DEDUPLICATED: "31",
           Result.FAILED: "1;31", Result.SKIPPED: "2"}


def describe(outcome: Outcome) -> str:
    """``created job 1a2b3c4d``, ``FAILED: submitting: ... (cancelled 5e6f7a8b)``; control characters escaped."""
    return safe(mask_message(_describe(outcome)))


def _describe(outcome: Outcome) -> str:
    cancelled = ", ".join(short(uuid) for uuid in outcome.cancelled)
    created = f"job {short(outcome.created)}" if outcome.created else ""
    recovered = " (found by its marker after an ambiguous submit)" if outcome.recovered else ""
    if outcome.result in (Result.FAILED, Result.SKIPPED):
        done = []
        if cancelled:
            done.append(f"cancelled {cancelled}")
        if created:
            done.append(f"created {created}")
        head = "FAILED: " if outcome.result is Result.FAILED else ""
        return f"{head}{outcome.error}" + (f" (done: {'; '.join(done)})" if done else "")
    if outcome.result is Result.CREATED:
        return f"created {created}{recovered}"
    if outcome.result is Result.REPLACED:
        return f"replaced: cancelled {cancelled}, created {created}{recovered}"
    if outcome.result is Result.DEDUPLICATED:
        return f"cancelled duplicate {cancelled} (a concurrent submission)"
    return f"cancelled {cancelled}"


def summary_line(report: ApplyReport) -> str:
    """``Apply complete: 3 created, 1 replaced, 2 cancelled.`` (``Apply failed: ...`` with a failure count)."""
    parts = [f"{report.count(Result.CREATED)} created", f"{report.count(Result.REPLACED)} replaced",
             f"{report.count(Result.CANCELLED)} cancelled"]
    if report.count(Result.DEDUPLICATED):
        parts.append(f"{report.count(Result.DEDUPLICATED)} duplicates cancelled")
    if report.count(Result.FAILED):
        parts.append(f"{report.count(Result.FAILED)} failed")
    if report.interrupted:
        return f"Apply interrupted: {', '.join(parts)}, {report.count(Result.SKIPPED)} not started."
    if not report.ok:
        return f"Apply failed: {', '.join(parts)}."
    return f"Apply complete: {', '.join(parts)}."


def report_text(result: ApplyResult, stream: TextIO, *, color: bool = False) -> None:
    report = result.report
    if report is None:
        return
    stream.write(f"\nApply run {report.run_id} (set {safe(report.set_name)}):\n")
    for outcome in report.outcomes:
        head = f"{_SYMBOL[outcome.result]:>3} {safe(outcome.name)}"
        if color:
            head = f"\x1b[{_COLOUR[outcome.result]}m{head}\x1b[0m"
        stream.write(f"{head}: {describe(outcome)}\n")
    stream.writelines(f"{line}\n" for line in sweep_lines(result))
    stream.write(summary_line(report) + "\n")
    if result.plan.kept_drift:  # drift that is kept is drift (docs/plan-apply.md#kept-drift)
        stream.write(f"Kept: {result.plan.kept_drift} protected job(s) differ from the job files (`!` above).\n")


def sweep_lines(result: ApplyResult) -> list[str]:
    """``sweep train: +2, -/+1`` per sweep that apply touched (docs/authoring.md#matrix-sweeps)."""
    sweeps = {e.name: e.desired.sweep for e in result.plan.entries if e.desired and e.desired.sweep}
    counts: dict[str, dict[str, int]] = {}
    for outcome in result.report.outcomes if result.report else ():
        if (sweep := sweeps.get(outcome.name)) is not None:
            group = counts.setdefault(sweep, {})
            group[_SYMBOL[outcome.result]] = group.get(_SYMBOL[outcome.result], 0) + 1
    return [f"sweep {safe(name)}: " + ", ".join(f"{mark}{count}" for mark, count in sorted(group.items()))
            for name, group in sorted(counts.items(), key=lambda item: natural_key(item[0]))]


def apply_document(result: ApplyResult, *, error: Failure | None = None) -> dict[str, Any]:
    """The ``--format json`` document: what was done, and the plan it was done from."""
    report = result.report
    locations = {entry.name: entry.desired.location for entry in result.plan.entries if entry.desired}
    return envelope("apply", ok=error is None and (report is None or report.ok), body={
        "runId": report.run_id if report else None,
        "set": result.plan.set_name,
        "changed": report.changed if report else False,
        "interrupted": report.interrupted if report else False,
        "summary": {result.value: report.count(result) if report else 0 for result in Result},
        "outcomes": [{
            "name": o.name, "result": o.result.value, "action": o.action.value,
            "location": location_document(locations.get(o.name)), "created": o.created,
            "cancelled": list(o.cancelled), "recovered": o.recovered,
            "error": mask_message(o.error) if o.error else None,
        } for o in (report.outcomes if report else ())],
        "plan": plan_document(result.plan),
    }, problems=result.plan.file_warnings, error=error)


def report_json(result: ApplyResult, stream: TextIO, *, color: bool = False) -> None:
    json.dump(apply_document(result), stream, indent=2)
    stream.write("\n")


def report_github(result: ApplyResult, stream: TextIO, *, color: bool = False) -> None:
    report = result.report
    if report is None:
        return
    locations = {entry.name: entry.desired.location for entry in result.plan.entries if entry.desired}
    for outcome in report.outcomes:
        level: Level = ("error" if outcome.result is Result.FAILED
                        else "warning" if outcome.result is Result.SKIPPED else "notice")
        stream.write(annotation(level, f"{safe(outcome.name)}: {describe(outcome)}", location=locations.get(outcome.name),
                                title="gpulab-apply apply") + "\n")
    stream.write(annotation("notice" if report.ok else "error", summary_line(report),
                            title="gpulab-apply apply") + "\n")
