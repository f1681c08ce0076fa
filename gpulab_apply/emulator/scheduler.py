"""Where queued jobs go: free room per node, and a scheduler that stays cheap with thousands waiting.

The scheduling half of :class:`~gpulab_apply.emulator.cluster.Cluster`, which mixes it in and supplies
the status changes (``transition``). Node usage is read from the ``alloc`` column of the jobs that hold
resources, candidates from the ``jobs_queue`` index; see :meth:`Scheduling.schedule`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gpulab_apply.emulator.config import EmulatorConfig, NodeConfig
from gpulab_apply.emulator.store import HOLDING_STATUSES, JobRecord, Store, memory_gb
from gpulab_apply.placement import Need, Node, need_of, shortfalls

#: statuses in which a job holds resources on a node
HOLDING = HOLDING_STATUSES
NOT_ENOUGH_RESOURCES = "Not enough free resources too run this Job"  # sic, GPULab's own wording
NO_MATCHING_NODE = "No GPULab node matches the requested resources"


@dataclass
class NodeUse:
    """What the jobs on one node hold: GPU and CPU ids, and GB of memory."""

    node: NodeConfig
    gpus: set[int] = field(default_factory=set)
    cpus: set[int] = field(default_factory=set)
    memory_gb: int = 0

    def free_gpus(self) -> list[int]:
        return [gpu for gpu in range(self.node.gpus) if gpu not in self.gpus]

    def free_cpus(self) -> list[int]:
        return [cpu for cpu in range(self.node.cpus) if cpu not in self.cpus]


class Scheduling:
    """Placing QUEUED jobs on nodes; mixed into the cluster, which provides the attributes below."""

    config: EmulatorConfig
    nodes: dict[str, NodeConfig]
    #: the same nodes as the placement rule sees them (:meth:`NodeConfig.as_node`)
    placement_nodes: dict[str, Node]
    #: queued jobs' shapes (see :func:`_shape`) by seq, as this process read them
    shapes: dict[int, str]
    #: whether this process made a full scheduling pass yet (see :meth:`schedule`)
    caught_up: bool = False

    def transition(self, conn: sqlite3.Connection, record: JobRecord, status: str, when: float,
                   message: str | None = None) -> None:
        raise NotImplementedError

    def usage(self, conn: sqlite3.Connection) -> dict[str, NodeUse]:
        use = {name: NodeUse(node) for name, node in self.nodes.items()}
        for (alloc_text,) in conn.execute("SELECT alloc FROM jobs WHERE alloc IS NOT NULL"):
            alloc = json.loads(alloc_text)
            if alloc["node"] in use:
                node_use = use[alloc["node"]]
                node_use.gpus.update(alloc["gpuIds"])
                node_use.cpus.update(alloc["cpuIds"])
                node_use.memory_gb += alloc["memoryGb"]
        return use

    def schedule(self, conn: sqlite3.Connection, now: float, *, fresh: Sequence[JobRecord] | None = None) -> None:
        """Place QUEUED jobs whose time has come on nodes where they fit, oldest first.

        Every pass leaves no queued job that fits, so until resources are freed a job that waits
        cannot fit either: ``fresh``, the jobs that joined the queue since the last pass, are then the
        only candidates (None: every queued job is one, as after a job released its resources). This
        keeps a pass on a full cluster with thousands queued as cheap as with none.
        """
        if not self.caught_up:
            fresh = None  # this process's first pass: another process, or another config, may have written
        if fresh is not None and not fresh:
            return
        use = self.usage(conn)
        buckets: dict[tuple[str, str], int] | None = None
        # Room only shrinks during a pass: once a job of some shape (needs, constraints, bucket) did not
        # fit, the later ones of that shape are skipped unread. On a mixed cluster that keeps jobs pinned
        # to a full GPU model from being reloaded on every release.
        failed: set[str] = set()
        candidates = ((record, None) for record in fresh) if fresh is not None else self._queued(conn, now, use, failed)
        for record, shape in candidates:
            room = _room(use)
            if not room[1]:
                break
            gpus, cpus, memory, interactive = _needs(record)
            if (gpus > room[0] or cpus > room[1] or memory > room[2]) and not interactive:
                continue
            buckets = self._bucket_counts(conn) if buckets is None else buckets
            if not self._try_place(conn, record, now, use, buckets) and shape is not None:
                failed.add(shape)
        self.caught_up = True

    def _queued(self, conn: sqlite3.Connection, now: float, use: dict[str, NodeUse],
                failed: set[str]) -> Iterator[tuple[JobRecord, str]]:
        """Queued jobs, oldest first, that fit the room as it was when each batch of them was read, with
        their shapes; jobs of a shape in ``failed`` are skipped without being loaded."""
        after: tuple[float, int] = (float("-inf"), -1)
        while True:
            gpus, cpus, memory = _room(use)
            # read from the index alone (jobs_queue): only the jobs that pass are loaded
            rows = conn.execute(
                "SELECT eligible_at, seq FROM jobs WHERE eligible_at IS NOT NULL AND eligible_at <= ?"
                " AND (eligible_at > ? OR (eligible_at = ? AND seq > ?))"
                " AND (interactive OR (need_gpus <= ? AND need_cpus <= ? AND need_memory <= ?))"
                " ORDER BY eligible_at, seq LIMIT 64", (now, after[0], after[0], after[1], gpus, cpus, memory)).fetchall()
            for eligible_at, seq in rows:
                after = (eligible_at, seq)
                if self.shapes.get(seq) in failed:
                    continue
                for record in Store.load_where(conn, "seq = ?", (seq,)):
                    shape = self.shapes[seq] = _shape(record)
                    yield record, shape
            if len(rows) < 64:
                return

    def _try_place(self, conn: sqlite3.Connection, record: JobRecord, now: float, use: dict[str, NodeUse],
                   buckets: dict[tuple[str, str], int]) -> bool:
        """Place ``record`` or, if interactive, fail it; False when it keeps waiting."""
        placed = self._place(record, use, buckets)
        if placed is not None:
            record.sim["alloc"] = placed
            record.doc["state"]["scheduling"].update(
                {"assignedClusterId": self.nodes[placed["node"]].cluster_id,
                 "assignedInstanceId": f"{placed['node']}-inst1", "assignedSlaveName": placed["node"],
                 "tallyIncrement": float(record.doc["request"]["resources"]["gpus"])})
            self.transition(conn, record, "ASSIGNED", now, f"Assigned to {placed['node']}")
            record.wake_at = now + self.config.assign_seconds
        elif record.doc["request"]["scheduling"]["interactive"]:
            self.transition(conn, record, "FAILED", now, "Interactive job could not start immediately")
        else:
            return False
        Store.update(conn, record)
        return True

    def _bucket_counts(self, conn: sqlite3.Connection) -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = {}
        holders = ", ".join(f"'{status}'" for status in sorted(HOLDING))
        for user_urn, bucket in conn.execute(
                f"SELECT user_urn, json_extract(doc, '$.request.scheduling.maxSimultaneousJobs.bucketName') "
                f"FROM jobs WHERE status IN ({holders})"):
            if bucket is not None:
                counts[(user_urn, bucket)] = counts.get((user_urn, bucket), 0) + 1
        return counts

    def _need(self, record: JobRecord) -> Need:
        return need_of(record.doc["request"], record.doc["owner"]["projectUrn"])

    def _could_ever_fit(self, record: JobRecord) -> bool:
        """Whether some node could run the job once free: the plan's capacity check asks the same
        (:mod:`gpulab_apply.placement`), so the two always agree."""
        need = self._need(record)
        return any(not shortfalls(need, node) for node in self.placement_nodes.values())

    def _place(self, record: JobRecord, use: dict[str, NodeUse],
               buckets: dict[tuple[str, str], int]) -> dict[str, Any] | None:
        request = record.doc["request"]
        resources = request["resources"]
        bucket = request["scheduling"]["maxSimultaneousJobs"]
        key = (record.doc["owner"]["userUrn"], bucket["bucketName"]) if bucket else None
        if bucket and key and buckets.get(key, 0) >= bucket["bucketMax"]:
            return None
        memory = memory_gb(request)
        need = self._need(record)
        for name, node_use in use.items():
            node = node_use.node
            if shortfalls(need, self.placement_nodes[name]):
                continue
            free_gpus, free_cpus = node_use.free_gpus(), node_use.free_cpus()
            if (len(free_gpus) < resources["gpus"] or len(free_cpus) < resources["cpus"]
                    or node.cpu_memory_gb - node_use.memory_gb < memory):
                continue
            gpu_ids, cpu_ids = free_gpus[:resources["gpus"]], free_cpus[:resources["cpus"]]
            node_use.gpus.update(gpu_ids)
            node_use.cpus.update(cpu_ids)
            node_use.memory_gb += memory
            if key:
                buckets[key] = buckets.get(key, 0) + 1
            return {"node": name, "gpuIds": gpu_ids, "cpuIds": cpu_ids, "memoryGb": memory}
        return None


def _room(use: Mapping[str, NodeUse]) -> tuple[int, int, int]:
    """The most free GPUs, CPUs and GB of memory on any one node (not necessarily the same node)."""
    return (max(node_use.node.gpus - len(node_use.gpus) for node_use in use.values()),
            max(node_use.node.cpus - len(node_use.cpus) for node_use in use.values()),
            max(node_use.node.cpu_memory_gb - node_use.memory_gb for node_use in use.values()))


def _shape(record: JobRecord) -> str:
    """What decides where a job fits: its resources and constraints, its memory, its bucket, interactive, its
    project and host paths (docs/capacity.md#the-rule)."""
    request = record.doc["request"]
    bucket = request["scheduling"]["maxSimultaneousJobs"]
    return json.dumps([request["resources"], memory_gb(request), request["scheduling"]["interactive"], bucket,
                       record.doc["owner"]["userUrn"] if bucket else None, record.doc["owner"]["projectUrn"],
                       [entry["hostPath"] for entry in request["docker"]["storage"]]], sort_keys=True, default=str)


def _needs(record: JobRecord) -> tuple[int, int, int, bool]:
    request = record.doc["request"]
    return (request["resources"]["gpus"], request["resources"]["cpus"], memory_gb(request),
            bool(request["scheduling"]["interactive"]))
