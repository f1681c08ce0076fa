"""Reports of a validation: problems as ``file:line:col`` lines, as versioned JSON, or as GitHub annotations.

Every format ends with (or contains) the same one-line summary, so a log always says how it went.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TextIO

from gpulab_apply.jobfiles.validation import ValidationResult
from gpulab_apply.jobfiles.variables import unset_note
from gpulab_apply.masking import mask_message, safe
from gpulab_apply.problems import Problem, Severity
from gpulab_apply.reporters import envelope, location_document
from gpulab_apply.reporters.github import Annotation, annotation, within_limits


def summary(result: ValidationResult) -> str:
    """``3 jobs in 2 files are valid.`` or ``Found 4 errors in 2 of 3 files.``, warnings counted when there are any."""
    return summary_of(result.problems, files=result.files, jobs=len(result.jobs))


def summary_of(problems: Sequence[Problem], *, files: int, jobs: int = 0) -> str:
    """The summary line from its parts (also for a plan that stopped at invalid files)."""
    files_text = _count(files, "file")
    warnings = sum(problem.severity is Severity.WARNING for problem in problems)
    errors = [problem for problem in problems if problem.severity is Severity.ERROR]
    if not errors:
        verb = "is" if jobs == 1 else "are"
        noted = f", with {_count(warnings, 'warning')}" if warnings else ""
        return f"{_count(jobs, 'job')} in {files_text} {verb} valid{noted}."
    found = _count(len(errors), "error") + (f" and {_count(warnings, 'warning')}" if warnings else "")
    if not files:
        return f"Found {found}; no job file was read."
    bad_files = len({problem.location.path for problem in errors})
    return f"Found {found} in {bad_files} of {files_text}."


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def problem_lines(problems: Sequence[Problem]) -> list[str]:
    """One ``path:line:col: error: json.path: message (hint)`` line per problem, control characters escaped."""
    return [safe(str(_masked(problem))) + "\n" for problem in problems]


def _masked(problem: Problem) -> Problem:
    """The problem with secrets its message or hint may quote masked; its JSON path is no secret, and masked
    with the message it would read as ``..._API_KEY: <value>``."""
    return problem._replace(message=mask_message(problem.message),
                            hint=mask_message(problem.hint) if problem.hint else None)


def problem_annotations(problems: Sequence[Problem], *, title: str) -> list[str]:
    """One workflow annotation per problem, pinned to its file and line, as many as GitHub shows per level; the rest
    as log lines after a count (:func:`gpulab_apply.reporters.github.within_limits`)."""
    return within_limits([Annotation(problem.severity.value, problem_text(problem), problem.location, title)
                          for problem in problems])


def problem_text(problem: Problem) -> str:
    """``json.path: message (hint)``, without the location: secrets masked, control characters escaped."""
    masked = _masked(problem)
    where = f"{problem.json_path}: " if problem.json_path else ""
    hint = f" ({masked.hint})" if masked.hint else ""
    return safe(f"{where}{masked.message}{hint}")


def report_text(result: ValidationResult, stream: TextIO, *, color: bool = False) -> None:
    """One line per problem, the variables a submission will need, then the summary."""
    stream.writelines(problem_lines(result.problems))
    if result.unset:
        stream.write(f"Note: {safe(unset_note(result.unset))}\n")
    stream.write(summary(result) + "\n")


def validate_document(result: ValidationResult) -> dict[str, Any]:
    return envelope("validate", ok=result.ok, body={
        "files": result.files,
        "summary": summary(result),
        "jobs": [{"name": job.name, "location": location_document(job.location)} for job in result.jobs],
        "unsetVariables": list(result.unset),
    }, problems=result.problems)


def report_json(result: ValidationResult, stream: TextIO, *, color: bool = False) -> None:
    """The versioned JSON document described in docs/validate.md."""
    json.dump(validate_document(result), stream, indent=2)
    stream.write("\n")


def report_github(result: ValidationResult, stream: TextIO, *, color: bool = False) -> None:
    """One workflow annotation per problem (pinned to the file and line in a pull request), then the summary."""
    stream.writelines(problem_annotations(result.problems, title="gpulab-apply validate"))
    if result.unset:  # one notice, not one per job: a fork's pull request has no secrets, and that is fine
        stream.write(annotation("notice", unset_note(result.unset), title="gpulab-apply validate") + "\n")
    stream.write(summary(result) + "\n")
