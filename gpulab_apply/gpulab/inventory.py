"""GPULab's inventory: its nodes (``GET slaves``) and which projects may use each cluster (``GET clusters``),
read once per plan for the capacity check (docs/capacity.md).

:func:`inventory_from` turns the two answers (``SlaveInfo2`` and ``ClusterInfo`` in GPULab's own models) into
:class:`~gpulab_apply.placement.Node` records; :func:`read_inventory` asks GPULab for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gpulab_apply.errors import ServerError
from gpulab_apply.placement import Node, Room

if TYPE_CHECKING:
    from gpulab_apply.gpulab.client import GpulabClient


@dataclass(frozen=True, slots=True)
class Inventory:
    """Every node GPULab reports, and the ids of its clusters (a cluster may have no node up)."""

    nodes: tuple[Node, ...]
    cluster_ids: frozenset[int]


def read_inventory(client: GpulabClient) -> Inventory:
    """Two requests: ``clusters`` then ``slaves`` (both also answer anonymously)."""
    clusters = client.read_json("clusters", what="read GPULab's clusters")
    slaves = client.read_json("slaves", what="read GPULab's nodes")
    return inventory_from(clusters, slaves)


def inventory_from(clusters: Any, slaves: Any) -> Inventory:
    """The inventory from the JSON of ``GET clusters`` and ``GET slaves``; an answer of another shape is a
    :class:`ServerError` naming it."""
    if not isinstance(clusters, list) or not isinstance(slaves, list):
        raise ServerError("GPULab's clusters or slaves answer is not a JSON array", status=200)
    access: dict[int, tuple[str, ...] | None] = {}
    for cluster in clusters:
        if not isinstance(cluster, Mapping) or not isinstance(cluster.get("clusterId"), int):
            raise ServerError(f"GPULab's clusters answer holds an entry without a clusterId: {str(cluster)[:200]}",
                              status=200)
        allowed = cluster.get("allowedProjects")
        if cluster.get("haveAccess") is False:
            access[cluster["clusterId"]] = ()  # private, and not to us
        else:
            access[cluster["clusterId"]] = tuple(map(str, allowed)) if isinstance(allowed, list) else None
    nodes = []
    for slave in slaves:
        try:
            nodes.append(_node(slave, access))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            name = slave.get("name") if isinstance(slave, Mapping) else None
            raise ServerError(f"GPULab's slaves answer holds a node this tool cannot read ({name!r}: "
                              f"{type(exc).__name__}: {exc})", status=200) from None
    return Inventory(nodes=tuple(nodes), cluster_ids=frozenset(access) | {node.cluster_id for node in nodes})


def _node(slave: Mapping[str, Any], access: Mapping[int, tuple[str, ...] | None]) -> Node:
    models = [model for model in slave.get("gpuModel") or () if isinstance(model, Mapping)]
    storage = slave.get("storagePathsAvailable")
    cluster_id = int(slave["clusterId"])
    cuda = slave.get("cudaVersionMajor")
    if not isinstance(cuda, int):
        full = str(slave.get("cudaVersionFull") or "")
        cuda = int(full.split(".")[0]) if full.split(".")[0].isdigit() else None
    return Node(
        name=str(slave["name"]), cluster_id=cluster_id,
        gpu_models=tuple(dict.fromkeys(str(model["name"]) for model in models)),
        gpu_memory_mb=min((int(model["memoryMb"]) for model in models), default=0),
        total=_room(slave, "acquired"), free=_room(slave, "available"), cuda_major=cuda,
        storage_paths=tuple(map(str, storage)) if isinstance(storage, list) else None,
        projects=access.get(cluster_id),
        accepting=bool(slave.get("acceptingJobs", True)) and not slave.get("shuttingDown", False))


def _room(slave: Mapping[str, Any], key: str) -> Room:
    # ``acquired``: what the node took for GPULab (its ``systemTotal`` may count what it keeps for itself)
    return Room(gpus=int(slave["gpu"][key]), cpus=int(slave["cpu"][key]), memory_mb=int(slave["cpuMemoryMb"][key]))
