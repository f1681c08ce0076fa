"""The emulated GPULab's operations, independent of HTTP: submit, list, show, change status, delete, logs.

Every operation first lets the simulation catch up with the clock, so what a request sees is the
state of the cluster at that moment of simulated time.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from gpulab_apply.emulator.clock import Clock, format_time
from gpulab_apply.emulator.cluster import HALT_BY_USER, HOLDING, Cluster, new_record
from gpulab_apply.emulator.config import EmulatorConfig
from gpulab_apply.emulator.http_error import HttpError
from gpulab_apply.emulator.listing import PageCursors
from gpulab_apply.emulator.render import wire_status
from gpulab_apply.emulator.store import JobQuery, JobRecord, Store
from gpulab_apply.emulator.submission import normalise
from gpulab_apply.gpulab.api import ApiVersion
from gpulab_apply.gpulab.identity import Identity
from gpulab_apply.jobmodel.rules import submission_problems
from gpulab_apply.jobmodel.status import FINAL_STATUSES, JobStatus

_FINAL = frozenset(status.name for status in FINAL_STATUSES)
_EVENT_TYPES = {"STATUS_CHANGE": "Status Change", "DEBUG": "Debug", "INFO": "Info", "WARN": "Warning",
                "ERROR": "Error"}


class Emulator:
    """One emulated GPULab over a :class:`Store`, a :class:`Cluster` and a clock."""

    def __init__(self, *, store: Store, config: EmulatorConfig, clock: Clock) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self.cluster = Cluster(config)
        self.pages = PageCursors()

    # --- simulation ---------------------------------------------------------------------------------

    def catch_up(self) -> float:
        """Bring the simulation up to the clock's now (cheap when nothing is due); return now."""
        now = self.clock.now()
        # Asked of the database, not cached: another process (``--local`` beside ``gpulab-apply
        # emulator``) may share the file. An index lookup, a few microseconds.
        with self.store.read() as conn:
            due = Store.next_wake(conn)
        if (due is not None and due <= now) or not self.cluster.caught_up:
            with self._write_at(now):
                pass
        return now

    @contextmanager
    def _write_at(self, now: float) -> Iterator[sqlite3.Connection]:
        """A write transaction that first replays the simulation up to ``now``."""
        with self.store.write() as conn:
            self.cluster.advance(conn, now)
            yield conn

    # --- jobs ---------------------------------------------------------------------------------------

    def submit(self, body: object, *, version: str, identity: Identity, hold: bool = False) -> str:
        """Store a new job (QUEUED, or ONHOLD with ``hold``) and return its UUID."""
        if isinstance(body, dict):
            errors = submission_problems(body)  # the one rulebook: validate's verdict is GPULab's
            if errors:
                raise HttpError(400, f"Invalid job: {errors[0]}" + (f" (and {len(errors) - 1} more problem(s))"
                                                                   if len(errors) > 1 else ""))
        submission = normalise(
            body, default_project_urn=None if ApiVersion(version).is_v4 else self.config.default_project_urn,
            default_runtime=self.config.default_runtime, default_min_duration=self.config.default_min_duration,
            default_max_duration=self.config.default_max_duration)
        now = self.clock.now()
        record = new_record(name=submission.name, description=submission.description, request=submission.request,
                            project_urn=submission.project_urn, user_urn=identity.user_urn, user_email=identity.email or "",
                            simulation=submission.simulation, now=now, status="ONHOLD" if hold else "QUEUED")
        if not hold:
            self.cluster.queue(record, now)
        row = record.row()  # rendered before the write lock, which the other submissions wait for
        with self._write_at(now) as conn:
            Store.insert(conn, record, row)
            Store.add_event(conn, record.uuid, now, "STATUS_CHANGE", record.status,
                            "Job submitted" + (" on hold" if hold else ""))
        return record.uuid

    def seed(self, jobs: Iterable[Mapping[str, Any]], *, status: str = "QUEUED", user_urn: str | None = None,
             user_email: str | None = None, project_urn: str | None = None, created: float | None = None,
             ) -> list[str]:
        """Store jobs directly (no HTTP, one transaction), e.g. another user's or thousands for a benchmark.

        ``status`` is ONHOLD, QUEUED (then the simulation runs them) or a final status (FINISHED,
        FAILED, CANCELLED, HALTED, DELETED); ``created`` defaults to now.
        """
        status = JobStatus.parse(status).name
        if status not in _FINAL | {"ONHOLD", "QUEUED"}:
            raise ValueError(f"seeded jobs start ONHOLD, QUEUED or in a final status, not {status}")
        now = self.clock.now()
        when = now if created is None else created
        records = []
        for body in jobs:
            submission = normalise(
                body, default_project_urn=project_urn or self.config.default_project_urn,
                default_runtime=self.config.default_runtime, default_min_duration=self.config.default_min_duration,
                default_max_duration=self.config.default_max_duration)
            record = new_record(
                name=submission.name, description=submission.description, request=submission.request,
                project_urn=project_urn or submission.project_urn, user_urn=user_urn or self.config.default_user_urn,
                user_email=user_email or self.config.default_user_email, simulation=submission.simulation,
                now=when, status="QUEUED" if status == "QUEUED" else "ONHOLD")
            if status in _FINAL:
                record.doc["state"]["status"] = status
                record.doc["state"]["eventTimes"][status] = format_time(when)
            elif status == "QUEUED":
                self.cluster.queue(record, when)
            records.append(record)
        with self._write_at(now) as conn:
            Store.insert_many(conn, records)
        return [record.uuid for record in records]

    def job_text(self, job_uuid: str, version: str) -> str:
        self.catch_up()
        with self.store.read() as conn:
            text = Store.job_text(conn, job_uuid, version)
        if text is None:
            raise HttpError(404, f"Job {job_uuid} not found")
        return text

    def list_texts(self, query: JobQuery, version: str) -> list[str]:
        self.catch_up()
        chain, after, skip = self.pages.start(query, self.store.data_version())
        with self.store.read() as conn:
            texts, last = Store.list_texts(conn, query, version, after=after, skip=skip)
        self.pages.record(chain, query.page, last)
        return texts

    def set_status(self, job_uuid: str, requested: str, *, identity: Identity) -> None:
        """GPULab's ``PUT jobs/{uuid}/state/status``: cancel, hold, release or halt a job."""
        target = requested.strip().strip('"').upper()
        if target not in ("CANCELLED", "ONHOLD", "QUEUED", "MUSTHALT"):
            raise HttpError(400, f"Unsupported status {requested.strip()!r}: send one of CANCELLED, ONHOLD, "
                                 "QUEUED, MUSTHALT as text/plain")
        now = self.clock.now()
        with self._write_at(now) as conn:
            record = self._own_job(conn, job_uuid, identity)
            status = record.status
            if status == target or (target == "CANCELLED" and status == "CANCELLING"):
                return
            if target == "CANCELLED" and status not in _FINAL:
                self.cluster.cancel(conn, record, now)
            elif target == "ONHOLD" and status == "QUEUED":
                record.wake_at = None
                self.cluster.transition(conn, record, "ONHOLD", now, "Job put on hold")
            elif target == "QUEUED" and status == "ONHOLD":
                self.cluster.transition(conn, record, "QUEUED", now, "Job released from hold")
                self.cluster.queue(record, now)
            elif target == "MUSTHALT" and status == "RUNNING":
                if not record.doc["request"]["scheduling"]["restartable"]:
                    raise HttpError(409, f"Job {job_uuid} is not restartable, so it cannot be halted; "
                                         "cancel it instead")
                self.cluster.must_halt(conn, record, now, HALT_BY_USER)
            else:
                raise HttpError(409, f"Job {job_uuid} is {status}: it cannot become {target}")
            Store.update(conn, record)
            if status in HOLDING:
                self.cluster.schedule(conn, now)  # resources were freed

    def delete(self, job_uuid: str, *, finished: bool, identity: Identity) -> None:
        """Mark a job DELETED. Finished jobs need ``finished=true``; jobs holding resources must be cancelled."""
        now = self.clock.now()
        with self._write_at(now) as conn:
            record = self._own_job(conn, job_uuid, identity)
            status = record.status
            if status == "DELETED":
                return
            if status in _FINAL and not finished:
                raise HttpError(409, f"Job {job_uuid} is {status}: deleting a finished job needs ?finished=true")
            if status not in _FINAL and status not in ("ONHOLD", "QUEUED"):
                raise HttpError(409, f"Job {job_uuid} is {status}: cancel it before deleting it")
            record.wake_at = None
            self.cluster.transition(conn, record, "DELETED", now, "Job deleted")
            Store.update(conn, record)

    def log(self, job_uuid: str) -> str:
        now = self.catch_up()
        with self.store.read() as conn:
            record = Store.load(conn, job_uuid)
        if record is None:
            raise HttpError(404, f"Job {job_uuid} not found")
        return record.log + self.cluster.progress_lines(record, now)

    def debug_events(self, job_uuid: str, version: str) -> list[dict[str, Any]]:
        self.catch_up()
        with self.store.read() as conn:
            if Store.job_text(conn, job_uuid, ApiVersion.V4_0) is None:
                raise HttpError(404, f"Job {job_uuid} not found")
            events = Store.events(conn, job_uuid)
        return [{"jobId": job_uuid, "type": _EVENT_TYPES[kind], "time": format_time(time),
                 "newState": wire_status(status, version) if status else None, "msg": message}
                for time, kind, status, message in events]

    def _own_job(self, conn: sqlite3.Connection, job_uuid: str, identity: Identity) -> JobRecord:
        record = Store.load(conn, job_uuid)
        if record is None:
            raise HttpError(404, f"Job {job_uuid} not found")
        if record.doc["owner"]["userUrn"] != identity.user_urn:
            raise HttpError(403, f"Job {job_uuid} belongs to another user")
        return record

    # --- cluster information ------------------------------------------------------------------------

    def slaves(self) -> list[dict[str, Any]]:
        now = self.catch_up()
        with self.store.read() as conn:
            use = self.cluster.usage(conn)
            counts = _active_counts(conn)
        stamp = format_time(now)
        result = []
        for name, node_use in use.items():
            node = node_use.node
            result.append({
                "name": name, "instanceId": f"{name}-inst1", "clusterId": node.cluster_id, "pid": 1000,
                "deploymentEnvironment": "production", "softwareVersion": "emulator", "aliases": [],
                "comment": "gpulab-apply emulator node", "host": f"{name}.emulator.invalid",
                "gpuModel": [{"vendor": "nvidia", "name": node.gpu_model, "memoryMb": node.gpu_memory_gb * 1024}]
                * node.gpus,
                "cpuModel": ["Emulated CPU"] * node.cpus,
                "worker": _resource(node.cpus, len(node_use.cpus)),
                "cpuMemoryMb": _resource(node.cpu_memory_gb * 1024, node_use.memory_gb * 1024),
                "gpu": _resource(node.gpus, len(node_use.gpus)),
                "cpu": _resource(node.cpus, len(node_use.cpus)),
                "lastUpdate": stamp, "shuttingDown": False, "cudaVersionFull": node.cuda_version,
                "cudaVersionMajor": node.cuda_major, "dockerDiskUsedPercent": 0.0, "acceptingJobs": True,
                "statistics": None, "activeJobsCounts": counts.get(name, _zero_counts()),
                "storagePathsAvailable": list(node.storage_paths),
                "storageAliasesAvailable": None, "storagePathsAvailableProjectLimited": None,
                "activeJobUuids": None})
        return result

    def clusters(self) -> list[dict[str, Any]]:
        by_cluster: dict[int, list[dict[str, Any]]] = {}
        for slave in self.slaves():
            by_cluster.setdefault(slave["clusterId"], []).append(slave)
        projects = {node.cluster_id: node.allowed_projects for node in self.config.nodes}
        result = []
        for cluster_id, slaves in sorted(by_cluster.items()):
            allowed = projects[cluster_id]
            models = {model["name"]: model for slave in slaves for model in slave["gpuModel"]}
            result.append({
                "deploymentEnvironment": "production", "clusterId": cluster_id,
                "comment": f"gpulab-apply emulator cluster {cluster_id}",
                "slaveCount": len(slaves), "gpuModel": list(models.values()),
                **{key: _sum_resources(slave[key] for slave in slaves) for key in ("worker", "cpuMemoryMb", "gpu",
                                                                                    "cpu")},
                "activeJobsCounts": {key: sum(slave["activeJobsCounts"][key] for slave in slaves)
                                     for key in _zero_counts()},
                "isPrivate": allowed is not None, "haveAccess": None if allowed is not None else True,
                "allowedProjects": None if allowed is None else list(allowed),
                "storagePathsAvailable": sorted({path for slave in slaves for path in slave["storagePathsAvailable"]}),
                "storageAliasesAvailable": None})
        return result


def _resource(total: int, used: int) -> dict[str, int]:
    return {"systemTotal": total, "acquired": total, "used": used, "available": total - used}


def _sum_resources(resources: Iterable[Mapping[str, int]]) -> dict[str, int]:
    total = {"systemTotal": 0, "acquired": 0, "used": 0, "available": 0}
    for resource in resources:
        for key in total:
            total[key] += resource[key]
    return total


def _zero_counts() -> dict[str, int]:
    return dict.fromkeys(("onhold", "queued", "assigned", "starting", "running", "musthalt", "halting"), 0)


def _active_counts(conn: sqlite3.Connection) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for status, sim_text in conn.execute("SELECT status, sim FROM jobs WHERE status IN "
                                         "('ASSIGNED', 'STARTING', 'RUNNING', 'MUSTHALT', 'HALTING')"):
        alloc = json.loads(sim_text).get("alloc")
        if alloc:
            node_counts = counts.setdefault(alloc["node"], _zero_counts())
            node_counts[status.lower()] += 1
    return counts
