"""GPULab's job statuses, and every grouping of them that this tool, GPULab's listing and the emulator use.

Each group is stated once here: which statuses are final, GPULab's listing filter groups, which hold a node's
resources, which a job reaches only after it ran, and which end a job that did not do its work.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum


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

#: statuses in which a job holds resources on a node (the emulator's scheduler counts them)
HOLDING = frozenset({JobStatus.ASSIGNED, JobStatus.STARTING, JobStatus.RUNNING, JobStatus.MUSTHALT, JobStatus.HALTING,
                     JobStatus.CANCELLING})
#: statuses a job passes through only after it ran: for ``--wait-for running`` they count as reached
HAS_RUN = frozenset({JobStatus.RUNNING, JobStatus.MUSTHALT, JobStatus.HALTING, JobStatus.FINISHED})
#: the end of a job that did not do its work; CANCELLING is on its way to CANCELLED
DID_NOT_FINISH = frozenset({JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.CANCELLING, JobStatus.DELETED})
