"""The nouns every part shares: a desired job (from a file) and a remote job (from GPULab).

A job's status and the groups of statuses are GPULab's job model (:mod:`gpulab_apply.jobmodel.status`).

These are plain values. Loading, talking to GPULab and planning live in their own modules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from gpulab_apply.jobmodel.status import JobStatus
from gpulab_apply.problems import Location

if TYPE_CHECKING:
    from gpulab_apply.sourcemap import SourceMap


@dataclass(frozen=True, slots=True)
class Workflow:
    """A job's workflow options from ``x-gpulab-apply`` (docs/workflows.md): what it needs, how often a FAILED run
    is retried, and, on a sweep's members, how many run at once."""

    #: job or sweep names, as written (matrix expressions already substituted)
    needs: tuple[str, ...] = ()
    #: ``when: always``: start once every need ended, however it ended (else only when all FINISHED)
    always: bool = False
    retries: int = 0
    #: the least time between a FAILED run's end and its retry, in seconds
    retry_delay: float = 0.0
    #: a sweep member's ``max-parallel``: at most this many members active at once
    max_parallel: int | None = None
    #: a sweep member's ``fail-fast``: no further members once one failed
    fail_fast: bool = False


@dataclass(frozen=True, slots=True)
class JobSpec:
    """One desired job, as loaded from a job file.

    ``job`` is the Job2 body exactly as it will be submitted (plain JSON types, ``x-gpulab-apply``
    removed); ``rerun`` and ``protect`` are this tool's options from ``x-gpulab-apply``. ``source`` says
    where each value of ``job`` was written (docs/authoring.md#provenance); ``sweep`` names the matrix
    sweep the job is a member of.
    """

    name: str
    job: Mapping[str, Any]
    location: Location
    rerun: str | int | float | bool | None = None
    protect: bool = False
    sweep: str | None = None
    #: (uuid, recorded spec hash) of an unmanaged job on GPULab that this file adopts; the hash only in the
    #: version 1 form of the adopt block (docs/authoring.md#import-and-adoption)
    adopt: tuple[str, str | None] | None = None
    #: the job as the spec hash sees it, when that differs from ``job``: values from the environment
    #: stay ``${VAR}`` there (docs/authoring.md#variables)
    hashed: Mapping[str, Any] | None = None
    source: SourceMap | None = None
    workflow: Workflow = Workflow()
    #: where a value waits for a variable that is not set (offline commands leave ``${VAR}`` there): JSON paths
    #: from the job's root, compared with nothing until the variable is given (docs/authoring.md#variables-offline)
    unset: tuple[tuple[str | int, ...], ...] = ()
    #: a sweep member's matrix values as written, axis by axis (``(("lr", "0.1"), ("seed", "1"))``)
    matrix: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class RemoteJob:
    """One job as GPULab lists it. ``raw`` keeps the whole JSON object for diffs and reports."""

    uuid: str
    name: str
    description: str | None
    status: JobStatus
    created: datetime | None
    request: Mapping[str, Any]
    owner: Mapping[str, Any]
    raw: Mapping[str, Any]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RemoteJob:
        """Build from a GPULab job object, tolerating missing optional parts (servers omit nulls)."""
        state = data.get("state") or {}
        event_times = state.get("eventTimes") or {}
        return cls(
            uuid=str(data["uuid"]),
            name=str(data.get("name") or ""),
            description=data.get("description"),
            status=JobStatus.parse(str(state.get("status") or "")),
            created=parse_timestamp(event_times.get("created")),
            request=data.get("request") or {},
            owner=data.get("owner") or {},
            raw=data,
        )


def parse_timestamp(value: object) -> datetime | None:
    """Parse GPULab's RFC 3339 timestamps (``2024-03-17T09:59:19Z``, any case, ``Z`` or an offset).

    None for absent or unreadable text, and for a time without a zone (it names no moment).
    """
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.upper())
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def format_timestamp(moment: datetime | float) -> str:
    """A time (a datetime, or POSIX seconds) as GPULab writes it: RFC 3339 in UTC with ``Z``, whole
    seconds (``2024-03-17T09:59:19Z``)."""
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(int(moment), UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
