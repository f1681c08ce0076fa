"""GitLab's Code Quality report: problems as the JSON array a ``codequality`` artifact holds.

GitLab has no workflow commands like GitHub's ``::error``: a job publishes findings as a report artifact
(``artifacts: reports: codequality:``), which GitLab shows in the merge request, inline in the diff on
the tiers that have it. The format is GitLab's subset of the Code Climate spec: ``description``,
``check_name``, ``fingerprint``, ``severity`` and ``location: {path, lines: {begin}}`` (docs/validate.md#output).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from gpulab_apply.problems import Problem, Severity
from gpulab_apply.reporters.problems import problem_text

if TYPE_CHECKING:
    from gpulab_apply.jobfiles.validation import ValidationResult
    from gpulab_apply.reporters import Failure

#: GitLab's scale is info, minor, major, critical, blocker: an error GPULab would refuse is major, a warning minor
SEVERITIES = {Severity.ERROR: "major", Severity.WARNING: "minor"}


def code_quality(problems: Sequence[Problem]) -> list[dict[str, Any]]:
    """One finding per problem. A fingerprint is stable from run to run as long as the problem is (GitLab
    compares them between the source and the target branch) and unique within the report: it hashes the
    file, JSON path and message, not the line, so an edit above a problem does not make it new."""
    seen: Counter[tuple[str, str, str]] = Counter()
    findings = []
    for problem in problems:
        key = (problem.location.path, problem.json_path, problem.message)
        seen[key] += 1
        digest = hashlib.sha256("\0".join((*key, str(seen[key]))).encode()).hexdigest()[:32]
        findings.append({
            "description": problem_text(problem),
            "check_name": f"gpulab-apply/{problem.severity.value}",
            "fingerprint": digest,
            "severity": SEVERITIES[problem.severity],
            "location": {"path": problem.location.path, "lines": {"begin": problem.location.line or 1}},
        })
    return findings


def report_validate(result: ValidationResult, stream: TextIO, *, color: bool = False) -> None:
    """``validate --format gitlab``: every problem a finding (an empty array when all is well)."""
    write(result.problems, stream)


def write(problems: Sequence[Problem], stream: TextIO) -> None:
    json.dump(code_quality(problems), stream, indent=2)
    stream.write("\n")


def report_failure(failure: Failure, stream: TextIO) -> None:
    """A report artifact must stay JSON (the problems, or none): the error itself is the CLI's stderr line."""
    write(failure.problems, stream)
