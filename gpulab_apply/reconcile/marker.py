"""The ownership marker: the line in a job's ``description`` that says which set submitted it (docs/plan-apply.md#ownership).

GPULab has no labels, so every job this tool submits ends its description with::

    [gpulab-apply v2 set=<set> spec=<16 hex> run=<apply-id>]            (+ " protect")

``spec`` is :func:`spec_hash` of the job; ``run`` lets apply recognise its own submission after an ambiguous
POST. A job whose description has no well-formed marker is *unmanaged* and never touched.

Two forms are read. Version 1 (``[gpulab-apply set=...]``, no ``v2``) hashed ``owner`` too, so the same file
hashed differently with and without ``--project`` (and so on API v3.1 vs v4.0, which requires a project).
Version 2 hashes ``name`` and ``request`` only. Jobs submitted with version 1 markers stay in sync:
:class:`SpecHashes` matches a version 1 marker against the version 1 hash of the job with and without the
project filled in. Version 3 is version 2 plus ``attempt=N`` after ``run``: a retry of a FAILED run
(docs/workflows.md#retries). A first attempt is still written as version 2, so older versions of the tool go on
managing every job that is not a retry; a version 3 marker is read with the same spec hash as version 2.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

#: set names (checked by settings.SET_NAME) and run ids travel inside the marker: no spaces or brackets
_TOKEN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
_MARKER_PREFIX = "[gpulab-apply "
_MARKER_LINE = re.compile(
    rf"\[gpulab-apply (?:v(?P<version>[2-9]) )?set=(?P<set>{_TOKEN}) spec=(?P<spec>[0-9a-f]{{16}}) "
    rf"run=(?P<run>{_TOKEN})(?: attempt=(?P<attempt>[1-9][0-9]{{0,3}}))?(?P<protect> protect)?\]"
)
#: the marker and spec hash version this tool writes (docs/plan-apply.md#ownership)
MARKER_VERSION = 2
#: the marker version of a retry: version 2 plus ``attempt=N`` (docs/workflows.md#retries)
ATTEMPT_MARKER_VERSION = 3

RerunToken = str | int | float | bool | None


@dataclass(frozen=True, kw_only=True)
class Marker:
    """The parsed ownership marker of one remote job."""

    set_name: str
    spec: str
    run_id: str
    protect: bool = False
    #: 1 for the original form (its spec hash includes ``owner``), 2 for the current one, 3 with an attempt
    version: int = MARKER_VERSION
    #: which run of this spec this is: 1, then one more per retry of a FAILED run (written from 2 on)
    attempt: int = 1

    def __str__(self) -> str:
        protect = " protect" if self.protect else ""
        attempt = f" attempt={self.attempt}" if self.attempt > 1 else ""
        number = max(self.version, ATTEMPT_MARKER_VERSION) if self.attempt > 1 else self.version
        version = f"v{number} " if number >= 2 else ""
        return f"[gpulab-apply {version}set={self.set_name} spec={self.spec} run={self.run_id}{attempt}{protect}]"


def spec_hash(job: Mapping[str, Any], *, rerun: RerunToken = None, version: int = MARKER_VERSION,
              needs: Mapping[str, str] | None = None) -> str:
    """First 16 hex digits of SHA-256 over the canonical JSON of the job's identity-bearing parts.

    The parts are ``name`` and ``request`` exactly as written (version 1 also ``owner`` as submitted; a part
    the body lacks is left out), plus the key ``"rerun"`` holding the token as its JSON value, only when a
    token is set (so ``rerun: 1`` and ``rerun: "1"`` differ). ``description`` is left out: editing prose never
    restarts work. ``owner`` is left out since version 2: which project a job runs in is where it is listed,
    not what it is, and it must not matter whether ``projectUrn`` came from the file or from ``--project``.
    ``needs`` (name -> spec hash of each job it needs) enters as the key ``"needs"``, only for a job that needs
    others, so a change upstream makes the job out of date while every other job keeps its hash
    (docs/workflows.md#dependencies).
    """
    parts = ("name", "request", "owner") if version == 1 else ("name", "request")
    identity = {key: job[key] for key in parts if key in job}
    if rerun is not None:
        identity["rerun"] = rerun
    if needs:
        identity["needs"] = dict(needs)
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def parse_marker(description: str | None) -> Marker | None:
    """The marker in a description, or None. The last marker-looking line wins; a malformed one is no marker.

    Trailing whitespace is ignored because servers may normalise descriptions.
    """
    if not description:
        return None
    start = description.rfind(_MARKER_PREFIX)
    if start < 0:
        return None
    # the last marker-looking line is the one holding the last prefix, when the prefix starts that line
    head = description.rpartition(_MARKER_PREFIX)[0]
    last = head.splitlines(keepends=True)[-1] if head else ""
    if (last.splitlines() or [""])[0] == last and last.strip():
        return _parse_marker_slow(description)  # the last prefix is inside a line: look further back
    line = (description[start:].splitlines() or [""])[0].strip()
    return _marker(line) if line.startswith(_MARKER_PREFIX) else _parse_marker_slow(description)


def _parse_marker_slow(description: str) -> Marker | None:
    for line in reversed(description.splitlines()):
        line = line.strip()
        if line.startswith(_MARKER_PREFIX):
            return _marker(line)
    return None


def _marker(line: str) -> Marker | None:
    found = _MARKER_LINE.fullmatch(line)
    if found is None:
        return None
    version = int(found["version"] or 1)
    if found["attempt"] is not None and version < ATTEMPT_MARKER_VERSION:
        return None  # an attempt is what version 3 adds: a version 2 marker with one is not a marker of ours
    return Marker(set_name=found["set"], spec=found["spec"], run_id=found["run"],
                  protect=found["protect"] is not None, version=version, attempt=int(found["attempt"] or 1))


class SpecHashes:
    """The spec hashes one desired job may carry: :attr:`current` (written now) and the version 1 forms.

    The version 1 forms are computed only when a version 1 marker is met (most plans never meet one).
    """

    __slots__ = ("_job", "_legacy", "_project_urn", "_rerun", "current")

    def __init__(self, job: Mapping[str, Any], *, project_urn: str | None, rerun: RerunToken,
                 needs: Mapping[str, str] | None = None) -> None:
        self._job, self._project_urn, self._rerun = job, project_urn, rerun
        self._legacy: dict[str | None, str] = {}
        self.current = spec_hash(job, rerun=rerun, needs=needs)

    def matches(self, marker: Marker, *, project_urn: str | None = None) -> bool:
        """Whether a job with ``marker`` was submitted from this desired job (any marker version).

        ``project_urn`` is the remote job's project: a version 1 hash included the ``owner.projectUrn`` that
        ``--project`` filled in, so it is tried with that project, with ``--project``'s, and with none.
        """
        if marker.version >= 2:
            return marker.spec == self.current
        return any(marker.spec == self._legacy_hash(project) for project in (None, self._project_urn, project_urn))

    def _legacy_hash(self, project_urn: str | None) -> str:
        if project_urn not in self._legacy:
            self._legacy[project_urn] = spec_hash(with_owner(self._job, project_urn), rerun=self._rerun, version=1)
        return self._legacy[project_urn]


def manages(marker: Marker | None, owner: Mapping[str, Any], *, set_name: str, user_urn: str | None) -> bool:
    """Whether a job with this marker and ``owner`` is this user's to manage in ``set_name``.

    Both must hold: the marker names the set, and the job belongs to the certificate's user (``user_urn``;
    None when the caller has no identity to compare, e.g. a plan built in a test). A team that shares one
    CI certificate is one user, so it keeps working; two people who happen to share a set name never
    touch each other's jobs (docs/plan-apply.md#ownership).
    """
    if marker is None or marker.set_name != set_name:
        return False
    return user_urn is None or owner.get("userUrn") == user_urn


def with_owner(job: Mapping[str, Any], project_urn: str | None) -> dict[str, Any]:
    """The job with ``owner.projectUrn`` filled from ``--project`` when the file does not set one."""
    body = dict(job)
    if project_urn and not (isinstance(body.get("owner"), Mapping) and body["owner"].get("projectUrn")):
        body["owner"] = {**(body.get("owner") or {}), "projectUrn": project_urn}
    return body


def with_marker(job: Mapping[str, Any], marker: Marker) -> dict[str, Any]:
    """The POST body: the job with the marker as the last line of its description.

    Marker-looking lines the user's description already holds (a job pasted from a listing) are dropped,
    so the only marker is the one this submission vouches for.
    """
    body = dict(job)
    text = without_marker(str(body.get("description") or ""))
    body["description"] = f"{text}\n{marker}" if text else str(marker)
    return body


def without_marker(description: str) -> str:
    """The description without marker-looking lines (the user's prose, e.g. for ``import``)."""
    prose = [line for line in description.splitlines() if not line.strip().startswith(_MARKER_PREFIX)]
    return "\n".join(prose).rstrip()


#: a run id (docs/results.md#the-commit-an-apply-applied): UTC time, 6 random hex digits and, since run ids
#: carry it, a dot and the commit applied (12 hex digits), ``-dirty`` when the job files differed from it
_RUN_ID = re.compile(r"(?P<time>\d{8}T\d{6}Z)-(?P<random>[0-9a-f]{6})"
                     r"(?:\.(?P<commit>[0-9a-f]{7,40})(?P<dirty>-dirty)?)?")
#: how many hex digits of the commit a run id keeps (the whole run id stays within the marker's 64 characters)
COMMIT_DIGITS = 12


@dataclass(frozen=True, slots=True)
class RunCommit:
    """The git commit an apply applied, as its run id records it."""

    sha: str
    #: the job files (or the config) had uncommitted changes: what ran is not exactly this commit
    dirty: bool = False

    @property
    def short(self) -> str:
        return self.sha[:7]

    def __str__(self) -> str:
        return self.short + (" (with uncommitted changes)" if self.dirty else "")


def new_run_id(now: datetime, commit: RunCommit | None = None) -> str:
    """An id for one apply invocation: UTC timestamp plus 6 random hex digits, e.g. ``20261123T195600Z-1a2b3c``,
    then the commit applied, e.g. ``20261123T195600Z-1a2b3c.0123456789ab`` (``...-dirty``).

    The commit rides inside the run token, whose grammar every marker version already accepts, so a job
    submitted with it is read by older versions of this tool too, and the spec hash never sees it.
    """
    run_id = f"{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"
    if commit is not None and re.fullmatch(r"[0-9a-f]{7,40}", commit.sha):
        run_id += f".{commit.sha[:COMMIT_DIGITS]}" + ("-dirty" if commit.dirty else "")
    return run_id


def run_commit(run_id: str) -> RunCommit | None:
    """The commit a run id records; None for a run id without one (older applies, ``adopted``, outside git)."""
    found = _RUN_ID.fullmatch(run_id)
    if found is None or found["commit"] is None:
        return None
    return RunCommit(sha=found["commit"], dirty=found["dirty"] is not None)
