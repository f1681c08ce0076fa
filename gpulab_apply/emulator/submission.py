"""A POSTed Job2 body -> the request GPULab stores: defaults filled in, paths ending in ``/``.

Also reads the reserved environment variables that steer the simulation (documented in
``docs/emulator.md``) and GPULab's duration strings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gpulab_apply.emulator.clock import format_time, parse_time
from gpulab_apply.emulator.http_error import HttpError
from gpulab_apply.jobfiles.checks import parse_duration

#: reserved ``request.docker.environment`` variables read by the emulator (never by GPULab)
RUNTIME_VARIABLE = "GPULAB_EMULATOR_RUNTIME"
EXIT_CODE_VARIABLE = "GPULAB_EMULATOR_EXIT_CODE"
HALT_AFTER_VARIABLE = "GPULAB_EMULATOR_HALT_AFTER"

_PROJECT_URN = re.compile(r"^urn:publicid:IDN\+([^+]+?)(?::[^+]+)?\+project\+([^+]+)$")
_TOP_LEVEL_KEYS = frozenset({"name", "description", "request", "owner", "deploymentEnvironment", "restartInfo"})


def duration_seconds(text: str) -> float:
    """GPULab's duration strings (``"30 s"``, ``"1.5 hours"``, ``"2 weeks"``) in seconds; ValueError if not one."""
    seconds = parse_duration(text.strip())
    if seconds is None:
        raise ValueError(f"not a GPULab duration: {text!r} (use a number and a unit such as '30 min', '2 days')")
    return seconds


def project_name(project_urn: str) -> str | None:
    match = _PROJECT_URN.match(project_urn)
    return match.group(2) if match else None


@dataclass(frozen=True, kw_only=True)
class Simulation:
    """How a job behaves in the emulator: total run time, exit code, when the scheduler halts it."""

    runtime: float
    exit_code: int
    halt_after: float | None


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
    """Check and normalise a POST body; ``default_project_urn=None`` means ``owner.projectUrn`` is required."""
    job = _mapping(body, "the job")
    unknown = sorted(set(job) - _TOP_LEVEL_KEYS)
    if unknown:
        raise HttpError(400, f"Invalid job: unknown top-level field(s): {', '.join(unknown)}")
    if "state" in job or "uuid" in job:
        raise HttpError(400, "Invalid job: 'state' and 'uuid' are set by GPULab, not by the submitter")
    name = job.get("name")
    if not isinstance(name, str) or not name:
        raise HttpError(400, "Invalid job: 'name' is required and must be a non-empty string")
    description = job.get("description")
    if description is not None and not isinstance(description, str):
        raise HttpError(400, "Invalid job: 'description' must be a string")
    owner = _mapping(job.get("owner") or {}, "owner")
    project_urn = owner.get("projectUrn", default_project_urn)
    if project_urn is None:
        raise HttpError(400, "Invalid job: owner.projectUrn is required in API v4.0 "
                             "(e.g. urn:publicid:IDN+ilabt.imec.be+project+myproject)")
    if not isinstance(project_urn, str) or project_name(project_urn) is None:
        raise HttpError(400, f"Invalid job: owner.projectUrn is not a project URN: {project_urn!r}")
    request = _mapping(job.get("request"), "request")
    unknown = sorted(set(request) - {"resources", "docker", "scheduling", "extra"})
    if unknown:
        raise HttpError(400, f"Invalid job: unknown field(s) in request: {', '.join(unknown)}")
    docker = _docker(_mapping(request.get("docker"), "request.docker"))
    normalised = {
        "resources": _resources(_mapping(request.get("resources"), "request.resources")),
        "docker": docker,
        "scheduling": _scheduling(_mapping(request.get("scheduling") or {}, "request.scheduling"),
                                  default_min_duration, default_max_duration),
        "extra": _extra(_mapping(request.get("extra") or {}, "request.extra")),
    }
    return Submission(name=name, description=description, request=normalised, project_urn=project_urn,
                      simulation=_simulation(docker["environment"], default_runtime))


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
    return Simulation(runtime=runtime, exit_code=exit_code, halt_after=duration(HALT_AFTER_VARIABLE, None))


def _resources(resources: Mapping[str, Any]) -> dict[str, Any]:
    _known(resources, "request.resources", ("cpus", "gpus", "cpuMemoryGb", "gpuMemoryGb", "features", "gpuModel",
                                            "minCudaVersion", "clusterId", "slaveName", "slaveInstanceId"))
    result: dict[str, Any] = {}
    for key, minimum in (("cpus", 1), ("gpus", 0), ("cpuMemoryGb", 1)):
        if key not in resources:
            raise HttpError(400, f"Invalid job: request.resources.{key} is required")
        result[key] = _integer(resources[key], f"request.resources.{key}", minimum)
    result["gpuMemoryGb"] = _optional_integer(resources.get("gpuMemoryGb"), "request.resources.gpuMemoryGb", 2)
    result["features"] = _string_list(resources.get("features"), "request.resources.features")
    result["gpuModel"] = _string_list(resources.get("gpuModel"), "request.resources.gpuModel")
    result["minCudaVersion"] = _optional_integer(resources.get("minCudaVersion"),
                                                 "request.resources.minCudaVersion", 0)
    result["clusterId"] = _optional_integer(resources.get("clusterId"), "request.resources.clusterId", 0)
    result["slaveName"] = _optional_string(resources.get("slaveName"), "request.resources.slaveName")
    result["slaveInstanceId"] = _optional_string(resources.get("slaveInstanceId"),
                                                 "request.resources.slaveInstanceId")
    return result


def _docker(docker: Mapping[str, Any]) -> dict[str, Any]:
    _known(docker, "request.docker", ("image", "command", "environment", "storage", "portMappings",
                                      "projectGidVariableName", "workingDir", "groupAdd", "user"))
    image = docker.get("image")
    if not isinstance(image, str) or not image:
        raise HttpError(400, "Invalid job: request.docker.image is required and must be a string")
    command = docker.get("command", [])
    if not (isinstance(command, str) or _is_string_list(command)):
        raise HttpError(400, "Invalid job: request.docker.command must be a string or a list of strings")
    environment = _mapping(docker.get("environment") or {}, "request.docker.environment")
    for variable, value in environment.items():
        if not isinstance(value, str | int | bool):
            raise HttpError(400, f"Invalid job: request.docker.environment.{variable} must be a string, "
                                 "an integer or a boolean")
    working_dir = _optional_string(docker.get("workingDir"), "request.docker.workingDir")
    if working_dir is not None and not working_dir.endswith("/"):
        raise HttpError(400, f"Invalid job: request.docker.workingDir must end with '/': {working_dir!r}")
    return {
        "image": image,
        "command": command,
        "environment": dict(environment),
        "storage": [_storage(entry, index) for index, entry in enumerate(_list(docker.get("storage"),
                                                                               "request.docker.storage"))],
        "portMappings": [_port_mapping(entry) for entry in _list(docker.get("portMappings"),
                                                                 "request.docker.portMappings")],
        "projectGidVariableName": _optional_string(docker.get("projectGidVariableName"),
                                                   "request.docker.projectGidVariableName"),
        "workingDir": working_dir,
        "groupAdd": _string_list(docker.get("groupAdd"), "request.docker.groupAdd"),
        "user": _optional_string(docker.get("user"), "request.docker.user"),
    }


def _storage(entry: object, index: int) -> dict[str, Any]:
    where = f"request.docker.storage[{index}]"
    if isinstance(entry, str):
        entry = {"hostPath": entry}
    entry = _mapping(entry, where)
    if entry.get("hostPath") == "tmpfs":
        _known(entry, where, ("hostPath", "containerPath", "sizeGb"))
        container = entry.get("containerPath")
        if not isinstance(container, str):
            raise HttpError(400, f"Invalid job: {where}.containerPath is required for a tmpfs mount")
        return {"hostPath": "tmpfs", "containerPath": _directory(container),
                "sizeGb": _integer(entry.get("sizeGb"), f"{where}.sizeGb", 1)}
    _known(entry, where, ("hostPath", "containerPath"))
    host = _optional_string(entry.get("hostPath"), f"{where}.hostPath")
    container = _optional_string(entry.get("containerPath"), f"{where}.containerPath")
    if host is None and container is None:
        raise HttpError(400, f"Invalid job: {where} needs hostPath or containerPath")
    if host == ".ssh":
        return {"containerPath": _directory(container or "/root/.ssh"), "hostPath": ".ssh"}
    if host == "PROJECT_SHARE_AUTO":
        return {"containerPath": _directory(container or "/project"), "hostPath": host}
    return {"containerPath": _directory(container or host or ""), "hostPath": _directory(host or container or "")}


def _directory(path: str) -> str:
    return path if path.endswith("/") else path + "/"


def _port_mapping(entry: object) -> dict[str, Any]:
    if isinstance(entry, int) and not isinstance(entry, bool):
        entry = {"containerPort": entry}
    entry = _mapping(entry, "request.docker.portMappings[]")
    _known(entry, "request.docker.portMappings[]", ("containerPort", "hostPort", "hostIp"))
    return {"containerPort": _integer(entry.get("containerPort"), "request.docker.portMappings[].containerPort", 1),
            "hostPort": _optional_integer(entry.get("hostPort"), "request.docker.portMappings[].hostPort", 1),
            "hostIp": _optional_string(entry.get("hostIp"), "request.docker.portMappings[].hostIp")}


def _scheduling(scheduling: Mapping[str, Any], default_min: str, default_max: str) -> dict[str, Any]:
    scheduling = dict(scheduling)
    # GPULab's schema accepts these aliases on input and returns the canonical names.
    if "killableAfter" in scheduling:
        scheduling.setdefault("minDuration", scheduling.pop("killableAfter"))
    if "reservationId" in scheduling:
        scheduling.setdefault("reservationIds", scheduling.pop("reservationId"))
    _known(scheduling, "request.scheduling", ("interactive", "restartable", "allowHaltWithoutSignal", "minDuration",
                                              "maxDuration", "reservationIds", "maxSimultaneousJobs", "notBefore",
                                              "notAfter"))
    result: dict[str, Any] = {
        "interactive": _boolean(scheduling.get("interactive", False), "request.scheduling.interactive"),
        "minDuration": _duration(scheduling.get("minDuration", default_min), "request.scheduling.minDuration"),
        "restartable": _boolean(scheduling.get("restartable", False), "request.scheduling.restartable"),
        "allowHaltWithoutSignal": _boolean(scheduling.get("allowHaltWithoutSignal", False),
                                           "request.scheduling.allowHaltWithoutSignal"),
        "reservationIds": _string_list(scheduling.get("reservationIds"), "request.scheduling.reservationIds"),
        "maxDuration": _duration(scheduling.get("maxDuration", default_max), "request.scheduling.maxDuration"),
        "maxSimultaneousJobs": None,
        "notBefore": _timestamp(scheduling.get("notBefore"), "request.scheduling.notBefore"),
        "notAfter": _timestamp(scheduling.get("notAfter"), "request.scheduling.notAfter"),
    }
    bucket = scheduling.get("maxSimultaneousJobs")
    if bucket is not None:
        bucket = _mapping(bucket, "request.scheduling.maxSimultaneousJobs")
        _known(bucket, "request.scheduling.maxSimultaneousJobs", ("bucketName", "bucketMax"))
        name = bucket.get("bucketName")
        if not isinstance(name, str) or not name:
            raise HttpError(400, "Invalid job: request.scheduling.maxSimultaneousJobs.bucketName is required")
        result["maxSimultaneousJobs"] = {
            "bucketName": name,
            "bucketMax": _integer(bucket.get("bucketMax"), "request.scheduling.maxSimultaneousJobs.bucketMax", 1)}
    if result["notBefore"] and result["notAfter"] and \
            parse_time(result["notAfter"]) <= parse_time(result["notBefore"]):
        raise HttpError(400, "Invalid job: request.scheduling.notAfter must be after notBefore")
    if duration_seconds(result["maxDuration"]) < 60:
        raise HttpError(400, "Invalid job: request.scheduling.maxDuration must be at least 60 seconds")
    return result


def _extra(extra: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("sshPubKeys", "emailOnQueue", "emailOnRun", "emailOnEnd", "emailOnHalt", "emailOnRestart")
    _known(extra, "request.extra", keys)
    return {key: _string_list(extra.get(key), f"request.extra.{key}") for key in keys}


# --- small checks ---------------------------------------------------------------------------------


def _known(mapping: Mapping[str, Any], where: str, keys: tuple[str, ...]) -> None:
    unknown = sorted(set(mapping) - set(keys))
    if unknown:
        raise HttpError(400, f"Invalid job: unknown field(s) in {where}: {', '.join(unknown)}")


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise HttpError(400, f"Invalid job: {where} must be an object")
    return value


def _list(value: object, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise HttpError(400, f"Invalid job: {where} must be a list")
    return value


def _is_string_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _string_list(value: object, where: str) -> list[str]:
    if isinstance(value, str):  # GPULab accepts a single string for its list fields
        return [value]
    value = _list(value, where)
    if not _is_string_list(value):
        raise HttpError(400, f"Invalid job: {where} must be a list of strings")
    return value


def _integer(value: object, where: str, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise HttpError(400, f"Invalid job: {where} must be an integer >= {minimum}, not {value!r}")
    return value


def _optional_integer(value: object, where: str, minimum: int) -> int | None:
    return None if value is None else _integer(value, where, minimum)


def _optional_string(value: object, where: str) -> str | None:
    if value is not None and (not isinstance(value, str) or not value):
        raise HttpError(400, f"Invalid job: {where} must be a non-empty string")
    return value


def _boolean(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise HttpError(400, f"Invalid job: {where} must be true or false, not {value!r}")
    return value


def _duration(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise HttpError(400, f"Invalid job: {where} must be a duration string such as '2 days'")
    try:
        duration_seconds(value)
    except ValueError as exc:
        raise HttpError(400, f"Invalid job: {where}: {exc}") from None
    return value


def _timestamp(value: object, where: str) -> str | None:
    if value is None:
        return None
    try:
        return format_time(parse_time(str(value)))
    except ValueError:
        raise HttpError(400, f"Invalid job: {where} must be an RFC 3339 time with a zone, "
                             f"e.g. 2026-01-10T08:00:00Z, not {value!r}") from None
