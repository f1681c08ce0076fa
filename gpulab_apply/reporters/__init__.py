"""Reporters turn results (problems, plans, apply outcomes, statuses, identities) into text for people and machines.

One contract for all of them (docs/plan-apply.md#output-formats):

* a reporter is ``reporter(result, stream, *, color)``: it writes to the stream it is given and never
  decides exit codes;
* :data:`REGISTRY` is the one registry, keyed by (kind of result, ``--format`` name), holding
  ``module:function`` so that a command imports only the reporter it uses;
* each registered format also names its failure reporter: a command that fails hands it a :class:`Failure`
  instead of its result, and the failure comes out in the format asked for (a Markdown comment that says the plan failed and why, a JSON
  document of the command's kind carrying the problems);
* every JSON document has the same envelope: ``version``, ``kind``, ``ok``, ``problems`` and ``error``,
  camelCase keys, and locations as ``{"file", "line", "column"}``.

User strings are printed through :func:`gpulab_apply.masking.safe` in every format.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol, TextIO

from gpulab_apply.masking import mask_message

if TYPE_CHECKING:
    from gpulab_apply.problems import Location, Problem

Kind = Literal["validate", "plan", "apply", "status", "whoami", "render", "show"]

#: the ``--format`` value that picks ``github`` under GitHub Actions and ``text`` elsewhere (as yamllint does)
AUTO = "auto"


class Registered(NamedTuple):
    """One format of one kind of result: its reporter, and its failure reporter (what the format writes when the
    command stopped before its result: a JSON document with ``ok: false``, a Markdown comment saying it failed),
    each ``module:function``."""

    report: str
    fail: str


#: (kind, format) -> its reporters; a module is imported only when its report is written
REGISTRY: Mapping[tuple[Kind, str], Registered] = {
    ("validate", "text"): Registered("gpulab_apply.reporters.problems:report_text",
                                    "gpulab_apply.reporters.failure:report_text"),
    ("validate", "json"): Registered("gpulab_apply.reporters.problems:report_json",
                                    "gpulab_apply.reporters.failure:report_json"),
    ("validate", "github"): Registered("gpulab_apply.reporters.problems:report_github",
                                      "gpulab_apply.reporters.failure:report_github"),
    ("validate", "gitlab"): Registered("gpulab_apply.reporters.gitlab:report_validate",
                                      "gpulab_apply.reporters.gitlab:report_failure"),
    ("plan", "text"): Registered("gpulab_apply.reporters.plan:report_text",
                                "gpulab_apply.reporters.failure:report_text"),
    ("plan", "json"): Registered("gpulab_apply.reporters.plan:report_json",
                                "gpulab_apply.reporters.failure:report_json"),
    ("plan", "markdown"): Registered("gpulab_apply.reporters.markdown:report_plan",
                                    "gpulab_apply.reporters.markdown:report_failure"),
    ("plan", "github"): Registered("gpulab_apply.reporters.plan:report_github",
                                  "gpulab_apply.reporters.failure:report_github"),
    ("apply", "text"): Registered("gpulab_apply.reporters.apply:report_text",
                                 "gpulab_apply.reporters.failure:report_text"),
    ("apply", "json"): Registered("gpulab_apply.reporters.apply:report_json",
                                 "gpulab_apply.reporters.failure:report_json"),
    ("apply", "github"): Registered("gpulab_apply.reporters.apply:report_github",
                                   "gpulab_apply.reporters.failure:report_github"),
    ("status", "text"): Registered("gpulab_apply.reporters.status:report_text",
                                  "gpulab_apply.reporters.failure:report_text"),
    ("status", "json"): Registered("gpulab_apply.reporters.status:report_json",
                                  "gpulab_apply.reporters.failure:report_json"),
    ("status", "markdown"): Registered("gpulab_apply.reporters.markdown:report_status",
                                      "gpulab_apply.reporters.markdown:report_failure"),
    ("whoami", "text"): Registered("gpulab_apply.reporters.identity:report_text",
                                  "gpulab_apply.reporters.failure:report_text"),
    ("whoami", "json"): Registered("gpulab_apply.reporters.identity:report_json",
                                  "gpulab_apply.reporters.failure:report_json"),
    ("render", "yaml"): Registered("gpulab_apply.reporters.render:report_yaml",
                                  "gpulab_apply.reporters.failure:report_text"),
    ("render", "json"): Registered("gpulab_apply.reporters.render:report_json",
                                  "gpulab_apply.reporters.failure:report_json"),
    ("show", "text"): Registered("gpulab_apply.reporters.show:report_text",
                                "gpulab_apply.reporters.failure:report_text"),
    ("show", "json"): Registered("gpulab_apply.reporters.show:report_json",
                                "gpulab_apply.reporters.failure:report_json"),
    ("show", "markdown"): Registered("gpulab_apply.reporters.show:report_markdown",
                                    "gpulab_apply.reporters.markdown:report_failure"),
    ("show", "github"): Registered("gpulab_apply.reporters.show:report_github",
                                  "gpulab_apply.reporters.failure:report_github"),
}
#: version of each kind's JSON document; bumped on any incompatible change (docs/plan-apply.md, docs/validate.md)
VERSIONS: Mapping[Kind, int] = {"validate": 2, "plan": 2, "apply": 2, "status": 2, "whoami": 1, "render": 2,
                               "show": 1}
#: each kind's own keys of its JSON document, in order, with the value a command that failed before its result gives
#: them: [] for a list, else null (``set`` is the command's set when known). Declared, so that a failure report
#: builds nothing to learn them; tests/cli/test_output_formats.py keeps them equal to the keys of each successful document.
EMPTY_BODIES: Mapping[Kind, Mapping[str, Any]] = {
    "validate": {"files": None, "summary": None, "jobs": [], "unsetVariables": []},
    "plan": {"set": None, "narrowedTo": [], "hasChanges": None, "remoteFingerprint": None, "warnings": [],
             "refusals": [], "gpuHours": None, "sweeps": None, "capacity": [], "usage": None, "summary": None,
             "entries": []},
    "apply": {"runId": None, "set": None, "changed": None, "interrupted": None, "summary": None, "outcomes": [],
              "plan": None},
    "status": {"set": None, "now": None, "jobs": [], "gpuHoursUsed": None, "results": None},
    "whoami": {"user": None, "email": None, "certificate": None, "validUntil": None, "daysLeft": None,
               "endpoint": None, "apiVersion": None, "project": None, "set": None, "accepted": None,
               "checkSeconds": None},
    "render": {"jobs": [], "unsetVariables": []},
    "show": {"planFile": None, "created": None, "toolVersion": None, "set": None, "endpoint": None,
             "apiVersion": None, "paths": [], "options": None, "summary": None, "summaryLine": None, "warnings": [],
             "remoteFingerprint": None, "desiredFingerprint": None, "entries": []},
}
#: formats that write one whole document per command: a command writes nothing else to stdout in them
DOCUMENT_FORMATS = frozenset({"json", "markdown", "gitlab"})


class Reporter(Protocol):
    """The one call signature of every reporter."""

    def __call__(self, result: Any, stream: TextIO, *, color: bool = False) -> None: ...


class FailureReporter(Protocol):
    """The one call signature of every failure reporter."""

    def __call__(self, failure: Failure, stream: TextIO) -> None: ...


class Failure(NamedTuple):
    """A command that stopped before its result: what stopped it, and what it had by then."""

    kind: Kind
    message: str
    hint: str | None = None
    exit_status: int = 1
    #: located problems (invalid job files), sorted by file, line and column
    problems: tuple[Problem, ...] = ()
    #: job files read, for the summary line of problems
    files: int = 0
    set_name: str | None = None
    #: what the command had made before it stopped (the plan that a guard refused), or None
    partial: Any = None


def formats(kind: Kind) -> tuple[str, ...]:
    """The ``--format`` choices of a command: ``auto`` then the registered ones."""
    return (AUTO, *registered(kind))


def registered(kind: Kind) -> tuple[str, ...]:
    """The formats registered for ``kind``, in the order of :data:`REGISTRY`."""
    return tuple(fmt for known, fmt in REGISTRY if known == kind)


def resolve_format(kind: Kind, fmt: str, env: Mapping[str, str]) -> str:
    """``auto`` -> ``github`` when ``GITHUB_ACTIONS=true`` and the kind has it, else ``text``."""
    if fmt != AUTO:
        return fmt
    return "github" if env.get("GITHUB_ACTIONS") == "true" and (kind, "github") in REGISTRY else "text"


def _load(name: str) -> Any:
    module, function = name.split(":")
    return getattr(importlib.import_module(module), function)


def reporter(kind: Kind, fmt: str) -> Reporter:
    found: Reporter = _load(REGISTRY[(kind, fmt)].report)
    return found


def fail_reporter(kind: Kind, fmt: str) -> FailureReporter:
    """What ``fmt`` writes for a command of ``kind`` that failed (:class:`Failure`)."""
    found: FailureReporter = _load(REGISTRY[(kind, fmt)].fail)
    return found


def report(kind: Kind, fmt: str, result: object, stream: TextIO, *, color: bool = False) -> None:
    """Write ``result`` as ``kind`` in ``fmt``."""
    reporter(kind, fmt)(result, stream, color=color)


# --- the JSON envelope ------------------------------------------------------------------------------


def location_document(location: Location | None) -> dict[str, Any] | None:
    """``{"file", "line", "column"}`` (1-based; line and column null for a whole file), or null."""
    if location is None:
        return None
    return {"file": location.path, "line": location.line, "column": location.column}


def problem_document(problem: Problem) -> dict[str, Any]:

    return {"location": location_document(problem.location), "severity": problem.severity.value,
            "jsonPath": problem.json_path, "message": mask_message(problem.message),
            "hint": mask_message(problem.hint) if problem.hint else None}


def envelope(kind: Kind, *, ok: bool, body: Mapping[str, Any], problems: Sequence[Problem] = (),
             error: Failure | None = None) -> dict[str, Any]:
    """A public JSON document: the shared keys around the kind's own."""
    return {
        "version": VERSIONS[kind],
        "kind": kind,
        "ok": ok,
        **body,
        "problems": [problem_document(problem) for problem in problems],
        "error": None if error is None else {"message": error.message, "hint": error.hint,
                                             "exitStatus": error.exit_status},
    }
