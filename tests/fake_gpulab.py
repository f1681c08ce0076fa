"""An in-memory stand-in for the executor's ``JobApi`` protocol, with scripted faults and a call log.

For fast unit tests of the executor's ordering and recovery logic; the end-to-end tests talk HTTP to the
emulator instead. Faults are scripted per job name (submissions) or per uuid (cancellations), each used once.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gpulab_apply.errors import AmbiguousSubmitError, ConnectionFailedError, ServerError
from gpulab_apply.gpulab.listing import Listing, truncated_error
from gpulab_apply.jobmodel.status import FINAL_STATUSES, JobStatus
from gpulab_apply.model import RemoteJob

USER = "urn:publicid:IDN+ilabt.imec.be+user+jdoe"
PROJECT = "urn:publicid:IDN+ilabt.imec.be+project+p"

#: what a scripted submission fault does
COMMIT_THEN_DROP = "commit-then-drop"  # the job is created, the answer is lost
DROP = "drop"  # the request is lost before GPULab saw it: no job
REJECT = "reject"  # GPULab answers 400
SERVER_ERROR_AFTER_COMMIT = "500-after-commit"  # the job is created, GPULab answers 500
#: what a scripted cancellation fault does
LOST_CANCEL_ANSWER = "lost-cancel-answer"  # the cancel is committed, the answer is lost
ALREADY_ENDED = "already-ended"  # someone else ended the job first; GPULab answers 409


@dataclass
class FakeGpulab:
    """Jobs by uuid, in creation order; ``calls`` logs ("submit", name), ("cancel", uuid), ("list", "")."""

    user_urn: str = USER
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    submit_faults: dict[str, list[str]] = field(default_factory=dict)
    cancel_faults: dict[str, list[str]] = field(default_factory=dict)
    #: called after each submission is stored (a racing apply can act here)
    on_submit: Any = None
    #: list at most this many QUEUED jobs, the newest, as GPULab v3.x does (None: every job)
    queued_cap: int | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _minute: int = 0

    def add(self, name: str, *, description: str | None, status: str = "QUEUED", user_urn: str | None = None,
            request: Mapping[str, Any] | None = None) -> str:
        """Store a job as if submitted earlier; returns its uuid."""
        with self._lock:
            return self._store({"name": name, "description": description, "request": dict(request or {})},
                               status=status, user_urn=user_urn or self.user_urn)

    def _store(self, body: Mapping[str, Any], *, status: str, user_urn: str) -> str:
        self._minute += 1
        uuid = f"{len(self.jobs):08d}-0000-0000-0000-000000000000"
        self.jobs[uuid] = {
            "uuid": uuid, "name": body["name"], "description": body.get("description"),
            "request": body.get("request") or {},
            "owner": {"projectUrn": PROJECT, "userUrn": user_urn, "userEmail": "hidden@hidden.hidden"},
            "state": {"status": status, "eventTimes": {
                "created": f"2026-11-23T{10 + self._minute // 60:02d}:{self._minute % 60:02d}:00Z"}},
        }
        return uuid

    def status_of(self, name: str) -> list[str]:
        return [job["state"]["status"] for job in self.jobs.values() if job["name"] == name]

    def active(self, name: str) -> list[str]:
        return [uuid for uuid, job in self.jobs.items() if job["name"] == name
                and not JobStatus.parse(job["state"]["status"]).is_final]

    # --- JobApi ------------------------------------------------------------------------------------

    def list_jobs(self, *, project_urn: str | None = None, user_urn: str | None = None,
                  allow_partial: bool = False) -> Listing:
        """Every job; with ``queued_cap`` like GPULab v3.x: only the newest that many QUEUED jobs."""
        with self._lock:
            self.calls.append(("list", ""))
            jobs = [RemoteJob.from_json(job) for job in self.jobs.values()]
        queued = [job for job in jobs if job.status is JobStatus.QUEUED]
        if self.queued_cap is None or len(queued) < self.queued_cap:
            return Listing(jobs)
        if not allow_partial:
            raise truncated_error([JobStatus.QUEUED])
        hidden = {job.uuid for job in queued[:len(queued) - self.queued_cap]}  # the oldest are not listed
        return Listing([job for job in jobs if job.uuid not in hidden], partial=[JobStatus.QUEUED])

    def submit(self, job: Mapping[str, Any], *, hold: bool = False) -> str:
        with self._lock:
            name = str(job["name"])
            self.calls.append(("submit", name))
            faults = self.submit_faults.get(name) or []
            fault = faults.pop(0) if faults else None
            if fault == DROP:
                raise AmbiguousSubmitError("the connection was lost")
            if fault == REJECT:
                raise ServerError("invalid job", status=400)
            uuid = self._store(job, status="QUEUED", user_urn=self.user_urn)
        if self.on_submit is not None:
            self.on_submit(name)
        if fault == COMMIT_THEN_DROP:
            raise AmbiguousSubmitError("the connection was lost after sending")
        if fault == SERVER_ERROR_AFTER_COMMIT:
            raise ServerError("internal error", status=500)
        return uuid

    def cancel(self, uuid: str) -> None:
        with self._lock:
            self.calls.append(("cancel", uuid))
            faults = self.cancel_faults.get(uuid) or []
            fault = faults.pop(0) if faults else None
            job = self.jobs[uuid]
            if job["owner"]["userUrn"] != self.user_urn:
                raise ServerError(f"Job {uuid} belongs to another user", status=403)
            if fault == ALREADY_ENDED:
                job["state"]["status"] = "CANCELLED"
                raise ServerError("the job is already final", status=409)
            if JobStatus.parse(job["state"]["status"]) in FINAL_STATUSES:
                raise ServerError("the job is already final", status=409)
            job["state"]["status"] = "CANCELLED"
        if fault == LOST_CANCEL_ANSWER:
            raise ConnectionFailedError("the connection was lost after sending")

    def get_job(self, uuid: str) -> RemoteJob:
        with self._lock:
            if uuid not in self.jobs:
                raise ServerError(f"Job {uuid} not found", status=404)
            return RemoteJob.from_json(self.jobs[uuid])
