"""A command that failed, in the format its result would have had (docs/plan-apply.md#output-formats).

``plan --format markdown`` with an invalid job file writes a comment that says the plan failed and why;
``plan --format json`` writes a plan document with ``ok: false``, the problems and the error. The
``Error:`` line and the exit code on stderr are the CLI's, in every format.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from gpulab_apply.reporters import Failure, envelope
from gpulab_apply.reporters.github import annotation
from gpulab_apply.reporters.problems import problem_annotations, problem_lines, summary_of


def report(failure: Failure, fmt: str, stream: TextIO, *, color: bool = False) -> None:
    if fmt == "json":
        report_json(failure, stream)
    elif fmt == "markdown":
        from gpulab_apply.reporters.markdown import report_failure

        report_failure(failure, stream)
    elif fmt == "github":
        report_github(failure, stream)
    elif fmt == "gitlab":  # a report artifact must stay JSON: the error itself is the stderr line
        from gpulab_apply.reporters import gitlab

        gitlab.write(failure.problems, stream)
    else:
        report_text(failure, stream)


def report_text(failure: Failure, stream: TextIO) -> None:
    """The problems, one ``file:line:col`` line each, and their summary; the error itself goes to stderr."""
    if failure.problems:
        stream.writelines(problem_lines(failure.problems))
        stream.write(summary_of(failure.problems, files=failure.files) + "\n")


def report_github(failure: Failure, stream: TextIO) -> None:
    """An annotation per problem, pinned to its line, then the error as an ``::error`` annotation."""
    title = f"gpulab-apply {failure.kind}"
    if failure.problems:
        stream.writelines(problem_annotations(failure.problems, title=title))
        stream.write(summary_of(failure.problems, files=failure.files) + "\n")
    else:
        hint = f" ({failure.hint})" if failure.hint else ""
        stream.write(annotation("error", failure.message + hint, title=title) + "\n")


def report_json(failure: Failure, stream: TextIO) -> None:
    json.dump(document(failure), stream, indent=2)
    stream.write("\n")


def document(failure: Failure) -> dict[str, Any]:
    """The command's own document with ``ok: false``: what it had made (a refused plan), else its keys with
    empty values (null, or [] for lists), so that a reader finds the same keys as on success."""
    if failure.kind == "plan" and failure.partial is not None:
        from gpulab_apply.reporters.plan import plan_document

        return plan_document(failure.partial, error=failure)
    if failure.kind == "apply" and failure.partial is not None:
        from gpulab_apply.reporters.apply import ApplyResult, apply_document

        return apply_document(ApplyResult(plan=failure.partial, report=None), error=failure)
    shape = _shape(failure.kind)
    body: dict[str, Any] = {key: [] if isinstance(value, list) else None for key, value in shape.items()
            if key not in ("version", "kind", "ok", "problems", "error")}
    if "set" in body:
        body["set"] = failure.set_name
    return envelope(failure.kind, ok=False, body=body, problems=failure.problems, error=failure)


def _shape(kind: str) -> dict[str, Any]:
    """A successful document of ``kind`` made from nothing: its keys, in order."""
    from datetime import UTC, datetime

    if kind in ("plan", "apply"):
        from gpulab_apply.reconcile.planner import PlanOptions, build_plan
        from gpulab_apply.reporters.apply import ApplyResult, apply_document
        from gpulab_apply.reporters.plan import plan_document

        plan = build_plan((), (), set_name="-", options=PlanOptions())
        return plan_document(plan) if kind == "plan" else apply_document(ApplyResult(plan=plan, report=None))
    if kind == "status":
        from gpulab_apply.reporters.status import StatusReport, status_document

        return status_document(StatusReport(set_name="-", rows=(), now=datetime.now(UTC)))
    if kind == "render":
        from gpulab_apply.reporters.render import RenderResult, render_document

        return render_document(RenderResult(jobs=()))
    if kind == "show":
        from pathlib import Path

        from gpulab_apply.reconcile.planfile import SavedPlan
        from gpulab_apply.reconcile.planner import PlanOptions
        from gpulab_apply.reporters.show import ShownPlan, show_document

        return show_document(ShownPlan(Path(), SavedPlan(set_name="", endpoint="", api_version=None, paths=(),
                                                         options=PlanOptions(), created="", remote_fingerprint="",
                                                         desired_fingerprint="", actions=())))
    if kind == "validate":
        from gpulab_apply.jobfiles.validation import ValidationResult
        from gpulab_apply.reporters.problems import validate_document

        return validate_document(ValidationResult(jobs=(), problems=(), files=0))
    from gpulab_apply.reporters.identity import IdentityReport, identity_document

    return identity_document(IdentityReport(user=None, email=None, certificate=None, valid_until=None, days_left=None,
                                            endpoint="", api_version="", project=None, set_name="", local=False))
