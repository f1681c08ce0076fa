"""The ownership marker: the line in a job's ``description`` that says which set submitted it (docs/plan-apply.md#ownership).

GPULab has no labels, so every job this tool submits ends its description with::

    [gpulab-apply set=<set> spec=<16 hex> run=<apply-id>]            (+ " protect")

``spec`` is :func:`spec_hash` of the job as submitted; ``run`` lets apply recognise its own submission after
an ambiguous POST. A job whose description has no well-formed marker is *unmanaged* and never touched.
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
    rf"\[gpulab-apply set=(?P<set>{_TOKEN}) spec=(?P<spec>[0-9a-f]{{16}}) "
    rf"run=(?P<run>{_TOKEN})(?P<protect> protect)?\]"
)

RerunToken = str | int | float | bool | None


@dataclass(frozen=True, kw_only=True)
class Marker:
    """The parsed ownership marker of one remote job."""

    set_name: str
    spec: str
    run_id: str
    protect: bool = False

    def __str__(self) -> str:
        protect = " protect" if self.protect else ""
        return f"[gpulab-apply set={self.set_name} spec={self.spec} run={self.run_id}{protect}]"


def spec_hash(job: Mapping[str, Any], *, rerun: RerunToken = None) -> str:
    """First 16 hex digits of SHA-256 over the canonical JSON of the job's identity-bearing parts.

    The parts are ``name``, ``request`` and ``owner`` exactly as submitted (a part the body lacks is left
    out), plus the key ``"rerun"`` holding the token as its JSON value, only when a token is set (so
    ``rerun: 1`` and ``rerun: "1"`` differ). ``description`` is left out: editing prose never restarts work.
    """
    identity = {key: job[key] for key in ("name", "request", "owner") if key in job}
    if rerun is not None:
        identity["rerun"] = rerun
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def parse_marker(description: str | None) -> Marker | None:
    """The marker in a description, or None. The last marker-looking line wins; a malformed one is no marker.

    Trailing whitespace is ignored because servers may normalise descriptions.
    """
    if not description or _MARKER_PREFIX not in description:
        return None
    for line in reversed(description.splitlines()):
        line = line.strip()
        if line.startswith(_MARKER_PREFIX):
            found = _MARKER_LINE.fullmatch(line)
            if found is None:
                return None
            return Marker(set_name=found["set"], spec=found["spec"], run_id=found["run"],
                          protect=found["protect"] is not None)
    return None


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
    prose = [line for line in str(body.get("description") or "").splitlines()
             if not line.strip().startswith(_MARKER_PREFIX)]
    text = "\n".join(prose).rstrip()
    body["description"] = f"{text}\n{marker}" if text else str(marker)
    return body


def new_run_id(now: datetime) -> str:
    """An id for one apply invocation: UTC timestamp plus 6 random hex digits, e.g. ``20261123T195600Z-1a2b3c``."""
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"
