"""The nouns every part shares: a job status, a desired job (from a file), a remote job (from GPULab).

These are plain values. Loading, talking to GPULab and planning live in their own modules.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, NamedTuple

from gpulab_apply.problems import Location

if TYPE_CHECKING:
    from gpulab_apply.jobfiles.sourcemap import SourceMap


class JobStatus(Enum):
    """GPULab's job statuses: NAME = value, as in GPULab's own schema package (reference §3)."""

    ONHOLD = "On Hold"
    QUEUED = "Queued"
    ASSIGNED = "Assigned"
    STARTING = "Starting"
    RUNNING = "Running"
    CANCELLING = "Cancelling"
    MUSTHALT = "Must Halt"
    HALTING = "Halting"
    FINISHED = "Finished"
    FAILED = "Failed"
    CANCELLED = "Cancelled"
    HALTED = "Halted"
    DELETED = "Deleted"
    #: a status this tool does not know; treated as active, never assumed finished
    UNKNOWN = "Unknown"

    @classmethod
    def parse(cls, text: str) -> JobStatus:
        """Parse a wire status by name or value in any case (``ONHOLD``, ``ON HOLD``, ``On Hold``).

        GPULab's v3-era servers send names, the v6 schema package upper-cases values, so both appear.
        """
        return _STATUS_BY_KEY.get(_status_key(text), cls.UNKNOWN)

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES

    @property
    def is_active(self) -> bool:
        return not self.is_final


def _status_key(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch.isalnum())


_STATUS_BY_KEY: dict[str, JobStatus] = {}
for _status in JobStatus:
    _STATUS_BY_KEY[_status_key(_status.name)] = _status
    _STATUS_BY_KEY[_status_key(_status.value)] = _status

FINAL_STATUSES = frozenset(
    {JobStatus.FINISHED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.HALTED, JobStatus.DELETED}
)

#: GPULab's listing filter groups (``pending=true`` ...). ASSIGNED and CANCELLING are in none of them:
#: only ``allowed_states`` shows those.
STATE_GROUPS: Mapping[str, frozenset[JobStatus]] = {
    "pending": frozenset({JobStatus.ONHOLD, JobStatus.QUEUED}),
    "running": frozenset({JobStatus.RUNNING, JobStatus.STARTING, JobStatus.MUSTHALT, JobStatus.HALTING}),
    "finished": frozenset({JobStatus.FINISHED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.HALTED}),
    "deleted": frozenset({JobStatus.DELETED}),
}


class Workflow(NamedTuple):
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


class JobSpec(NamedTuple):
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
    #: (uuid, spec hash) of an unmanaged job on GPULab that this file adopts (docs/authoring.md)
    adopt: tuple[str, str] | None = None
    #: the job as the spec hash sees it, when that differs from ``job``: values from the environment
    #: stay ``${VAR}`` there (docs/authoring.md#variables)
    hashed: Mapping[str, Any] | None = None
    source: SourceMap | None = None
    workflow: Workflow = Workflow()


class RemoteJob(NamedTuple):
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
