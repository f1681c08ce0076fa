"""Reports of ``show PLANFILE``: a saved plan in text, JSON, Markdown or GitHub annotations (docs/plan-format.md#show).

A plan file holds decisions, not job bodies (docs/plan-format.md), so these show what it holds: each change by
name with its action, why, spec and the jobs it cancels, where the job is written and its sweep (files written
before those were recorded show without them), the summary and the warnings. Everything in a plan file is
already masked; strings are still printed through :func:`~gpulab_apply.masking.safe`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple, TextIO

from gpulab_apply.masking import safe
from gpulab_apply.problems import Location
from gpulab_apply.reconcile.planfile import SavedPlan
from gpulab_apply.reporters import envelope, location_document
from gpulab_apply.reporters.github import Annotation, JobRow, job_annotations, within_limits
from gpulab_apply.reporters.markdown import code, fit, md

_SYMBOL = {"create": "+", "replace": "-/+", "cancel": "-"}


class ShownPlan(NamedTuple):
    """A plan file as read, and where it was read from."""

    path: Path
    plan: SavedPlan


class _Change(NamedTuple):
    symbol: str
    name: str
    action: str
    why: str
    spec: str | None
    current: str | None
    cancel: tuple[str, ...]
    sweep: str | None
    location: Location | None
    work_lost: bool


def _changes(plan: SavedPlan) -> list[_Change]:
    changes = []
    for action in plan.actions:
        kind = str(action.get("action"))
        cancel = tuple(str(uuid) for uuid in action.get("cancel") or ())
        why = action.get("why") or _why(str(action.get("reason")), cancel)
        changes.append(_Change(_SYMBOL.get(kind, "x"), safe(str(action.get("name"))), kind, safe(str(why)),
                               action.get("spec"), action.get("current"), cancel,
                               str(action["sweep"]) if action.get("sweep") else None, _location(action.get("location")),
                               action.get("work_lost") is True))
    return changes


def _why(reason: str, cancel: tuple[str, ...]) -> str:
    """Why, from what every plan file holds (files written before ``why`` was recorded)."""
    return reason + (f"; cancels {', '.join(uuid[:8] for uuid in cancel)}" if cancel else "")


def _location(value: Any) -> Location | None:
    if not isinstance(value, Mapping) or not isinstance(value.get("file"), str):
        return None
    line, column = value.get("line"), value.get("column")
    return Location(value["file"], line if isinstance(line, int) else None, column if isinstance(column, int) else None)


def summary_text(plan: SavedPlan) -> str:
    """``Plan: 3 to create, 1 to replace (1 running), 2 to cancel.``; counted from the decisions in older files."""
    counts = plan.summary
    if counts is None:
        kinds = [str(action.get("action")) for action in plan.actions]
        counts = {kind: kinds.count(kind) for kind in ("create", "replace", "cancel")}
    replace = f"{counts.get('replace', 0)} to replace" + (
        f" ({counts['replaceRunning']} running)" if counts.get("replaceRunning") else "")
    cancel = f"{counts.get('cancel', 0)} to cancel" + (
        f" ({counts['cancelRunning']} running)" if counts.get("cancelRunning") else "")
    return f"Plan: {counts.get('create', 0)} to create, {replace}, {cancel}."


def _made(shown: ShownPlan) -> str:
    plan = shown.plan
    tool = f" by gpulab-apply {plan.tool_version}" if plan.tool_version else ""
    return f"Saved plan {shown.path}, made {plan.created}{tool}"


def _target(plan: SavedPlan) -> str:
    version = f" (API {plan.api_version})" if plan.api_version else ""
    return f"set {plan.set_name} at {plan.endpoint}{version}"


def _options(plan: SavedPlan) -> list[str]:
    """The options that changed decisions, those not at their default only."""
    options = plan.options
    found = [f"project {options.project_urn}"] if options.project_urn else []
    if options.rerun_failed:
        found.append("--rerun-failed")
    found += [f"--target {target}" for target in options.targets]
    found += [f"--cancel-protected {name}" for name in sorted(options.cancel_protected)]
    if options.narrowed_to:
        found.append(f"narrowed to {', '.join(options.narrowed_to)}")
    return found


def report_text(shown: ShownPlan, stream: TextIO, *, color: bool = False) -> None:
    """Like plan's text: who and where, one line per change, the warnings, the summary."""
    plan = shown.plan
    stream.write(safe(_made(shown)) + "\n")
    stream.write(safe(f"For {_target(plan)}; paths {', '.join(plan.paths) or '(none)'}") + "\n")
    if options := _options(plan):
        stream.write(safe("Options: " + ", ".join(options)) + "\n")
    stream.write("\n")
    for change in _changes(plan):
        where = f"  {safe(str(change.location))}" if change.location else ""
        sweep = f" [sweep {safe(change.sweep)}]" if change.sweep else ""
        stream.write(f"{change.symbol:>3} {change.name} ({change.why}){sweep}{where}\n")
    if plan.actions:
        stream.write("\n")
    stream.writelines(f"Warning: {safe(warning)}\n" for warning in plan.warnings)
    stream.write(summary_text(plan) + "\n")
    stream.write(safe(f"Apply exactly this plan with: gpulab-apply apply {shown.path}") + "\n")


def show_document(shown: ShownPlan) -> dict[str, Any]:
    """The ``--format json`` document (versioned; docs/plan-format.md#show)."""
    plan = shown.plan
    return envelope("show", ok=True, body={
        "planFile": str(shown.path),
        "created": plan.created,
        "toolVersion": plan.tool_version,
        "set": plan.set_name,
        "endpoint": plan.endpoint,
        "apiVersion": plan.api_version,
        "paths": list(plan.paths),
        "options": {"projectUrn": plan.options.project_urn, "rerunFailed": plan.options.rerun_failed,
                    "targets": list(plan.options.targets), "cancelProtected": sorted(plan.options.cancel_protected),
                    "narrowedTo": list(plan.options.narrowed_to)},
        "summary": plan.summary,
        "summaryLine": summary_text(plan),
        "warnings": list(plan.warnings),
        "remoteFingerprint": plan.remote_fingerprint,
        "desiredFingerprint": plan.desired_fingerprint,
        "entries": [{"name": change.name, "action": change.action, "why": change.why, "spec": change.spec,
                     "current": change.current, "cancel": list(change.cancel), "sweep": change.sweep,
                     "location": location_document(change.location)} for change in _changes(plan)],
    })


def report_json(shown: ShownPlan, stream: TextIO, *, color: bool = False) -> None:
    json.dump(show_document(shown), stream, indent=2)
    stream.write("\n")


def report_markdown(shown: ShownPlan, stream: TextIO, *, color: bool = False) -> None:
    """A comment: the summary first, then one table row per change, within GitHub's comment size."""
    plan = shown.plan
    head = (f"### gpulab-apply plan for set {code(plan.set_name)} (saved {md(plan.created)})\n\n"
            f"**{md(summary_text(plan))}**\n\n"
            + "".join(f"> **Warning:** {md(warning)}\n\n" for warning in plan.warnings))
    rows = [f"| `{change.symbol}` | {code(change.name)} | {md(change.why)} | "
            f"{md(str(change.location)) if change.location else ''} |\n" for change in _changes(plan)]
    table = "| | job | why | file |\n|---|---|---|---|\n" if rows else ""
    stream.write(fit(head, [(table, "jobs", rows)]))


def report_github(shown: ShownPlan, stream: TextIO, *, color: bool = False) -> None:
    """As ``plan --format github``: the summary first, a job per annotation, a sweep per annotation, within
    GitHub's limits (docs/plan-apply.md#github-annotations)."""
    plan = shown.plan
    title = "gpulab-apply plan"
    rows = [JobRow(change.symbol, change.name, change.why, "warning" if change.work_lost else "notice",
                   change.location, change.sweep) for change in _changes(plan)]
    stream.writelines(within_limits([
        Annotation("notice", summary_text(plan), title=title),
        *(Annotation("warning", warning, title=title) for warning in plan.warnings),
        *job_annotations(rows, title=title),
    ]))
