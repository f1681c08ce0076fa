"""Plan reporters: Terraform-like text, versioned JSON and GitHub annotations (Markdown: ``markdown.py``).

Every value shown comes from the planner's masked field differences; job bodies are never printed whole.
Names, notes and values are user strings: every line passes through :func:`~gpulab_apply.masking.safe`.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from gpulab_apply.masking import safe
from gpulab_apply.order import natural_key
from gpulab_apply.reconcile.planner import Action, FieldDiff, Plan, PlanEntry, Reason, Summary
from gpulab_apply.reporters import envelope, location_document
from gpulab_apply.reporters.capacity import capacity_document, capacity_lines, usage_text
from gpulab_apply.reporters.github import Annotation, JobRow, job_annotations, within_limits
from gpulab_apply.reporters.problems import problem_lines, problem_text

_SYMBOL = {Action.CREATE: "+", Action.REPLACE: "-/+", Action.CANCEL: "-", Action.WAIT: ">"}
_NONE_SYMBOL = {Reason.PROTECTED: "!", Reason.UNMANAGED: "?"}
_COLOUR = {"+": "32", "-/+": "33", "-": "31", "!": "35", "?": "36", "x": "2", ">": "34"}
#: no-op entries worth showing one line for (in-sync and finished ones are only counted)
_NOTEWORTHY = {Reason.PROTECTED, Reason.UNMANAGED, Reason.FAILED, Reason.CANCELLED, Reason.HALTED, Reason.DELETED,
               Reason.BLOCKED, Reason.EXHAUSTED}


def summary_line(summary: Summary) -> str:
    """``Plan: 3 to create, 1 to replace (1 running), 2 to cancel.``"""
    replace = f"{summary.replace} to replace" + (f" ({summary.replace_running} running)"
                                                 if summary.replace_running else "")
    cancel = f"{summary.cancel} to cancel" + (f" ({summary.cancel_running} running)" if summary.cancel_running else "")
    waiting = f", {summary.waiting} waiting" if summary.waiting else ""
    return f"Plan: {summary.create} to create, {replace}, {cancel}{waiting}."


def cost_line(plan: Plan) -> str | None:
    """``Cost: 672 GPU-hours requested (2 jobs at GPULab's default maxDuration), 3.5 GPU-hours of running work
    lost.`` (docs/plan-apply.md#cost); None when the plan submits and loses nothing."""
    cost, later = plan.cost, plan.waiting_cost
    used = usage_text(plan)
    if not cost.requested and not cost.lost and not later.requested:
        return f"Cost: nothing requested; {used}." if used else None
    default = f" ({cost.defaulted} job(s) at GPULab's default maxDuration, 2 weeks)" if cost.defaulted else ""
    waiting = (f" Waiting jobs: {later.requested:g} GPU-hours more when submitted ({plan.summary.waiting} job(s))."
               if later.requested else "")
    return (f"Cost: {cost.requested:g} GPU-hours requested{default}, {cost.lost:g} GPU-hours of running work lost"
            + (f"; {used}." if used else ".") + waiting)


def narrowed_line(plan: Plan) -> str | None:
    """``Narrowed to jobs.d/exp: ...`` for a plan of part of the job root (docs/plan-apply.md#workspace); None for
    a plan of the whole set."""
    if not plan.narrowed:
        return None
    return (f"Narrowed to {', '.join(plan.options.narrowed_to)}: creates and replaces only the jobs defined there, "
            "and cancels nothing (jobs removed from the files are cancelled by a plan of the whole job root).")


def unchanged_line(summary: Summary) -> str:
    """What is left alone: ``Unchanged: 4 in sync or done, 1 protected, 1 unmanaged.``"""
    parts = [f"{summary.unchanged} in sync or done"]
    if summary.blocked:
        parts.append(f"{summary.blocked} protected")
    if summary.unmanaged:
        parts.append(f"{summary.unmanaged} unmanaged")
    if summary.stuck:
        parts.append(f"{summary.stuck} blocked or out of retries")
    return "Unchanged: " + ", ".join(parts) + "."


def sweep_counts(plan: Plan) -> dict[str, dict[str, int]]:
    """Per sweep, how many members get each symbol (``=`` for unchanged): ``{"train": {"+": 2, "=": 4}}``."""
    counts: dict[str, dict[str, int]] = {}
    for entry in plan.entries:
        sweep = entry.desired.sweep if entry.desired else None
        if sweep is not None:
            mark = symbol(entry) if entry.has_changes or entry.waits or entry.reason in _NOTEWORTHY else "="
            group = counts.setdefault(sweep, {})
            group[mark] = group.get(mark, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: natural_key(item[0])))


def sweep_lines(plan: Plan) -> list[str]:
    """``sweep train: +2, =4`` per sweep (docs/authoring.md#matrix-sweeps)."""
    return [f"sweep {safe(name)}: " + ", ".join(f"{mark}{count}" for mark, count in sorted(group.items()))
            for name, group in sweep_counts(plan).items()]


def symbol(entry: PlanEntry) -> str:
    return _SYMBOL.get(entry.action) or _NONE_SYMBOL.get(entry.reason, "x")


def shown(plan: Plan) -> list[PlanEntry]:
    """The entries a report lists one by one: changes and no-ops that need a person's attention."""
    return [e for e in plan.entries if e.has_changes or e.waits or e.reason in _NOTEWORTHY]


def short(uuid: str) -> str:
    return uuid[:8]


def explain(entry: PlanEntry) -> str:
    """Why, in a few words: ``changed; cancels RUNNING job 1a2b3c4d, its work is lost`` (control characters
    escaped)."""
    return safe(_explain(entry))


def _explain(entry: PlanEntry) -> str:
    if (workflow := _explain_workflow(entry)) is not None:
        return workflow
    current = entry.current
    jobs = ", ".join(f"{job.status.name} job {short(job.uuid)}" for job in entry.cancel)
    lost = ", its work is lost" if entry.work_lost else ""
    if entry.reason is Reason.NEW:
        return "new; no job in the listing, but one may exist beyond GPULab's listing window" if entry.unseen \
            else "new"
    if entry.action is Action.REPLACE:
        return f"changed; cancels {jobs}{lost}"
    if entry.reason is Reason.CHANGED and current is not None:
        return f"changed since {current.status.name} job {short(current.uuid)}; a new run"
    if entry.reason is Reason.RERUN_FAILED and current is not None:
        return f"--rerun-failed: {current.status.name} job {short(current.uuid)} runs again"
    if entry.reason is Reason.REMOVED:
        return f"no longer in the job files; cancels {jobs}{lost}"
    if entry.reason is Reason.DUPLICATE and current is not None:
        return f"duplicates of job {short(current.uuid)}; cancels {jobs}"
    if entry.reason is Reason.PROTECTED:
        blocked = entry.blocked.value if entry.blocked else "change"
        return f"protected: would {blocked}; `apply --cancel-protected {entry.name}` allows it"
    if entry.reason is Reason.UNMANAGED and current is not None:
        return f"unmanaged ({entry.note}): {current.status.name} job {short(current.uuid)} is left alone"
    if current is not None:
        return f"{current.status.name} job {short(current.uuid)}; --rerun-failed runs it again"
    return str(entry.reason.value)


def _explain_workflow(entry: PlanEntry) -> str | None:
    """Waiting, blocked, throttled and retried jobs (docs/workflows.md): ``waits for prep: RUNNING``."""
    waits = ", ".join(f"{need}: {state}" for need, state in entry.waits_for)
    after = f" after {entry.current.status.name}" if entry.current is not None else ""
    if entry.reason is Reason.RETRY:
        retry = f"retry {entry.attempt - 1} of {entry.retries}{after}"
        return f"{retry}, {waits}" if entry.action is Action.WAIT and waits else retry
    if entry.reason is Reason.WAITING:
        # a dependant whose need changed: part of the cascade (docs/workflows.md#dependencies)
        stale = ("out of date, to be replaced; " if entry.then is Action.REPLACE
                 else "out of date; " if entry.current is not None else "")
        return f"{stale}waits for {waits}"
    if entry.reason is Reason.THROTTLED:
        return f"waits: {waits}"
    if entry.reason is Reason.BLOCKED:
        then = entry.then.value if entry.then else "run"
        return f"blocked: would {then}, but {waits}; rerun that job to go on"
    if entry.reason is Reason.EXHAUSTED and entry.current is not None:
        return (f"failed: {entry.current.status.name} job {short(entry.current.uuid)} was run {entry.attempt} "
                f"time(s), every retry used (retries: {entry.retries}); --rerun-failed runs it again")
    return None


def value_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def diff_line(diff: FieldDiff) -> str:
    """``~ request.resources.gpus: 1 => 2`` (control characters escaped)."""
    if diff.kind == "added":
        return safe(f"+ {diff.path}: {value_text(diff.new)}")
    if diff.kind == "removed":
        return safe(f"- {diff.path}: {value_text(diff.old)}")
    return safe(f"~ {diff.path}: {value_text(diff.old)} => {value_text(diff.new)}")


def _paint(text: str, mark: str, color: bool) -> str:
    return f"\x1b[{_COLOUR[mark]}m{text}\x1b[0m" if color else text


def report_text(plan: Plan, stream: TextIO, *, color: bool = False) -> None:
    """Terraform-like: one line per change (``+ - -/+``), field differences under it, the summary last."""
    stream.write(f"Set: {safe(plan.set_name)}\n")
    if (narrowed := narrowed_line(plan)) is not None:
        stream.write(safe(narrowed) + "\n")
    stream.write("\n")
    for entry in shown(plan):
        mark = symbol(entry)
        source = f"  {safe(str(entry.desired.location))}" if entry.desired else ""
        stream.write(_paint(f"{mark:>3} {safe(entry.name)}", mark, color) + f" ({explain(entry)}){source}\n")
        stream.writelines(f"      {diff_line(diff)}\n" for diff in entry.diffs)
    if shown(plan):
        stream.write("\n")
    if sweeps := sweep_lines(plan):
        stream.writelines(f"{line}\n" for line in sweeps)
        stream.write("\n")
    stream.writelines(problem_lines(plan.file_warnings))
    stream.writelines(_paint(f"Warning: {safe(warning)}", "!", color) + "\n" for warning in plan.warnings)
    stream.writelines(_paint(safe(line.text()), "-" if line.error else "x", color) + "\n"
                      for line in capacity_lines(plan))
    stream.writelines(_paint(f"Apply will refuse: {safe(r.message)}", "-", color) + f"\n  Hint: {safe(r.hint)}\n"
                      for r in plan.refusals)
    if not plan.has_changes:
        stream.write(no_changes(plan) + "\n")
    stream.write(unchanged_line(plan.summary) + "\n")
    stream.write(summary_line(plan.summary) + "\n")
    if (cost := cost_line(plan)) is not None:
        stream.write(cost + "\n")


def no_changes(plan: Plan) -> str:
    """The line for a plan with nothing to do: never "GPULab matches" while protection keeps a difference."""
    if plan.kept_drift:
        return (f"No changes, but GPULab does not match the job files: {plan.kept_drift} protected job(s) differ "
                "and are kept as they are (`!` above).")
    if plan.summary.waiting:  # docs/workflows.md
        return (f"Nothing to submit now: {plan.summary.waiting} job(s) wait (`>` above); a later apply, or "
                "`apply --watch`, submits them.")
    if plan.summary.stuck:
        return (f"No changes, but {plan.summary.stuck} job(s) are blocked or out of retries (`x` above): rerun "
                "what failed to go on.")
    return "No changes, but read the warnings above." if plan.warnings else "No changes: GPULab matches the job files."


def plan_document(plan: Plan, *, error: Any = None) -> dict[str, Any]:
    """The ``--format json`` document (versioned; documented in docs/plan-apply.md)."""
    summary = plan.summary
    return envelope("plan", ok=error is None, body={
        "set": plan.set_name,
        "narrowedTo": list(plan.options.narrowed_to),
        "hasChanges": plan.has_changes,
        "remoteFingerprint": plan.remote_fingerprint,
        "warnings": list(plan.warnings),
        "refusals": [{"message": r.message, "hint": r.hint} for r in plan.refusals],
        "gpuHours": {"requested": plan.cost.requested, "lost": plan.cost.lost,
                     "defaultedMaxDuration": plan.cost.defaulted, "waiting": plan.waiting_cost.requested},
        "sweeps": sweep_counts(plan),
        **capacity_document(plan),
        "summary": {
            "create": summary.create, "replace": summary.replace, "replaceRunning": summary.replace_running,
            "cancel": summary.cancel, "cancelRunning": summary.cancel_running, "unchanged": summary.unchanged,
            "blocked": summary.blocked, "unmanaged": summary.unmanaged, "waiting": summary.waiting,
            "stuck": summary.stuck,
        },
        "entries": [_entry_document(entry) for entry in plan.entries],
    }, problems=plan.file_warnings, error=error)


def _entry_document(entry: PlanEntry) -> dict[str, Any]:
    current = entry.current
    return {
        "name": entry.name,
        "action": entry.action.value,
        "reason": entry.reason.value,
        "blocked": entry.blocked.value if entry.blocked else None,
        "workLost": entry.work_lost,
        "note": entry.note,
        "unseen": entry.unseen,
        "sweep": entry.desired.sweep if entry.desired else None,
        "location": location_document(entry.desired.location if entry.desired else None),
        "spec": entry.spec,
        "current": {"uuid": current.uuid, "status": current.status.name} if current else None,
        "cancel": [{"uuid": job.uuid, "status": job.status.name} for job in entry.cancel],
        "held": [{"uuid": job.uuid, "status": job.status.name} for job in entry.held],
        "diffs": [{"path": d.path, "kind": d.kind, "old": d.old, "new": d.new} for d in entry.diffs],
        "waitsFor": [{"name": need, "state": state} for need, state in entry.waits_for],
        "then": entry.then.value if entry.then else None,
        "attempt": entry.attempt,
        "retries": entry.retries,
    }


def report_json(plan: Plan, stream: TextIO, *, color: bool = False) -> None:
    json.dump(plan_document(plan), stream, indent=2)
    stream.write("\n")


def report_github(plan: Plan, stream: TextIO, *, color: bool = False) -> None:
    """The summary first, then one annotation per job (per sweep for its members), pinned to its file and line,
    and the plan's warnings; within GitHub's limits per step, the rest as plain log lines
    (docs/plan-apply.md#github-annotations)."""
    title = "gpulab-apply plan"
    first = [Annotation("notice", summary_line(plan.summary), title=title)]
    if (narrowed := narrowed_line(plan)) is not None:
        first.append(Annotation("notice", narrowed, title=title))
    rows = [JobRow(symbol(entry), safe(entry.name), explain(entry),
                   "warning" if entry.work_lost or not (entry.has_changes or entry.waits) else "notice",
                   entry.desired.location if entry.desired else None,
                   entry.desired.sweep if entry.desired else None,
                   tuple(diff_line(diff) for diff in entry.diffs)) for entry in shown(plan)]
    stream.writelines(within_limits([
        *first,
        *(Annotation(problem.severity.value, problem_text(problem), problem.location, title)
          for problem in plan.file_warnings),
        *(Annotation("warning", warning, title=title) for warning in plan.warnings),
        *(Annotation("error" if line.error else "notice", f"{line.label}: {line.names}: {line.message}",
                     line.location, "gpulab-apply capacity") for line in capacity_lines(plan)),
        *(Annotation("warning", f"apply will refuse: {r.message}; {r.hint}", title=title) for r in plan.refusals),
        *job_annotations(rows, title=title),
    ]))
