"""Job files for jobs GPULab already runs: what ``gpulab-apply import`` writes (docs/authoring.md#import-and-adoption).

The promises, each kept here by construction and checked again by the command before it writes:

* **Lossless**: :func:`file_form` is the job as GPULab stores it, minus only the values GPULab would fill
  in by itself (its model's defaults, and the server's documented duration defaults). Submitting the
  file gives the request GPULab stores, field for field; a value (``DEBUG: false``, an empty description,
  a trailing newline) is never taken for a default. Strings holding ``${`` are escaped (``$${``) so that
  variable substitution gives them back as they were.
* **Aware of the defaults where it writes**: :func:`over_defaults` writes only what differs from the
  ``_defaults.yaml`` files that reach the file, and sets back what a default would change.
* **No secret in the file**: :class:`References` writes secret-looking values as ``${VAR}`` and names
  the variables the user must provide.
* **Only inside its directory**: :func:`file_names` gives every job its own file name (unique, no
  path separators, bounded length); :func:`write_new` never follows a symbolic link and never replaces
  a file unless told to.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import re
import secrets
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from gpulab_apply.gpulab.api import DEFAULT_MAX_DURATION
from gpulab_apply.jobmodel.normal_form import _LIST_DEFAULTS, DEFAULTS, OBJECTS, normal_request
from gpulab_apply.masking import is_secret_name
from gpulab_apply.model import RemoteJob
from gpulab_apply.reconcile.marker import parse_marker

#: what GPULab's server fills in for ``scheduling.minDuration`` when a job leaves it out: "very seldomly
#: stop your jobs after at least 1 week" (reference §2.4; the emulator fills in the same)
DEFAULT_MIN_DURATION = "1 week"
#: the durations GPULab's server (not its model) fills in, as the strings it stores
SERVER_DURATIONS: Mapping[str, str] = {"minDuration": DEFAULT_MIN_DURATION, "maxDuration": DEFAULT_MAX_DURATION}

UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_MARKER_PREFIX = "[gpulab-apply "


# --- the job as a file ---------------------------------------------------------------------------------


def stored_request(request: Mapping[str, Any]) -> dict[str, Any]:
    """``request`` as GPULab stores it when submitted: every field at its value or default, the server's
    duration defaults included. Two requests GPULab stores alike are equal here."""
    stored = normal_request(json.loads(json.dumps(request)), fill_defaults=True)
    scheduling = stored.get("scheduling")
    if isinstance(scheduling, dict):
        for key, default in SERVER_DURATIONS.items():
            if scheduling.get(key) is None:
                scheduling[key] = default
    return stored


def prose(description: str | None) -> str | None:
    """The user's description without the ownership marker lines a submission by this tool appended, else
    exactly as stored (an empty description stays empty, a trailing newline stays)."""
    if description is None or _MARKER_PREFIX not in description:
        return description
    lines = description.splitlines(keepends=True)
    kept = [line for line in lines if not (line.strip().startswith(_MARKER_PREFIX) and parse_marker(line))]
    if len(kept) == len(lines):
        return description
    text = "".join(kept)
    if lines[-1] not in kept and text.endswith("\n"):
        text = text[:-1]  # the newline with_marker put before the marker
    return text or None


def full_form(job: RemoteJob) -> dict[str, Any]:
    """The job with every field GPULab stores written out: where a default must be set back."""
    body: dict[str, Any] = {"name": job.name, "description": prose(job.description)}
    project = job.owner.get("projectUrn")
    if isinstance(project, str):
        body["owner"] = {"projectUrn": project}
    body["request"] = stored_request(job.request)
    return body


def file_form(job: RemoteJob, *, project_urn: str | None) -> dict[str, Any]:
    """The job file for ``job``: name, description, request, and ``owner.projectUrn`` when it is not
    ``project_urn`` (the configured project); every field at the value GPULab itself would fill in left out."""
    body: dict[str, Any] = {"name": job.name}
    description = prose(job.description)
    if description is not None:
        body["description"] = description
    project = job.owner.get("projectUrn")
    if isinstance(project, str) and project != project_urn:
        body["owner"] = {"projectUrn": project}
    body["request"] = _minimal_request(stored_request(job.request))
    return body


def _minimal_request(request: Mapping[str, Any]) -> dict[str, Any]:
    """Each field GPULab would fill in by itself dropped (only at the top of each section: a value inside an
    environment, a mount or a list is data, never a default); an emptied section dropped."""
    result: dict[str, Any] = {}
    for part, section in request.items():
        if part not in OBJECTS["request"] or not isinstance(section, Mapping):
            result[part] = section
            continue
        fields = OBJECTS[part]
        kept = {name: _minimal_value(name, value) for name, value in section.items()
                if name not in fields or not _is_default(part, name, fields[name], value)}
        if kept or part in ("resources", "docker"):
            result[part] = kept
    return result


def _is_default(part: str, name: str, kind: str, value: Any) -> bool:
    if part == "scheduling" and name in SERVER_DURATIONS:
        return _same(value, SERVER_DURATIONS[name])
    default: Any = [] if name in _LIST_DEFAULTS else DEFAULTS.get(kind, lambda: None)()
    return _same(value, default)


def _minimal_value(name: str, value: Any) -> Any:
    if name == "portMappings" and isinstance(value, list):  # GPULab fills in a port's absent host side
        return [{key: item for key, item in port.items() if item is not None or key == "containerPort"}
                if isinstance(port, Mapping) else port for port in value]
    return value


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON values: ``false`` is not ``0``, ``1`` is not ``1.0``."""
    return bool(json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True))


# --- variables -----------------------------------------------------------------------------------------


def escape_variables(value: Any) -> Any:
    """``value`` with every ``${`` in a string written ``$${``, so that variable substitution gives the
    string back as GPULab stores it (a command's ``${HOME}`` stays the container's)."""
    if isinstance(value, str):
        return value.replace("${", "$${")
    if isinstance(value, Mapping):
        return {key: escape_variables(item) for key, item in value.items()}
    if isinstance(value, list):
        return [escape_variables(item) for item in value]
    return value


class Reference(NamedTuple):
    """A secret-looking value written as ``${variable}``: where (``job``, dotted ``field``)."""

    variable: str
    job: str
    field: str


_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# user:password@ before an image's registry (GPULab's extension for private registries)
_IMAGE_CREDENTIALS = re.compile(r"(?P<user>[^\s/:@'\"]+):(?P<password>[^\s/@'\"]+)@")
# in a command: an option whose name looks secret and its value (--token X, --api-key=X), NAME=value
# with a secret-looking NAME, and the password of a URL (https://user:password@host)
_OPTION = re.compile(r"(?P<option>--?[A-Za-z][A-Za-z0-9_-]*)(?P<sep>=|\s+)"
                     r"(?P<quote>['\"])?(?P<value>(?(quote)[^'\"]+|[^\s'\"=-][^\s'\"]*))(?(quote)(?P=quote))")
_ASSIGNMENT = re.compile(r"(?<![\w$-])(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>[^\s'\"]+)")
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^/?#@\s:]+:)(?P<value>[^/?#@\s]+)@")


class References:
    """Secret-looking values -> ``${VAR}`` references, over the jobs of one import.

    A variable is named after where the value was (``WANDB_API_KEY`` for that environment entry,
    ``TOKEN`` for ``--token``); the same name holding another value in another job gets a suffix. The
    values stay in :attr:`values` (for the command to check the file with, never to print)."""

    def __init__(self) -> None:
        #: variable -> the value it stands for
        self.values: dict[str, str] = {}
        self.found: list[Reference] = []

    def apply(self, body: dict[str, Any]) -> dict[str, Any]:
        """``body`` (already escaped) with its secret-looking values written as references."""
        name = str(body.get("name"))
        request = body.get("request")
        docker = request.get("docker") if isinstance(request, Mapping) else None
        if not isinstance(docker, dict):
            return body
        docker = dict(docker)
        environment = docker.get("environment")
        if isinstance(environment, Mapping):
            docker["environment"] = {
                key: self._reference(key, value, name, f"request.docker.environment.{key}")
                if is_secret_name(key) and isinstance(value, str) and value else value
                for key, value in environment.items()}
        image = docker.get("image")
        if isinstance(image, str) and (found := _IMAGE_CREDENTIALS.match(image)):
            reference = self._reference("REGISTRY_PASSWORD", found["password"], name, "request.docker.image")
            docker["image"] = f"{found['user']}:{reference}@{image[found.end():]}"
        command = docker.get("command")
        if isinstance(command, str):
            docker["command"] = self._command_text(command, name, "request.docker.command")
        elif isinstance(command, list):
            docker["command"] = self._command_list(command, name)
        return {**body, "request": {**request, "docker": docker}}  # type: ignore[dict-item]

    def _command_list(self, command: list[Any], job: str) -> list[Any]:
        result = list(command)
        for index, item in enumerate(command):
            where = f"request.docker.command[{index}]"
            if not isinstance(item, str):
                continue
            previous = command[index - 1] if index else None
            if (isinstance(previous, str) and previous.startswith("-") and "=" not in previous
                    and is_secret_name(previous) and item and not item.startswith("-")):
                result[index] = self._reference(_option_variable(previous), item, job, where)
            else:
                result[index] = self._command_text(item, job, where, whole=False)
        return result

    def _command_text(self, text: str, job: str, where: str, *, whole: bool = True) -> str:
        def option(found: re.Match[str]) -> str:
            if not is_secret_name(found["option"]) or (not whole and found["sep"] != "="):
                return found[0]
            reference = self._reference(_option_variable(found["option"]), found["value"], job, where)
            quote = found["quote"] or ""
            return f"{found['option']}{found['sep']}{quote}{reference}{quote}"

        def assignment(found: re.Match[str]) -> str:
            if not is_secret_name(found["name"]):
                return found[0]
            return f"{found['name']}={self._reference(found['name'].upper(), found['value'], job, where)}"

        def url(found: re.Match[str]) -> str:
            return f"{found['head']}{self._reference('URL_PASSWORD', found['value'], job, where)}@"

        return _URL_PASSWORD.sub(url, _ASSIGNMENT.sub(assignment, _OPTION.sub(option, text)))

    def _reference(self, wanted: str, escaped: str, job: str, where: str) -> str:
        value = escaped.replace("$${", "${")  # the value as GPULab stores it: substitution inserts it as is
        base = re.sub(r"[^A-Za-z0-9_]", "_", wanted).upper().strip("_") or "SECRET"
        if not _VARIABLE_NAME.match(base):
            base = f"SECRET_{base}"
        variable, number = base, 1
        while variable in self.values and self.values[variable] != value:
            number += 1
            variable = f"{base}_{number}"
        self.values[variable] = value
        self.found.append(Reference(variable, job, where))
        return "${" + variable + "}"


def _option_variable(option: str) -> str:
    return option.lstrip("-").replace("-", "_").upper()


# --- defaults --------------------------------------------------------------------------------------------


class DefaultsConflict(Exception):
    """A default the job file cannot undo (a key in a mapping the job does not have): the json path."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def over_defaults(wanted: Mapping[str, Any], defaults: Mapping[str, Any], full: Mapping[str, Any],
                  path: tuple[str, ...] = ()) -> dict[str, Any]:
    """What a job file must say so that ``defaults`` merged under it (docs/authoring.md#defaults) gives
    ``wanted``: only what differs from the defaults, and, for each default ``wanted`` leaves to GPULab,
    GPULab's own value from ``full`` (``interactive: false`` over a default ``interactive: true``).

    Raises :class:`DefaultsConflict` when a default cannot be undone: mappings merge key by key, so a key
    the defaults add to a mapping (an environment variable) stays unless the job has it too."""
    result: dict[str, Any] = {}
    for key, value in wanted.items():
        if key in defaults:
            default = defaults[key]
            if _same(default, value):
                continue
            if isinstance(value, Mapping) and isinstance(default, Mapping):
                below = full.get(key)
                inner = over_defaults(value, default, below if isinstance(below, Mapping) else value, (*path, key))
                if inner:
                    result[key] = inner
                continue
        result[key] = value
    for key, default in defaults.items():
        if key in wanted or key == "x-gpulab-apply":
            continue
        if key not in full:
            raise DefaultsConflict(".".join((*path, key)))
        value = full[key]
        if isinstance(value, Mapping) and isinstance(default, Mapping):
            inner = over_defaults({}, default, value, (*path, key))
            if inner:
                result[key] = inner
        elif not _same(default, value):
            result[key] = value
    return result


# --- file names and writing ------------------------------------------------------------------------------

_FILE_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_LINE_BREAKS = re.compile("[\x85\u2028\u2029]")
#: a job name kept whole in its file name up to this length; longer ones are cut and made unique
_STEM_LENGTH = 100


def file_names(names: Iterable[str]) -> dict[str, str]:
    """A file name (``train.yaml``) for each job name: different names always get different files, also on a
    case-insensitive file system, and no file name holds a separator, starts with ``.`` or ``_`` (hidden or
    reserved: docs/validate.md#which-files), or is too long. A name that is its own safe file name keeps it;
    any other (``train/a``, ``train a``) gets its safe form plus a digest of the exact name."""
    stems = {name: _FILE_UNSAFE.sub("_", name).strip("._-")[:_STEM_LENGTH] for name in set(names)}
    clean = {name for name, stem in stems.items() if stem == name}
    chosen = {name: f"{stem}.yaml" if name in clean else f"{stem or 'job'}-{_digest(name)}.yaml"
              for name, stem in stems.items()}
    by_fold: dict[str, list[str]] = defaultdict(list)
    for name, file in chosen.items():
        by_fold[file.casefold()].append(name)
    for group in by_fold.values():
        if len(group) > 1:  # Train and train: both get a digest
            for name in group:
                chosen[name] = f"{stems[name] or 'job'}-{_digest(name)}.yaml"
    if len({file.casefold() for file in chosen.values()}) != len(chosen):
        raise ValueError("job names collide in their file names")  # a digest collision: never in practice
    return chosen


def _digest(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:10]


def dump(data: Mapping[str, Any]) -> str:
    """YAML text for ``data``, every string quoted or escaped by the dumper: a server string can never
    become YAML structure, and control characters are written as escapes."""
    buffer = io.StringIO()
    _dumper().dump(dict(data), buffer)
    return buffer.getvalue()


@functools.cache
def _dumper() -> Any:
    # ruamel's dumper and emitter: only when import writes a file (built once)
    from ruamel.yaml import YAML
    from ruamel.yaml.emitter import Emitter

    class _Emitter(Emitter):
        # ruamel writes NEL, LS and PS raw in a single-quoted scalar, where a reader takes them for line
        # breaks; a double-quoted scalar escapes them
        def choose_scalar_style(self) -> Any:
            value = self.event.value
            if isinstance(value, str) and _LINE_BREAKS.search(value):
                return '"'
            return super().choose_scalar_style()

    yaml = YAML(typ="safe", pure=True)
    yaml.Emitter = _Emitter
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    yaml.allow_unicode = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def scratch_file(directory: Path, file_name: str, text: str) -> Path:
    """``text`` in a new hidden file beside where ``file_name`` goes (never a file that exists, never through
    a link); :func:`write_new` moves it into place."""
    path = directory / f".import-{secrets.token_hex(4)}-{file_name}"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    with os.fdopen(descriptor, "w", encoding="utf-8", newline="\n") as stream:
        stream.write(text)
    return path


class Occupied(Exception):
    """The target exists and may not be replaced: why."""


def check_target(path: Path, *, force: bool) -> None:
    """Raise :class:`Occupied` unless ``path`` may be written: it does not exist, or ``force`` and it is a
    regular file. A symbolic link is never written through or replaced, dangling or not."""
    if path.is_symlink():
        raise Occupied("is a symbolic link; import never writes through one")
    if not os.path.lexists(path):
        return
    if not force:
        raise Occupied("exists")
    if not path.is_file():
        raise Occupied("exists and is not a regular file")


def write_new(scratch: Path, path: Path, *, force: bool) -> None:
    """Move ``scratch`` to ``path``. Without ``force`` this fails if anything appeared at ``path`` since it
    was checked (a hard link never replaces); with it, a regular file is replaced, never followed."""
    check_target(path, force=force)
    if force and os.path.lexists(path):
        os.replace(scratch, path)
        return
    os.link(scratch, path)
    os.unlink(scratch)


def names_of(references: Sequence[Reference]) -> dict[str, list[str]]:
    """Variable -> the jobs that use it, in order."""
    used: dict[str, list[str]] = defaultdict(list)
    for reference in references:
        if reference.job not in used[reference.variable]:
            used[reference.variable].append(reference.job)
    return dict(used)
