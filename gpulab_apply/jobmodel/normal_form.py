"""How GPULab reads a submitted Job2 document: one normal form for validate, the planner, the emulator and import.

GPULab's job model (pydantic, lax mode) accepts more than the canonical JSON: snake_case keys and old
names (``killableAfter``), numbers as text (``cpus: "4"``), words for booleans (``interactive: yes``),
a single value for a list, timestamps without seconds or as Unix numbers, e-mail addresses with a
display name. It converts each to one canonical value before it stores the job. Two steps mirror that:

* :func:`canonical_job` rewrites every such form to the canonical JSON and says where and why (validate
  shows each as a warning). A canonical job comes back unchanged. It is what gpulab-apply submits and
  hashes, so writing ``"4"`` or ``4`` is never a change.
* :func:`normal_request` is the request as GPULab then stores and serves it: storage paths ending in
  ``/`` with each other as default (``.ssh`` and ``/root/.ssh/`` paired), ports as mappings, times in
  UTC, e-mail domains lower-cased and, with ``fill_defaults``, every absent field at its default.

Values GPULab would refuse are left as they are, for the schema and the checks to report.
(docs/validate.md#what-gpulab-accepts lists each rule.)
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from gpulab_apply.jobmodel.durations import stored_duration
from gpulab_apply.jobmodel.lax import bare_email, lax_bool, lax_int, lax_time, normal_email, utc_text

Path = tuple[str | int, ...]

# --- GPULab's field table --------------------------------------------------------------------------
# Kinds of value: how GPULab's model coerces what it is given.
INT, BOOL, TEXT, DURATION, TIME, WORDS, LIST, EMAILS, ENV, PORTS, STORAGE, ANY = (
    "int", "bool", "text", "duration", "time", "words", "list", "emails", "env", "ports", "storage", "any")

#: each object's fields in GPULab's order, with their kind (or the object they hold)
OBJECTS: Mapping[str, Mapping[str, str]] = {
    "job": {"name": TEXT, "request": "request", "description": TEXT, "state": ANY, "restartInfo": ANY,
            "owner": "owner", "deploymentEnvironment": TEXT},
    "owner": {"projectUrn": TEXT, "userUrn": TEXT, "userEmail": TEXT, "userDetails": ANY},
    "request": {"resources": "resources", "docker": "docker", "scheduling": "scheduling", "extra": "extra"},
    "resources": {"cpus": INT, "gpus": INT, "cpuMemoryGb": INT, "gpuMemoryGb": INT, "features": WORDS,
                  "gpuModel": WORDS, "minCudaVersion": INT, "clusterId": INT, "slaveName": TEXT,
                  "slaveInstanceId": TEXT},
    "docker": {"image": TEXT, "command": ANY, "environment": ENV, "storage": STORAGE, "portMappings": PORTS,
               "projectGidVariableName": TEXT, "workingDir": TEXT, "groupAdd": LIST, "user": TEXT},
    "directoryMount": {"containerPath": TEXT, "hostPath": TEXT},
    "tmpfsMount": {"hostPath": TEXT, "containerPath": TEXT, "sizeGb": INT},
    "portMapping": {"containerPort": INT, "hostPort": INT, "hostIp": TEXT},
    "scheduling": {"interactive": BOOL, "minDuration": DURATION, "restartable": BOOL, "allowHaltWithoutSignal": BOOL,
                   "reservationIds": LIST, "maxDuration": DURATION, "maxSimultaneousJobs": "bucket",
                   "notBefore": TIME, "notAfter": TIME},
    "bucket": {"bucketName": TEXT, "bucketMax": INT},
    "extra": {"sshPubKeys": ANY, "emailOnQueue": EMAILS, "emailOnRun": EMAILS, "emailOnEnd": EMAILS,
              "emailOnHalt": EMAILS, "emailOnRestart": EMAILS},
}

#: old names GPULab still reads, per object
OLD_NAMES: Mapping[str, Mapping[str, str]] = {
    "scheduling": {"killableAfter": "minDuration", "reservationId": "reservationIds"}}

#: what a field is when absent, as GPULab stores a new job (the server adds its own duration defaults)
DEFAULTS: Mapping[str, Callable[[], Any]] = {
    WORDS: list, LIST: list, EMAILS: list, ENV: dict, PORTS: list, STORAGE: list, BOOL: lambda: False}
_LIST_DEFAULTS = frozenset({"command", "sshPubKeys"})

_SNAKE = re.compile(r"(?<!^)([A-Z])")


def snake_case(name: str) -> str:
    """The Python name GPULab's model also accepts for a camelCase key: ``cpuMemoryGb`` -> ``cpu_memory_gb``."""
    return _SNAKE.sub(r"_\1", name).lower()


# --- canonical_job -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rewrite:
    """One non-canonical form in a job: where it is written, what GPULab reads it as, and the canonical JSON."""

    path: Path
    message: str
    canonical: Any
    at_key: bool = False


class CanonicalJob:
    """A job rewritten to canonical JSON, with each rewrite and a map back to where things were written."""

    __slots__ = ("job", "moved", "rewrites")

    def __init__(self, job: Any) -> None:
        self.job = job
        self.rewrites: list[Rewrite] = []
        #: canonical path prefix -> the path where it is written in the document
        self.moved: dict[Path, Path] = {}

    def source_path(self, path: Path) -> Path:
        """Where the value at ``path`` of the canonical job is written in the document."""
        for cut in range(len(path), 0, -1):
            written = self.moved.get(path[:cut])
            if written is not None:
                return (*written, *path[cut:])
        return path


def canonical_job(job: Any) -> CanonicalJob:
    """``job`` in canonical JSON, every rewrite GPULab's lax reading would make noted; canonical input is unchanged.

    Keys outside GPULab's format (``x-gpulab-apply``) are kept as they are.
    """
    result = CanonicalJob(job)
    if isinstance(job, Mapping):
        result.job = _object(job, "job", (), (), result)
        for key in ("state", "restartInfo"):  # GPULab sets them; null is accepted and means nothing
            if key in result.job and result.job[key] is None:
                del result.job[key]
                result.rewrites.append(Rewrite((key,), f"{key}: null is ignored by GPULab", None, at_key=True))
    return result


@functools.cache
def _other_names(kind: str) -> Mapping[str, str]:
    """The names GPULab also reads for each field of ``kind``: snake_case and old names."""
    fields = OBJECTS[kind]
    other_names = {snake_case(name): name for name in fields if snake_case(name) != name}
    other_names.update(OLD_NAMES.get(kind, {}))
    return other_names


def _object(value: Mapping[str, Any], kind: str, path: Path, source: Path, out: CanonicalJob) -> dict[str, Any]:
    fields = OBJECTS[kind]
    if all(key in fields for key in value):  # the common case: nothing to rename
        return {key: _value(item, fields[key], (*path, key), (*source, key), out) for key, item in value.items()}
    other_names = _other_names(kind)
    taken = {name for name in value if name in fields}
    result: dict[str, Any] = {}
    for key, item in value.items():
        name = key
        if key not in fields and other_names.get(key) in fields and other_names[key] not in taken:
            name = other_names[key]
            taken.add(name)
            if kind == "directoryMount" and name == "hostPath" and item == "tmpfs":
                item = "tmpfs/"  # GPULab picks the mount type by the camelCase key: this is a directory
            out.rewrites.append(Rewrite((*source, key), f"GPULab reads {key} as {name}", name, at_key=True))
            out.moved[(*path, name)] = (*source, key)
        result[name] = _value(item, fields.get(name, ANY), (*path, name), (*source, key), out)
    return result


#: kinds whose converters note each rewrite themselves, item by item
_NOTE_THEIR_OWN = frozenset({WORDS, LIST, EMAILS, ENV, PORTS, STORAGE})


def _value(value: Any, kind: str, path: Path, source: Path, out: CanonicalJob) -> Any:
    if kind is TEXT or kind is ANY:
        return value
    if kind in OBJECTS:
        return _object(value, kind, path, source, out) if isinstance(value, Mapping) else value
    canonical = _CONVERT[kind](value, path, source, out) if kind in _CONVERT else value
    if kind not in _NOTE_THEIR_OWN and (canonical != value or type(canonical) is not type(value)):
        out.rewrites.append(Rewrite(source, f"{_short(value)} is read by GPULab as {_json(canonical)}", canonical))
    return canonical


def _int(value: Any, *_: Any) -> Any:
    number = lax_int(value)
    return value if number is None or value is None else number


def _bool(value: Any, *_: Any) -> Any:
    truth = lax_bool(value)
    return value if truth is None else truth


def _duration(value: Any, *_: Any) -> Any:
    return stored_duration(value)


#: RFC 3339 as the schema wants it; other forms GPULab reads are rewritten to UTC
_RFC3339 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})")


def _time(value: Any, *_: Any) -> Any:
    if value is None or (isinstance(value, str) and _RFC3339.fullmatch(value)):
        return value
    moment = lax_time(value)
    return value if moment is None else utc_text(moment) if not moment.microsecond \
        else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _single(value: Any, path: Path, source: Path, out: CanonicalJob, *, none: bool = False) -> Any:
    if value is None and none:
        out.rewrites.append(Rewrite(source, "null is read by GPULab as an empty list", []))
        return []
    if isinstance(value, list) or value is None or (not none and not isinstance(value, str)):
        return value
    out.rewrites.append(Rewrite(source, f"a single value is read by GPULab as a list: {_json([value])}", [value]))
    out.moved[(*path, 0)] = source
    return [value]


def _words(value: Any, path: Path, source: Path, out: CanonicalJob) -> Any:
    return _single(value, path, source, out)


def _list(value: Any, path: Path, source: Path, out: CanonicalJob) -> Any:
    return _single(value, path, source, out, none=True)


def _emails(value: Any, path: Path, source: Path, out: CanonicalJob) -> Any:
    if not isinstance(value, list):
        return value
    result = []
    for index, item in enumerate(value):
        bare = bare_email(item) if isinstance(item, str) else item
        if bare != item:
            out.rewrites.append(Rewrite((*source, index), f"{_short(item)} is read by GPULab as {_json(bare)}", bare))
        result.append(bare)
    return result


def _environment(value: Any, path: Path, source: Path, out: CanonicalJob) -> Any:
    if not isinstance(value, Mapping):
        return value
    result = {}
    for name, item in value.items():
        if isinstance(item, float) and lax_int(item) is not None:
            out.rewrites.append(Rewrite((*source, name), f"{item!r} is read by GPULab as {lax_int(item)}",
                                        lax_int(item)))
            item = lax_int(item)
        result[name] = item
    return result


def _ports(value: Any, path: Path, source: Path, out: CanonicalJob) -> Any:
    if not isinstance(value, list):
        return value
    result: list[Any] = []
    for index, item in enumerate(value):
        if isinstance(item, bool):
            out.rewrites.append(Rewrite((*source, index), f"{_json(item)} is read by GPULab as port {int(item)}",
                                        int(item)))
            item = int(item)
        elif isinstance(item, Mapping):
            item = _object(item, "portMapping", (*path, index), (*source, index), out)
        result.append(item)
    return result


def _storage(value: Any, path: Path, source: Path, out: CanonicalJob) -> Any:
    if not isinstance(value, list):
        return value
    result: list[Any] = []
    for index, item in enumerate(value):
        if isinstance(item, Mapping):
            kind = "tmpfsMount" if item.get("hostPath") == "tmpfs" else "directoryMount"
            item = _object(item, kind, (*path, index), (*source, index), out)
        result.append(item)
    return result


_CONVERT: Mapping[str, Callable[[Any, Path, Path, CanonicalJob], Any]] = {
    INT: _int, BOOL: _bool, DURATION: _duration, TIME: _time, WORDS: _words, LIST: _list, EMAILS: _emails,
    ENV: _environment, PORTS: _ports, STORAGE: _storage}


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


# --- normal_request --------------------------------------------------------------------------------------


def normal_request(request: Mapping[str, Any], *, fill_defaults: bool = False) -> dict[str, Any]:
    """A (valid) request as GPULab stores and serves it; idempotent, so it may be applied to both sides of a diff.

    ``fill_defaults`` adds every absent field at GPULab's default (a new job as stored); without it,
    only what is there is normalised (for a diff against a server that fills its own defaults).
    """
    canonical = canonical_job({"request": request}).job.get("request")
    if not isinstance(canonical, Mapping):
        return dict(request)
    result: dict[str, Any] = {}
    for part in OBJECTS["request"]:
        section = canonical.get(part, {} if fill_defaults else None)
        if isinstance(section, Mapping):
            result[part] = _normal_section(part, section, fill_defaults)
        elif part in canonical:
            result[part] = section
    result.update({key: value for key, value in canonical.items() if key not in result})  # left for the schema
    return result


def _normal_section(kind: str, section: Mapping[str, Any], fill_defaults: bool) -> dict[str, Any]:
    fields = OBJECTS[kind]
    result: dict[str, Any] = {}
    for name, field_kind in fields.items():
        if name in section:
            result[name] = _normal_value(field_kind, section[name])
        elif fill_defaults:
            result[name] = [] if name in _LIST_DEFAULTS else DEFAULTS.get(field_kind, lambda: None)()
    result.update({key: value for key, value in section.items() if key not in fields})  # left for the schema
    return result


def _normal_value(kind: str, value: Any) -> Any:
    if kind == TIME and value is not None:
        moment = lax_time(value.upper() if isinstance(value, str) else value)
        return value if moment is None else utc_text(moment)
    if kind == EMAILS and isinstance(value, list):
        return [normal_email(item) if isinstance(item, str) else item for item in value]
    if kind == STORAGE and isinstance(value, list):
        return [normal_mount(item) for item in value]
    if kind == PORTS and isinstance(value, list):
        return [_normal_port(item) for item in value]
    if kind == "bucket" and isinstance(value, Mapping):
        return dict(value)
    return value


def _normal_port(port: Any) -> Any:
    if isinstance(port, int):
        port = {"containerPort": port}
    if not isinstance(port, Mapping):
        return port
    return {"containerPort": port.get("containerPort"), "hostPort": port.get("hostPort"),
            "hostIp": port.get("hostIp")}


def _directory(path: str) -> str:
    return path if path.endswith("/") else path + "/"


def normal_mount(mount: Any) -> Any:
    """One storage entry as GPULab stores it (its ``JobStorage`` rules; idempotent)."""
    if isinstance(mount, str):
        mount = {"hostPath": mount}
    if not isinstance(mount, Mapping):
        return mount
    if mount.get("hostPath") == "tmpfs":
        container = mount.get("containerPath")
        return {"hostPath": "tmpfs", "containerPath": _directory(container) if isinstance(container, str)
                else container, "sizeGb": mount.get("sizeGb")}
    host, container = mount.get("hostPath"), mount.get("containerPath")
    host = _directory(host) if isinstance(host, str) else None
    container = _directory(container) if isinstance(container, str) else None
    if host == ".ssh/" and not container:
        container = "/root/.ssh/"
    if container == "/root/.ssh/" and not host:
        host = ".ssh/"
    return {"containerPath": container or host, "hostPath": host or container}
