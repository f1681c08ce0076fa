"""Waiting for jobs and following their logs: which job is a name's current one, when a wait is over.

The current job of a name is the newest job of the set with that name, so a HALTED job's restart (a new
job with the same marker) takes over from it. Nothing here prints or sleeps on its own: the clock, the
sleep and the listing are passed in, so the logic is tested without a server (docs/logs-wait.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from gpulab_apply.jobmodel.status import DID_NOT_FINISH, HAS_RUN, JobStatus
from gpulab_apply.model import RemoteJob
from gpulab_apply.reconcile.marker import Marker, manages, parse_marker
from gpulab_apply.reconcile.runs import cancelled_duplicates, current_run


class WaitFor(Enum):
    """What a wait waits for: the job running (or already past it), or the job ended."""

    RUNNING = "running"
    DONE = "done"


class Phase(Enum):
    WAITING = "waiting"
    REACHED = "reached"
    FAILED = "failed"


def current_jobs(remote: Sequence[RemoteJob], *, set_name: str, user_urn: str | None,
                 names: Collection[str] | None = None) -> dict[str, RemoteJob]:
    """The current run this user manages in ``set_name``, for each name (for ``names`` only, if given):
    the newest active job, else the newest that is not a duplicate cancelled while a race converged
    (:func:`~gpulab_apply.reconcile.runs.current_run`); ownership as the planner sees it
    (:func:`~gpulab_apply.reconcile.marker.manages`)."""
    by_name: dict[str, list[RemoteJob]] = {}
    markers: dict[str, Marker | None] = {}
    for job in remote:
        if names is not None and job.name not in names:
            continue
        marker = parse_marker(job.description)
        if manages(marker, job.owner, set_name=set_name, user_urn=user_urn):
            by_name.setdefault(job.name, []).append(job)
            markers[job.uuid] = marker
    current: dict[str, RemoteJob] = {}
    for name, jobs in by_name.items():
        run = current_run(jobs, carries=lambda _: False, duplicates=cancelled_duplicates(jobs, markers))
        if run is not None:
            current[name] = run
    return current


def phase(job: RemoteJob | None, wait_for: WaitFor) -> Phase:
    """Where one job stands. A HALTED job is waiting: GPULab queues its restart, which becomes current.
    A job that vanished from the listing (deleted) failed."""
    if job is None or job.status in DID_NOT_FINISH:
        return Phase.FAILED
    if job.status is JobStatus.FINISHED or (wait_for is WaitFor.RUNNING and job.status in HAS_RUN):
        return Phase.REACHED
    return Phase.WAITING


@dataclass(frozen=True, kw_only=True)
class WaitState:
    """One look at the jobs waited for, by name (in the order asked)."""

    jobs: Mapping[str, RemoteJob | None]
    wait_for: WaitFor
    #: seconds since the wait began
    elapsed: float

    def phase(self, name: str) -> Phase:
        return phase(self.jobs[name], self.wait_for)

    @property
    def settled(self) -> bool:
        return all(self.phase(name) is not Phase.WAITING for name in self.jobs)

    @property
    def failed(self) -> list[str]:
        return [name for name in self.jobs if self.phase(name) is Phase.FAILED]

    def count(self, wanted: Phase) -> int:
        return sum(1 for name in self.jobs if self.phase(name) is wanted)


def wait_for_jobs(list_jobs: Callable[[], Sequence[RemoteJob]], *, names: Sequence[str], set_name: str,
                  user_urn: str | None, wait_for: WaitFor, timeout: float | None, interval: float,
                  on_update: Callable[[WaitState], None] = lambda state: None,
                  clock: Callable[[], float] = time.monotonic,
                  sleep: Callable[[float], None] = time.sleep) -> WaitState:
    """Look at the jobs every ``interval`` seconds until each has reached ``wait_for`` or failed, or until
    ``timeout`` seconds have passed; return the last look (``settled`` is False after a timeout).

    ``on_update`` sees every look, for a live display.
    """
    started = clock()
    while True:
        current = current_jobs(list_jobs(), set_name=set_name, user_urn=user_urn, names=set(names))
        state = WaitState(jobs={name: current.get(name) for name in names}, wait_for=wait_for,
                          elapsed=clock() - started)
        on_update(state)
        if state.settled:
            return state
        if timeout is not None and state.elapsed >= timeout:
            return state
        sleep(interval if timeout is None else min(interval, timeout - state.elapsed))


class LogApi(Protocol):
    """What following a log needs from a client (:class:`~gpulab_apply.gpulab.client.GpulabClient` has it)."""

    def get_job(self, uuid: str) -> RemoteJob: ...

    def read_log(self, uuid: str, *, start: int = 0) -> bytes: ...


class LogTail:
    """A job's log read piece by piece with ``Range: bytes=N-``; remembers how far it got and the job's status."""

    def __init__(self, api: LogApi, uuid: str) -> None:
        self.api = api
        self.uuid = uuid
        self.offset = 0
        self.status: JobStatus | None = None

    def poll(self) -> bytes:
        """The log bytes new since the last poll. The status is read first, so once it is final the
        log read after it is complete."""
        self.status = self.api.get_job(self.uuid).status
        chunk = self.api.read_log(self.uuid, start=self.offset)
        self.offset += len(chunk)
        return chunk

    @property
    def ended(self) -> bool:
        return self.status is not None and self.status.is_final

    def follow(self, *, interval: float, sleep: Callable[[float], None] = time.sleep) -> Iterator[bytes]:
        """New log bytes as they come, until the job has ended and its log is read to the end."""
        while True:
            chunk = self.poll()
            if chunk:
                yield chunk
            if self.ended:
                return
            sleep(interval)
