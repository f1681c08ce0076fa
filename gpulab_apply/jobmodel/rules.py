"""GPULab's rules that a JSON Schema cannot express, and the one rulebook that validate and the emulator share.

:func:`judge` is the verdict on one job document: it reads the job as GPULab does
(:func:`gpulab_apply.jobmodel.normal_form.canonical_job`), so a form GPULab accepts but that is not canonical
(``cpus: "4"``, ``interactive: yes``) is a *warning* showing the canonical form; then it checks the
canonical job against the schema and the rules GPULab's model checks after the field types: the order
of ``notBefore``/``notAfter``, neither with ``interactive``, ``maxDuration`` of at least a minute,
times that exist, e-mail addresses by GPULab's own checker, and port items that are whole numbers.
Each check looks only at values of the right type, so every other problem is still reported.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from gpulab_apply.jobmodel.durations import MIN_MAX_DURATION_SECONDS, parse_duration
from gpulab_apply.jobmodel.lax import email_problem, lax_time
from gpulab_apply.jobmodel.normal_form import CanonicalJob, Rewrite, canonical_job
from gpulab_apply.jobmodel.schema import Violation, ecma_pattern, job_file_schema, violations
from gpulab_apply.masking import UNSAFE

_EXTRA_EMAILS = ("emailOnQueue", "emailOnRun", "emailOnEnd", "emailOnHalt", "emailOnRestart")

_SCHEDULING = ("request", "scheduling")


@dataclass(frozen=True, slots=True)
class Judgement:
    """The verdict on one job: the job in canonical form, what GPULab refuses, and what is only not canonical."""

    canonical: CanonicalJob
    errors: list[Violation]
    warnings: list[Violation]

    @property
    def job(self) -> Any:
        return self.canonical.job


def judge(job: Any, *, submission: bool = False) -> Judgement:
    """The one rulebook: GPULab's verdict on ``job`` (plain JSON types), paths as written in the document.

    ``submission=True`` judges a POST body (no ``x-gpulab-apply`` block), as the emulator does.
    """
    canonical = canonical_job(job)
    found = [*violations(canonical.job, submission=submission), *job_violations(canonical.job)]
    errors = [_written(v, canonical) for v in found if not v.warning]
    warnings = [Violation(r.path, r.message, hint=_advice(r), at_key=r.at_key, warning=True)
                for r in canonical.rewrites]
    warnings += [_written(v, canonical) for v in found if v.warning]
    return Judgement(canonical, errors, warnings)


def submission_problems(body: Any) -> list[str]:
    """Why GPULab would refuse ``body`` as a POST body, one line each; empty when it accepts it."""
    return [str(v) for v in judge(body, submission=True).errors]


def _advice(rewrite: Rewrite) -> str:
    if rewrite.at_key:
        return "leave it out" if rewrite.canonical is None else f"write {rewrite.canonical}"
    return f"write {_json(rewrite.canonical)}"


def _written(violation: Violation, canonical: CanonicalJob) -> Violation:
    return replace(violation, path=canonical.source_path(violation.path))


def _json(value: Any) -> str:

    return json.dumps(value, ensure_ascii=False)


@functools.cache
def _email_shape() -> re.Pattern[str]:
    # the schema's own pattern: the schema already reports what does not have this shape
    return ecma_pattern(job_file_schema()["$defs"]["emails"]["items"]["pattern"])


def job_violations(job: Any) -> Iterator[Violation]:
    """Every rule beyond the schema that the (canonical) job document breaks, warnings included."""
    if not isinstance(job, Mapping):
        return
    yield from _name(job.get("name"))
    owner = job.get("owner")
    if isinstance(owner, Mapping):
        yield from _project(owner.get("projectUrn"))
    request = job.get("request")
    if not isinstance(request, Mapping):
        return
    for part, check in (("scheduling", _scheduling), ("docker", _docker), ("extra", _extra)):
        section = request.get(part)
        if isinstance(section, Mapping):
            yield from check(section)


def _name(name: Any) -> Iterator[Violation]:
    if isinstance(name, str) and (bad := UNSAFE.search(name)):
        # GPULab accepts them, so a warning (an error with --strict); every output escapes them (masking.safe)
        yield Violation(("name",), f"contains the control character U+{ord(bad.group()):04X}; GPULab accepts it, "
                                   "but it garbles every listing and could forge lines in a log",
                        hint="use printable characters only", warning=True)


def _project(urn: Any) -> Iterator[Violation]:
    if isinstance(urn, str) and not urn.startswith("urn:") and "urn:publicid:IDN+" in urn:
        yield Violation(("owner", "projectUrn"), f"{urn!r} has text before the URN; GPULab ignores it",
                        hint="start with urn:publicid:IDN+", warning=True)


def _scheduling(scheduling: Mapping[str, Any]) -> Iterator[Violation]:
    yield from _time_window(scheduling)
    yield from _durations(scheduling)


def _time_window(scheduling: Mapping[str, Any]) -> Iterator[Violation]:
    times: dict[str, datetime] = {}
    for key in ("notBefore", "notAfter"):
        value = scheduling.get(key)
        if not isinstance(value, str):
            continue
        if scheduling.get("interactive") is True:
            yield Violation((*_SCHEDULING, key), "cannot be combined with interactive: true (an interactive job "
                                                 "starts at once or fails)")
        if not _timestamp_shape().search(value):
            continue  # the schema reports it
        parsed = lax_time(value)
        if parsed is None:
            # the right shape, but a time that does not exist, like month 13
            yield Violation((*_SCHEDULING, key), f"{value!r} is not a valid date and time")
        else:
            times[key] = parsed
    if len(times) == 2 and times["notAfter"] <= times["notBefore"]:
        yield Violation((*_SCHEDULING, "notAfter"),
                        f"must be after notBefore ({scheduling['notBefore']}), not {scheduling['notAfter']}")


@functools.cache
def _timestamp_shape() -> re.Pattern[str]:
    # the schema's own pattern, so the two never disagree on what a timestamp looks like
    return ecma_pattern(job_file_schema()["$defs"]["timestamp"]["pattern"])


def _durations(scheduling: Mapping[str, Any]) -> Iterator[Violation]:
    seconds: dict[str, float] = {}
    for key in ("minDuration", "maxDuration"):
        value = scheduling.get(key)
        parsed = parse_duration(value) if isinstance(value, str) else None
        if parsed is not None:
            seconds[key] = parsed
    maximum = seconds.get("maxDuration")
    if maximum is not None and maximum < MIN_MAX_DURATION_SECONDS:
        yield Violation((*_SCHEDULING, "maxDuration"),
                        f"must be at least 1 minute, not {scheduling['maxDuration']!r}")
    minimum = seconds.get("minDuration")
    if minimum is not None and maximum is not None and minimum > maximum:
        yield Violation((*_SCHEDULING, "minDuration"),
                        f"{scheduling['minDuration']!r} is longer than maxDuration {scheduling['maxDuration']!r}; "
                        "GPULab accepts it, but the job can never use its minimum", warning=True)


def _docker(docker: Mapping[str, Any]) -> Iterator[Violation]:
    ports = docker.get("portMappings")
    for index, port in enumerate(ports if isinstance(ports, list) else ()):
        where: tuple[str | int, ...] = ("request", "docker", "portMappings", index)
        if isinstance(port, float):  # JSON Schema cannot tell 8888.0 from 8888; GPULab's model can
            yield Violation(where, f"{port!r} is not a port number GPULab reads", hint=f"write {port:.0f}"
                            if port.is_integer() else None)
        numbers = [(where, port)] if isinstance(port, int) else [
            ((*where, key), port.get(key)) for key in ("containerPort", "hostPort")] if isinstance(port, Mapping) else []
        for place, number in numbers:
            if isinstance(number, int) and not isinstance(number, bool) and not 1 <= number <= 65535:
                yield Violation(place, f"{number} is not a TCP port (1-65535); GPULab accepts it, but the "
                                       "container cannot use it", warning=True)
    storage = docker.get("storage")
    for index, mount in enumerate(storage if isinstance(storage, list) else ()):
        paths = [((), mount)] if isinstance(mount, str) else [
            ((key,), mount.get(key)) for key in ("hostPath", "containerPath")] if isinstance(mount, Mapping) else []
        for key, path in paths:
            if path == "":
                yield Violation(("request", "docker", "storage", index, *key),
                                '"" is read by GPULab as "/" (the root directory)', hint='write "/"', warning=True)


def _extra(extra: Mapping[str, Any]) -> Iterator[Violation]:
    for key in _EXTRA_EMAILS:
        addresses = extra.get(key)
        for index, address in enumerate(addresses if isinstance(addresses, list) else ()):
            if isinstance(address, str) and _email_shape().search(address):
                problem = email_problem(address)
                if problem is not None:
                    yield Violation(("request", "extra", key, index), f"{address!r} is not an e-mail address "
                                                                      f"GPULab accepts: {problem}")
