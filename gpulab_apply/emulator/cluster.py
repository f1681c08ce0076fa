"""The simulated cluster: nodes with GPUs, a scheduler, and each job's way through GPULab's status machine.

Nothing runs in the background. :meth:`Cluster.advance` replays, in time order, everything that
happened up to "now" of the clock (jobs assigned, started, finished, halted and restarted), inside
the caller's write transaction. A restarted server therefore resumes exactly where it left off.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import uuid as uuid_module
from collections.abc import Mapping
from typing import Any

from gpulab_apply.emulator.clock import format_time, parse_time
from gpulab_apply.emulator.config import EmulatorConfig
from gpulab_apply.emulator.scheduler import HOLDING, NO_MATCHING_NODE, NOT_ENOUGH_RESOURCES, Scheduling
from gpulab_apply.emulator.store import JobRecord, Store
from gpulab_apply.emulator.submission import Simulation, duration_seconds

__all__ = ["HALT_BY_SCHEDULER", "HALT_BY_USER", "HOLDING", "Cluster", "new_record", "simulation_of"]

#: GPULab's HaltReason values for a halt by the scheduler and one asked for by the user
HALT_BY_SCHEDULER = "Score"
HALT_BY_USER = "User requested fallback manually"
_PROGRESS_STEPS = 10


def new_record(*, name: str, description: str | None, request: dict[str, Any], project_urn: str, user_urn: str,
               user_email: str, simulation: Simulation, now: float, status: str = "QUEUED",
               restart_of: Mapping[str, Any] | None = None, ran: float = 0.0) -> JobRecord:
    """A freshly created job, QUEUED (or ONHOLD) at ``now``, in the server-filled shape of GPULab."""
    job_uuid = str(uuid_module.uuid4())
    stamp = format_time(now)
    event_times: dict[str, Any] = {"created": stamp, "statusUpdated": stamp}
    event_times.update(dict.fromkeys(("QUEUED", "ASSIGNED", "STARTING", "RUNNING", "FINISHED", "FAILED",
                                      "CANCELLED", "DELETED", "MUSTHALT", "HALTING", "HALTED", "longRunNotify",
                                      "wasteNotify")))
    if status == "QUEUED":
        event_times["QUEUED"] = stamp
    doc: dict[str, Any] = {
        "uuid": job_uuid,
        "name": name,
        "description": description,
        "deploymentEnvironment": "production",
        "request": request,
        "state": {
            "status": status,
            "scheduling": {"assignedClusterId": None, "assignedInstanceId": None, "assignedSlaveName": None,
                           "queuedExplanations": [], "tallyIncrement": None, "haltEvents": [],
                           "schedulerSeenBase": None, "schedulerSeenScoreHalt": None, "schedulerSeenPrioHalt": None,
                           "ignoringReservationIds": []},
            "eventTimes": event_times,
            "resources": None,
            "finalUsageStatistics": None,
            "wasteReview": None,
        },
        "restartInfo": dict(restart_of) if restart_of else {"initialJobUuid": job_uuid, "restartCount": 0},
        "owner": {"projectUrn": project_urn, "userUrn": user_urn, "userEmail": user_email, "userDetails": None,
                  "userId": None, "projectId": None, "experimentId": None},
    }
    sim: dict[str, Any] = {"runtime": simulation.runtime, "exitCode": simulation.exit_code,
                           "haltAfter": simulation.halt_after, "ran": ran, "loggedUntil": ran, "runStarted": None,
                           "alloc": None}
    if simulation.fail_runs:  # runs of "the same job" are counted by name and request (docs/emulator.md)
        sim["failRuns"] = simulation.fail_runs
        sim["failKey"] = hashlib.sha256(json.dumps([name, request], sort_keys=True).encode()).hexdigest()[:16]
    return JobRecord(uuid=job_uuid, doc=doc, sim=sim, created=now, updated=now)


def _runs_ended(conn: sqlite3.Connection, record: JobRecord) -> int:
    """How many other runs of this job (same name and request) ran to their end, FAILED or FINISHED."""
    others = Store.load_where(conn, "name = ? AND status IN ('FAILED', 'FINISHED') AND uuid != ?",
                              (record.doc["name"], record.uuid))
    return sum(1 for other in others if other.sim.get("failKey") == record.sim["failKey"])


def simulation_of(record: JobRecord) -> Simulation:
    sim = record.sim
    return Simulation(runtime=sim["runtime"], exit_code=sim["exitCode"], halt_after=sim["haltAfter"],
                      fail_runs=sim.get("failRuns", 0))


class Cluster(Scheduling):
    """The nodes of ``config`` and the rules that move jobs through their lifecycle."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.nodes = {node.name: node for node in config.nodes}
        self.placement_nodes = {node.name: node.as_node() for node in config.nodes}
        self.shapes = {}

    # --- status changes -----------------------------------------------------------------------------

    def transition(self, conn: sqlite3.Connection, record: JobRecord, status: str, when: float,
                   message: str | None = None) -> None:
        """Move ``record`` to ``status`` at ``when``: event time, event log, resources released if final."""
        state = record.doc["state"]
        state["status"] = status
        stamp = format_time(when)
        if status in state["eventTimes"]:
            state["eventTimes"][status] = stamp
        state["eventTimes"]["statusUpdated"] = stamp
        record.updated = when
        if status not in HOLDING:
            record.sim["alloc"] = None
        if status != "QUEUED":
            record.eligible_at = None
            state["scheduling"]["queuedExplanations"] = []
        Store.add_event(conn, record.uuid, when, "STATUS_CHANGE", status, message or f"Job is now {status}")

    def queue(self, record: JobRecord, when: float) -> None:
        """Make a QUEUED job wait for the scheduler's next look (and for ``notBefore``)."""
        eligible = when + self.config.schedule_seconds
        not_before = record.doc["request"]["scheduling"]["notBefore"]
        if not_before is not None:
            eligible = max(eligible, parse_time(not_before))
        record.eligible_at = eligible
        record.wake_at = eligible

    # --- the simulation -----------------------------------------------------------------------------

    def advance(self, conn: sqlite3.Connection, now: float) -> None:
        """Replay everything due up to ``now``, in time order."""
        while True:
            due = Store.next_wake(conn)
            if due is None or due > now:
                if not self.caught_up:
                    self.schedule(conn, now)
                return
            records = Store.load_where(conn, "wake_at = ?", (due,))
            freed = False
            for record in records:
                held = record.sim["alloc"] is not None
                self._step(conn, record, due)
                freed = freed or (held and record.sim["alloc"] is None)
                Store.update(conn, record)
            # jobs still QUEUED after their step have just joined the queue (their first look)
            self.schedule(conn, due, fresh=None if freed else [r for r in records if r.status == "QUEUED"])

    def _step(self, conn: sqlite3.Connection, record: JobRecord, when: float) -> None:
        status = record.status
        record.wake_at = None
        if status == "QUEUED":
            not_after = record.doc["request"]["scheduling"]["notAfter"]
            if not_after is not None and parse_time(not_after) <= when:
                self.transition(conn, record, "FAILED", when, "notAfter passed while the job was still queued")
                return
            if not_after is not None:
                record.wake_at = parse_time(not_after)
            # why it waits, until the scheduler (right after this step) places it
            record.doc["state"]["scheduling"]["queuedExplanations"] = [
                NOT_ENOUGH_RESOURCES if self._could_ever_fit(record) else NO_MATCHING_NODE]
        elif status == "ASSIGNED":
            self._start(record)
            self.transition(conn, record, "STARTING", when, f"Pulling image {record.doc['request']['docker']['image']}")
            record.wake_at = when + self.config.start_seconds
        elif status == "STARTING":
            self.transition(conn, record, "RUNNING", when, "Container started")
            record.sim["runStarted"] = when
            record.wake_at = when + self._time_to_stop(record)
        elif status == "RUNNING":
            self._stop_running(conn, record, when)
        elif status == "MUSTHALT":
            self.transition(conn, record, "HALTING", when, "Node is halting the job")
            record.wake_at = when + self.config.halt_seconds
        elif status == "HALTING":
            self._halted(conn, record, when)
        elif status == "CANCELLING":
            self.transition(conn, record, "CANCELLED", when, "Job cancelled")

    def _time_to_stop(self, record: JobRecord) -> float:
        sim = record.sim
        scheduling = record.doc["request"]["scheduling"]
        limits = [sim["runtime"] - sim["ran"], duration_seconds(scheduling["maxDuration"]) - sim["ran"]]
        if scheduling["restartable"] and sim["haltAfter"] is not None:
            limits.append(sim["haltAfter"])
        return max(0.0, float(min(limits)))

    def ran_until(self, record: JobRecord, when: float) -> float:
        """Seconds of work done by ``when``, over all runs of this job (restarts included)."""
        started = record.sim["runStarted"]
        return float(record.sim["ran"]) + (when - started if started is not None else 0.0)

    def _stop_running(self, conn: sqlite3.Connection, record: JobRecord, when: float) -> None:
        sim = record.sim
        ran = self.ran_until(record, when)
        self.settle_log(record, when)
        sim["ran"], sim["runStarted"] = ran, None
        max_duration = duration_seconds(record.doc["request"]["scheduling"]["maxDuration"])
        if ran >= sim["runtime"]:
            if sim.get("failRuns") and _runs_ended(conn, record) < sim["failRuns"]:
                sim["exitCode"] = 1  # GPULAB_EMULATOR_FAIL_RUNS: this run is one of the first N
            record.log += f"[gpulab-emulator] exit code {sim['exitCode']}\n"
            if sim["exitCode"] == 0:
                self.transition(conn, record, "FINISHED", when, "Job finished (exit code 0)")
            else:
                self.transition(conn, record, "FAILED", when, f"Job failed (exit code {sim['exitCode']})")
        elif ran >= max_duration:
            record.log += "[gpulab-emulator] stopped: maxDuration reached\n"
            self.transition(conn, record, "FAILED", when, "Job stopped: it reached its maxDuration")
        else:
            self.must_halt(conn, record, when, HALT_BY_SCHEDULER)

    def must_halt(self, conn: sqlite3.Connection, record: JobRecord, when: float, reason: str) -> None:
        """RUNNING -> MUSTHALT: work stops now; HALTING and HALTED follow.

        ``reason`` is one of GPULab's HaltReason values (``Score``, ``User requested fallback manually``...).
        """
        if record.sim["runStarted"] is not None:
            self.settle_log(record, when)
            record.sim["ran"], record.sim["runStarted"] = self.ran_until(record, when), None
        record.doc["state"]["scheduling"]["haltEvents"].append({
            "reason": reason, "time": format_time(when), "startedJobUuids": [], "haltedJobUuids": [record.uuid],
            "slaveName": record.sim["alloc"]["node"], "slaveInstance": f"{record.sim['alloc']['node']}-inst1",
            "startedJobScores": [], "haltedJobScores": []})
        self.transition(conn, record, "MUSTHALT", when, f"Halt: {reason}")
        record.wake_at = when + self.config.halt_seconds

    def _halted(self, conn: sqlite3.Connection, record: JobRecord, when: float) -> None:
        record.log += "[gpulab-emulator] halted; GPULab queues a new job to continue\n"
        restart = record.doc["restartInfo"]
        successor = new_record(
            name=record.doc["name"], description=record.doc["description"], request=record.doc["request"],
            project_urn=record.doc["owner"]["projectUrn"], user_urn=record.doc["owner"]["userUrn"],
            user_email=record.doc["owner"]["userEmail"], simulation=simulation_of(record), now=when,
            restart_of={"initialJobUuid": restart["initialJobUuid"], "restartCount": restart["restartCount"] + 1},
            ran=record.sim["ran"])
        self.transition(conn, record, "HALTED", when, f"Job halted; restarted as {successor.uuid}")
        self.queue(successor, when)
        Store.insert(conn, successor)
        Store.add_event(conn, successor.uuid, when, "STATUS_CHANGE", "QUEUED",
                        f"Restart {restart['restartCount'] + 1} of job {restart['initialJobUuid']}")

    def cancel(self, conn: sqlite3.Connection, record: JobRecord, when: float) -> None:
        """Cancel an active job; one holding resources passes through CANCELLING if so configured."""
        if record.sim["runStarted"] is not None:
            self.settle_log(record, when)
            record.sim["ran"], record.sim["runStarted"] = self.ran_until(record, when), None
            record.log += "[gpulab-emulator] cancelled\n"
        record.wake_at = None
        if record.status in HOLDING and self.config.cancel_seconds > 0:
            self.transition(conn, record, "CANCELLING", when, "Cancel requested")
            record.wake_at = when + self.config.cancel_seconds
        else:
            self.transition(conn, record, "CANCELLED", when, "Job cancelled by its user")

    # --- logs ---------------------------------------------------------------------------------------

    def progress_lines(self, record: JobRecord, when: float) -> str:
        """Log lines for the work done since the stored log was last written (10 % steps)."""
        sim = record.sim
        if sim["runStarted"] is None or sim["runtime"] <= 0:
            return ""
        ran = min(self.ran_until(record, when), sim["runtime"])
        step = sim["runtime"] / _PROGRESS_STEPS
        lines = []
        for index in range(1, _PROGRESS_STEPS + 1):
            milestone = step * index
            if sim["loggedUntil"] < milestone <= ran:
                lines.append(f"[gpulab-emulator] progress {index * 100 // _PROGRESS_STEPS}% "
                             f"({milestone:g} s of {sim['runtime']:g} s)\n")
        return "".join(lines)

    def settle_log(self, record: JobRecord, when: float) -> None:
        record.log += self.progress_lines(record, when)
        record.sim["loggedUntil"] = self.ran_until(record, when)

    def _start(self, record: JobRecord) -> None:
        """Fill ``state.resources`` as a node does when it starts the container."""
        alloc = record.sim["alloc"]
        node = self.nodes[alloc["node"]]
        request = record.doc["request"]
        user_name = record.doc["owner"]["userUrn"].rsplit("+", 1)[-1]
        ports = [{"containerPort": mapping["containerPort"], "hostPort": mapping["hostPort"] or 32000 + index,
                  "hostIp": mapping["hostIp"] or "0.0.0.0"}
                 for index, mapping in enumerate(request["docker"]["portMappings"])]
        record.doc["state"]["resources"] = {
            "clusterId": node.cluster_id, "gpuIds": alloc["gpuIds"], "cpuIds": alloc["cpuIds"],
            "cpuMemoryGb": request["resources"]["cpuMemoryGb"],
            "gpuMemoryGb": node.gpu_memory_gb if request["resources"]["gpus"] else 0,
            "slaveName": node.name, "slaveHost": f"{node.name}.emulator.invalid",
            "slaveInstanceId": f"{node.name}-inst1", "slaveInstancePid": 1000 + node.cluster_id,
            "workerId": alloc["cpuIds"][0] if alloc["cpuIds"] else 0,
            "sshHost": f"{node.name}.emulator.invalid", "sshPort": 22, "sshUsername": record.uuid[:8].upper(),
            "sshProxyHost": "bastion.emulator.invalid", "sshProxyPort": 22, "sshProxyUsername": user_name,
            "portMappings": ports, "gpuDetails": None,
            "tmpfsMemGb": alloc["memoryGb"] - request["resources"]["cpuMemoryGb"],
        }
