"""A POSTed Job2 body -> the job GPULab stores, in the one normal form (:mod:`gpulab_apply.jobmodel.normal_form`).

Also reads the reserved environment variables that steer the simulation (documented in
``docs/emulator.md``) and GPULab's duration strings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gpulab_apply.emulator.http_error import HttpError
from gpulab_apply.jobmodel.durations import parse_duration
from gpulab_apply.jobmodel.normal_form import canonical_job, normal_request

#: reserved ``request.docker.environment`` variables read by the emulator (never by GPULab)
RUNTIME_VARIABLE = "GPULAB_EMULATOR_RUNTIME"
EXIT_CODE_VARIABLE = "GPULAB_EMULATOR_EXIT_CODE"
HALT_AFTER_VARIABLE = "GPULAB_EMULATOR_HALT_AFTER"
#: the first N runs of a job (same name and request) fail with exit code 1, later ones run as written
FAIL_RUNS_VARIABLE = "GPULAB_EMULATOR_FAIL_RUNS"

# GPULab's model searches for its URN pattern anywhere in the value (docs/validate.md#what-gpulab-accepts)
_PROJECT_URN = re.compile(r"urn:publicid:IDN\+([^+:]+)(?::[^+]+)?\+project\+([^+]+)\Z")
_TOP_LEVEL_KEYS = frozenset({"name", "description", "request", "owner", "deploymentEnvironment", "restartInfo"})


def duration_seconds(text: str) -> float:
    """GPULab's duration strings (``"30 s"``, ``"1.5 hours"``, ``"2 weeks"``) in seconds; ValueError if not one."""
    seconds = parse_duration(text.strip())
    if seconds is None:
        raise ValueError(f"not a GPULab duration: {text!r} (use a number and a unit such as '30 min', '2 days')")
    return seconds


def project_name(project_urn: str) -> str | None:
    match = _PROJECT_URN.search(project_urn)
    return match.group(2) if match else None


@dataclass(frozen=True, kw_only=True)
class Simulation:
    """How a job behaves in the emulator: total run time, exit code, when the scheduler halts it."""

    runtime: float
    exit_code: int
    halt_after: float | None
    #: how many runs of this job (by name and request) fail before one runs as written (docs/emulator.md)
    fail_runs: int = 0


@dataclass(frozen=True, kw_only=True)
class Submission:
    """A checked, normalised new job."""

    name: str
    description: str | None
    request: dict[str, Any]
    project_urn: str
    simulation: Simulation


def normalise(body: object, *, default_project_urn: str | None, default_runtime: str,
              default_min_duration: str, default_max_duration: str) -> Submission:
    """A job GPULab's rules accept (:func:`gpulab_apply.jobfiles.validation.submission_problems`) as GPULab stores it.

    ``default_project_urn=None`` means ``owner.projectUrn`` is required (API v4.0).
    """
    job = _mapping(canonical_job(body).job, "the job")
    unknown = sorted(set(job) - _TOP_LEVEL_KEYS)
    if unknown:
        raise HttpError(400, f"Invalid job: unknown top-level field(s): {', '.join(unknown)}")
    name = job.get("name")
    if not isinstance(name, str) or not name:
        raise HttpError(400, "Invalid job: 'name' is required and must be a non-empty string")
    owner = _mapping(job.get("owner") or {}, "owner")
    project_urn = owner.get("projectUrn", default_project_urn)
    if project_urn is None:
        raise HttpError(400, "Invalid job: owner.projectUrn is required in API v4.0 "
                             "(e.g. urn:publicid:IDN+ilabt.imec.be+project+myproject)")
    if not isinstance(project_urn, str) or project_name(project_urn) is None:
        raise HttpError(400, f"Invalid job: owner.projectUrn is not a project URN: {project_urn!r}")
    request = normal_request(_mapping(job.get("request"), "request"), fill_defaults=True)
    scheduling = request["scheduling"]
    # GPULab's server, not its model, fills in the durations a job leaves out
    scheduling["minDuration"] = scheduling["minDuration"] or default_min_duration
    scheduling["maxDuration"] = scheduling["maxDuration"] or default_max_duration
    return Submission(name=name, description=job.get("description"), request=request, project_urn=project_urn,
                      simulation=_simulation(request["docker"]["environment"], default_runtime))


def _simulation(environment: Mapping[str, Any], default_runtime: str) -> Simulation:
    def duration(variable: str, default: str | None) -> float | None:
        value = environment.get(variable, default)
        if value is None:
            return None
        try:
            return duration_seconds(str(value))
        except ValueError as exc:
            raise HttpError(400, f"Invalid job: request.docker.environment.{variable}: {exc}") from None

    exit_code = environment.get(EXIT_CODE_VARIABLE, 0)
    try:
        exit_code = int(exit_code)
    except ValueError:
        raise HttpError(400, f"Invalid job: request.docker.environment.{EXIT_CODE_VARIABLE} "
                             f"must be an integer, not {exit_code!r}") from None
    runtime = duration(RUNTIME_VARIABLE, default_runtime)
    assert runtime is not None
    fail_runs = environment.get(FAIL_RUNS_VARIABLE, 0)
    try:
        fail_runs = int(fail_runs)
    except ValueError:
        fail_runs = -1
    if fail_runs < 0:
        raise HttpError(400, f"Invalid job: request.docker.environment.{FAIL_RUNS_VARIABLE} "
                             f"must be a whole number >= 0, not {environment.get(FAIL_RUNS_VARIABLE)!r}")
    return Simulation(runtime=runtime, exit_code=exit_code, halt_after=duration(HALT_AFTER_VARIABLE, None),
                      fail_runs=fail_runs)


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise HttpError(400, f"Invalid job: {where} must be an object")
    return value
