"""Apply reporters: one line per job outcome and a final summary; JSON and GitHub annotations for CI."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TextIO

from gpulab_apply.reconcile.executor import ApplyReport, Outcome, Result
from gpulab_apply.reporters.github import Level, annotation
from gpulab_apply.reporters.plan import short

JSON_FORMAT_VERSION = 1

_SYMBOL = {Result.CREATED: "+", Result.REPLACED: "-/+", Result.CANCELLED: "-", Result.DEDUPLICATED: "-",
           Result.FAILED: "x"}
_COLOUR = {Result.CREATED: "32", Result.REPLACED: "33", Result.CANCELLED: "31", Result.DEDUPLICATED: "31",
           Result.FAILED: "1;31"}


def describe(outcome: Outcome) -> str:
    """``created job 1a2b3c4d``, ``FAILED: submitting: ... (cancelled 5e6f7a8b)``."""
    cancelled = ", ".join(short(uuid) for uuid in outcome.cancelled)
    created = f"job {short(outcome.created)}" if outcome.created else ""
    recovered = " (found by its marker after an ambiguous submit)" if outcome.recovered else ""
    if outcome.result is Result.FAILED:
        done = []
        if cancelled:
            done.append(f"cancelled {cancelled}")
        if created:
            done.append(f"created {created}")
        return f"FAILED: {outcome.error}" + (f" (done: {'; '.join(done)})" if done else "")
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
    if not report.ok:
        return f"Apply failed: {', '.join(parts)}, {report.count(Result.FAILED)} failed."
    return f"Apply complete: {', '.join(parts)}."


def report_text(report: ApplyReport, stream: TextIO, *, color: bool = False) -> None:
    stream.write(f"\nApply run {report.run_id} (set {report.set_name}):\n")
    for outcome in report.outcomes:
        head = f"{_SYMBOL[outcome.result]:>3} {outcome.name}"
        if color:
            head = f"\x1b[{_COLOUR[outcome.result]}m{head}\x1b[0m"
        stream.write(f"{head}: {describe(outcome)}\n")
    stream.write(summary_line(report) + "\n")


def apply_document(report: ApplyReport) -> dict[str, Any]:
    return {
        "format_version": JSON_FORMAT_VERSION,
        "run_id": report.run_id,
        "set": report.set_name,
        "ok": report.ok,
        "changed": report.changed,
        "summary": {result.value: report.count(result) for result in Result},
        "outcomes": [{
            "name": o.name, "result": o.result.value, "action": o.action.value, "created": o.created,
            "cancelled": list(o.cancelled), "recovered": o.recovered, "error": o.error,
        } for o in report.outcomes],
    }


def report_json(report: ApplyReport, stream: TextIO, *, color: bool = False) -> None:
    json.dump(apply_document(report), stream, indent=2, ensure_ascii=False)
    stream.write("\n")


def report_github(report: ApplyReport, stream: TextIO, *, color: bool = False) -> None:
    for outcome in report.outcomes:
        level: Level = "error" if outcome.result is Result.FAILED else "notice"
        stream.write(annotation(level, f"{outcome.name}: {describe(outcome)}", title="gpulab-apply apply") + "\n")
    stream.write(annotation("notice" if report.ok else "error", summary_line(report),
                            title="gpulab-apply apply") + "\n")


REPORTERS: dict[str, Callable[..., None]] = {"text": report_text, "json": report_json, "github": report_github}
