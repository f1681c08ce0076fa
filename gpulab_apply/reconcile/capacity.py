"""Capacity in the plan (docs/capacity.md): for each job the plan submits, whether any node its project may use
can ever run it (an error naming the nearest node and what it lacks) and whether one can run it now (a note
with what is free).

:func:`check_capacity` is pure: the inventory is read once per plan by the caller
(:func:`gpulab_apply.gpulab.inventory.read_inventory`). The rule per node is :mod:`gpulab_apply.placement`'s,
the one the emulator's scheduler uses.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from gpulab_apply.gpulab.inventory import Inventory
from gpulab_apply.model import JobSpec
from gpulab_apply.placement import Kind, Need, Node, Room, Shortfall, has_room, need_of, shortfalls, taken
from gpulab_apply.reconcile.cost import plan_cost
from gpulab_apply.reconcile.finding import CapacityFinding, Verdict
from gpulab_apply.reconcile.plan import WORKING_STATUSES, Action, Plan

#: kinds that rule a node out whatever its size: a node lacking one of these is farther than any other
_HARD = frozenset({Kind.CLUSTER, Kind.PROJECT, Kind.NODE, Kind.GPU_MODEL})


def check_capacity(jobs: Iterable[JobSpec], inventory: Inventory, *,
                   project_urn: str | None) -> tuple[CapacityFinding, ...]:
    """A finding for each job that can never run or cannot run now, in the order given.

    "Now" is judged in that order against what is free, each job that fits taking its room, so ten jobs
    that each fit alone but not together get notes. ``project_urn``: the project of jobs that name none.
    The nodes are judged once per distinct need (the members of a sweep mostly share one), and room only
    shrinks, so a need that found none finds none for the rest of the plan either: the cost is linear in
    jobs plus nodes per distinct need (bench/capacity.py).
    """
    free = {node.name: (node.free or node.total) if node.accepting else Room(0, 0, 0) for node in inventory.nodes}
    able: dict[Need, tuple[Node, ...] | CapacityFinding] = {}
    waiting: dict[Need, str] = {}
    # per need, the first of its nodes that may still have room: those before it had none, and room only shrinks
    cursor: dict[Need, int] = {}
    findings: list[CapacityFinding] = []
    for spec in jobs:
        need = need_of(_mapping(spec.job.get("request")), _project(spec.job) or project_urn)
        if need not in able:
            nodes = tuple(node for node in inventory.nodes if not shortfalls(need, node))
            able[need] = nodes or _impossible(need, inventory)
        nodes_or_error = able[need]
        if isinstance(nodes_or_error, CapacityFinding):
            findings.append(dataclasses.replace(nodes_or_error, name=spec.name, location=spec.location))
            continue
        node = None
        if need not in waiting:
            start = cursor.get(need, 0)
            index = next((i for i in range(start, len(nodes_or_error))
                          if has_room(need, free[nodes_or_error[i].name])), None)
            if index is not None:
                cursor[need], node = index, nodes_or_error[index]
        if node is None:
            if need not in waiting:
                waiting[need] = _waits(need, nodes_or_error, free)
            message = waiting[need]
            findings.append(CapacityFinding(name=spec.name, verdict=Verdict.WAITS, message=message,
                                            location=spec.location))
        else:
            free[node.name] = taken(need, free[node.name])
    return tuple(findings)


def with_capacity(plan: Plan, findings: Sequence[CapacityFinding]) -> Plan:
    """The plan carrying ``findings`` (its guards then refuse the impossible jobs, docs/capacity.md)."""
    return dataclasses.replace(plan, capacity=tuple(findings))


def without_impossible(plan: Plan, *, now: datetime | None) -> Plan:
    """``apply --skip-impossible``: the plan with the jobs that can never start left out (their entries do
    nothing) and its cost counted again, so the rest goes ahead (docs/capacity.md#capacity-in-the-plan).
    Applied after a saved plan was checked for freshness, which compares the decisions as planned."""
    impossible = {finding.name for finding in plan.capacity if finding.is_error}
    if not impossible:
        return plan
    entries = tuple(dataclasses.replace(entry, action=Action.NONE, cancel=(), note="skipped: can never start")
                    if entry.name in impossible and entry.action in (Action.CREATE, Action.REPLACE) else entry
                    for entry in plan.entries)
    cost = plan_cost((e.desired for e in entries if e.desired and e.action in (Action.CREATE, Action.REPLACE)),
                     (job for e in entries for job in e.cancel if job.status in WORKING_STATUSES), now)
    return dataclasses.replace(plan, entries=entries, cost=cost)


def over_budget(plan: Plan) -> bool:
    """Whether the plan requests more GPU-hours than the budget has left this period."""
    left = plan.usage.left if plan.usage is not None else None
    return left is not None and plan.cost.requested > left


def submitted(plan: Plan) -> list[JobSpec]:
    """The desired jobs the plan submits (creates and replacements), in the plan's order."""
    return [entry.desired for entry in plan.entries
            if entry.desired is not None and entry.action in (Action.CREATE, Action.REPLACE)]


def _impossible(need: Need, inventory: Inventory) -> CapacityFinding:
    """The error for a need no node can run: a cluster or node that does not exist, else the nearest node."""
    if need.cluster_id is not None and need.cluster_id not in inventory.cluster_ids:
        known = ", ".join(map(str, sorted(inventory.cluster_ids))) or "none"
        return CapacityFinding(name="", verdict=Verdict.IMPOSSIBLE,
                               message=f"needs cluster {need.cluster_id}, which does not exist (clusters: {known})")
    if need.node_name is not None and not any(n.name.casefold() == need.node_name.casefold() for n in inventory.nodes):
        return CapacityFinding(name="", verdict=Verdict.IMPOSSIBLE,
                               message=f"needs node {need.node_name}, which GPULab does not list")
    if not inventory.nodes:
        return CapacityFinding(name="", verdict=Verdict.IMPOSSIBLE, message="GPULab lists no node at all")
    node, lacks = min(((node, shortfalls(need, node)) for node in inventory.nodes),
                      key=lambda pair: _distance(pair[0], pair[1]))
    message = ("needs " + ", ".join(s.needed for s in lacks) + f"; the nearest node, {node.label}, "
               + ", ".join(s.offered for s in lacks))
    return CapacityFinding(name="", verdict=Verdict.IMPOSSIBLE, message=message, node=node.name,
                           cluster_id=node.cluster_id)


def _distance(node: Node, lacks: Sequence[Shortfall]) -> tuple[int, int, int, int, int, int, int, str]:
    """Nearest first: in the cluster the job names, fewest constraints it cannot meet at all, fewest
    shortfalls, then the biggest node."""
    kinds = {s.kind for s in lacks}
    hard = len(kinds & _HARD)
    return (Kind.CLUSTER in kinds, hard, len(lacks), -node.total.gpus, -node.gpu_memory_mb, -node.total.cpus,
            -node.total.memory_mb, node.name)


def _waits(need: Need, able: Sequence[Node], free: Mapping[str, Room]) -> str:
    """``needs 2 x V100 on one node; 0 GPUs free now on cluster 7, 6 in use`` (``able``: the nodes that could)."""
    per_cluster: dict[int, tuple[int, int]] = {}
    for node in able:
        room = free[node.name]
        got_free, in_use = per_cluster.get(node.cluster_id, (0, 0))
        per_cluster[node.cluster_id] = (got_free + max(room.gpus, 0), in_use + node.total.gpus - max(room.gpus, 0))
    what = f"{need.gpus} \N{MULTIPLICATION SIGN} {'/'.join(need.gpu_models) or 'GPU'}" if need.gpus else "no GPU"
    room_text = "; ".join(f"{got_free} GPUs free now on cluster {cluster}, {in_use} in use"
                          for cluster, (got_free, in_use) in sorted(per_cluster.items()))
    gpus_free = any(free[node.name].gpus >= need.gpus for node in able)
    extra = f" (the GPUs are free, not {need.cpus} CPUs and {need.memory_gb} GB with them)" if gpus_free else ""
    return f"needs {what} on one node; {room_text}{extra}"


def _project(job: Mapping[str, Any]) -> str | None:
    project = _mapping(job.get("owner")).get("projectUrn")
    return project if isinstance(project, str) and project else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
