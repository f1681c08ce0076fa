"""Reports of a validation: problems as ``file:line:col`` lines, as versioned JSON, or as GitHub annotations.

Every format ends with (or contains) the same one-line summary, so a log always says how it went.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from gpulab_apply.jobfiles.validation import ValidationResult
from gpulab_apply.problems import Location, Problem, Severity
from gpulab_apply.reporters.github import annotation

#: version of the ``--format json`` document; bumped only for incompatible changes (docs/validate.md)
JSON_VERSION = 1

Reporter = Callable[[ValidationResult, TextIO], None]


def summary(result: ValidationResult) -> str:
    """``3 jobs in 2 files are valid.`` or ``Found 4 errors in 2 of 3 files.``, warnings counted when there are any."""
    files = _count(result.files, "file")
    warnings = sum(problem.severity is Severity.WARNING for problem in result.problems)
    if result.ok:
        verb = "is" if len(result.jobs) == 1 else "are"
        noted = f", with {_count(warnings, 'warning')}" if warnings else ""
        return f"{_count(len(result.jobs), 'job')} in {files} {verb} valid{noted}."
    errors = [problem for problem in result.problems if problem.severity is Severity.ERROR]
    found = _count(len(errors), "error") + (f" and {_count(warnings, 'warning')}" if warnings else "")
    if not result.files:
        return f"Found {found}; no job file was read."
    bad_files = len({problem.location.path for problem in errors})
    return f"Found {found} in {bad_files} of {files}."


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def report_text(result: ValidationResult, stream: TextIO) -> None:
    """One ``path:line:col: error: json.path: message (hint)`` line per problem, then the summary."""
    stream.writelines(f"{problem}\n" for problem in result.problems)
    stream.write(summary(result) + "\n")


def report_json(result: ValidationResult, stream: TextIO) -> None:
    """The versioned JSON document described in docs/validate.md."""
    document = {
        "version": JSON_VERSION,
        "valid": result.ok,
        "files": result.files,
        "summary": summary(result),
        "jobs": [{"name": job.name, **_location(job.location)} for job in result.jobs],
        "problems": [_problem(problem) for problem in result.problems],
    }
    json.dump(document, stream, indent=2)
    stream.write("\n")


def _problem(problem: Problem) -> dict[str, Any]:
    return {**_location(problem.location), "severity": problem.severity.value, "jsonPath": problem.json_path,
            "message": problem.message, "hint": problem.hint}


def _location(location: Location) -> dict[str, Any]:
    return {"path": location.path, "line": location.line, "column": location.column}


def report_github(result: ValidationResult, stream: TextIO) -> None:
    """One workflow annotation per problem (pinned to the file and line in a pull request), then the summary."""
    for problem in result.problems:
        where = f"{problem.json_path}: " if problem.json_path else ""
        hint = f" ({problem.hint})" if problem.hint else ""
        stream.write(annotation(problem.severity.value, f"{where}{problem.message}{hint}",
                                location=problem.location, title="gpulab-apply validate") + "\n")
    stream.write(summary(result) + "\n")


REPORTERS: Mapping[str, Reporter] = {"text": report_text, "json": report_json, "github": report_github}
