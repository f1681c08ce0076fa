"""A command that failed, in the format its result would have had (docs/plan-apply.md#output-formats).

``plan --format markdown`` with an invalid job file writes a comment that says the plan failed and why;
``plan --format json`` writes a plan document with ``ok: false``, the problems and the error. The
``Error:`` line and the exit code on stderr are the CLI's, in every format. Each registered format names its
failure reporter in :data:`gpulab_apply.reporters.REGISTRY`; the text, JSON and GitHub ones are here.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from gpulab_apply.reporters import EMPTY_BODIES, Failure, envelope
from gpulab_apply.reporters.github import annotation
from gpulab_apply.reporters.problems import problem_annotations, problem_lines, summary_of


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
    """The command's own document with ``ok: false``: what it had made (the plan a guard refused), else its
    declared keys with empty values (:data:`EMPTY_BODIES`), so that a reader finds the same keys as on success."""
    if failure.partial is not None and failure.kind in ("plan", "apply"):
        # the plan's reporters only when there is a plan to show (a failure report imports no more than it writes)
        from gpulab_apply.reporters.apply import ApplyResult, apply_document
        from gpulab_apply.reporters.plan import plan_document

        if failure.kind == "plan":
            return plan_document(failure.partial, error=failure)
        return apply_document(ApplyResult(plan=failure.partial, report=None), error=failure)
    body = dict(EMPTY_BODIES[failure.kind])
    if "set" in body:
        body["set"] = failure.set_name
    return envelope(failure.kind, ok=False, body=body, problems=failure.problems, error=failure)
