"""Whether a job's request can run on a node: the one rule the plan's capacity check and the emulator's
scheduler share (docs/capacity.md#the-rule), so a job the plan calls impossible never starts in the emulator
and one it calls possible can start on an empty cluster.

A :class:`Need` is read from a Job2 ``request`` (as a job file writes it, or as GPULab stores it);
:func:`shortfalls` says what a :class:`Node` lacks to *ever* run it, :func:`fits_now` whether its free room
runs it now. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

#: host paths every node offers: they are not directories of the node (docs/capacity.md#the-rule)
SPECIAL_HOST_PATHS = frozenset({"tmpfs", ".ssh", "PROJECT_SHARE_AUTO"})
_MB_PER_GB = 1024


@dataclass(frozen=True, slots=True)
class Room:
    """Free (or total) resources of one node: GPUs, CPUs and MB of CPU memory."""

    gpus: int
    cpus: int
    memory_mb: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    """One GPULab node ("slave") as its inventory describes it."""

    name: str
    cluster_id: int
    #: distinct GPU model names, e.g. ``("NVIDIA A100-SXM4-80GB",)``; empty on a node without GPUs
    gpu_models: tuple[str, ...]
    #: memory of one GPU in MB (the smallest, if the node mixes cards)
    gpu_memory_mb: int
    #: what the node has for jobs: GPUs, CPUs, MB of CPU memory
    total: Room
    #: what is free now; None when unknown (then it counts as all free)
    free: Room | None = None
    cuda_major: int | None = None
    #: host paths jobs may mount; None: unknown (then every path counts as offered)
    storage_paths: tuple[str, ...] | None = None
    #: project URNs that may use the node's cluster; None: every project
    projects: tuple[str, ...] | None = None
    #: whether it takes new jobs now (not shutting down)
    accepting: bool = True

    def __post_init__(self) -> None:
        if self.storage_paths is not None:  # compared as directories: /project_ghent/ holds /project_ghent/x/
            object.__setattr__(self, "storage_paths", tuple(map(_slash, self.storage_paths)))

    @property
    def label(self) -> str:
        """``a100-1 (cluster 7)``."""
        return f"{self.name} (cluster {self.cluster_id})"


@dataclass(frozen=True, slots=True, kw_only=True)
class Need:
    """What a job asks of one node. Memory includes tmpfs mounts, which GPULab counts as CPU memory."""

    gpus: int
    cpus: int
    memory_gb: int
    #: GPU model substrings, any of which may match (case-insensitive); empty: any model
    gpu_models: tuple[str, ...] = ()
    gpu_memory_gb: int | None = None
    min_cuda: int | None = None
    cluster_id: int | None = None
    node_name: str | None = None
    #: host paths the job mounts, ending in ``/`` (special ones excluded)
    host_paths: tuple[str, ...] = ()
    #: the job's project URN; None: unknown (then project limits are not judged)
    project: str | None = None


class Kind(StrEnum):
    """What a node can lack, in the order a report names them."""

    CLUSTER = "cluster"
    PROJECT = "project"
    NODE = "node"
    GPU_MODEL = "gpu-model"
    GPUS = "gpus"
    GPU_MEMORY = "gpu-memory"
    CUDA = "cuda"
    CPUS = "cpus"
    MEMORY = "memory"
    STORAGE = "storage"


class Shortfall(NamedTuple):
    """One thing a node lacks: what the job needs and what the node offers, in words."""

    kind: Kind
    needed: str
    offered: str


def need_of(request: Mapping[str, Any], project: str | None = None) -> Need:
    """The need of a Job2 ``request`` (missing or malformed values count as none: validation judges those)."""
    resources = _mapping(request.get("resources"))
    docker = _mapping(request.get("docker"))
    models = resources.get("gpuModel") or ()
    storage = docker.get("storage") or ()
    host_paths: list[str] = []
    tmpfs = 0
    for entry in storage if isinstance(storage, list) else ():
        path = entry if isinstance(entry, str) else _text(_mapping(entry).get("hostPath")) or _text(
            _mapping(entry).get("containerPath"))
        # GPULab stores paths with a trailing slash, the special ones too (``PROJECT_SHARE_AUTO/``)
        if path.rstrip("/") == "tmpfs":
            tmpfs += _count(_mapping(entry).get("sizeGb"))
        elif path and path.rstrip("/") not in SPECIAL_HOST_PATHS:
            host_paths.append(_slash(path))
    return Need(
        gpus=_count(resources.get("gpus")), cpus=_count(resources.get("cpus")),
        memory_gb=_count(resources.get("cpuMemoryGb")) + tmpfs,
        gpu_models=tuple(str(m) for m in ([models] if isinstance(models, str) else models)),
        gpu_memory_gb=_optional(resources.get("gpuMemoryGb")), min_cuda=_optional(resources.get("minCudaVersion")),
        cluster_id=_optional(resources.get("clusterId")), node_name=_text(resources.get("slaveName")) or None,
        host_paths=tuple(host_paths), project=project)


def shortfalls(need: Need, node: Node) -> tuple[Shortfall, ...]:
    """What ``node`` lacks to ever run ``need`` (empty: it can, once enough of it is free)."""
    found: list[Shortfall] = []
    if need.cluster_id is not None and need.cluster_id != node.cluster_id:
        found.append(Shortfall(Kind.CLUSTER, f"cluster {need.cluster_id}", f"is in cluster {node.cluster_id}"))
    if need.project is not None and node.projects is not None and need.project.casefold() not in {
            project.casefold() for project in node.projects}:
        found.append(Shortfall(Kind.PROJECT, f"project {_project_name(need.project)}",
                               f"is open only to project(s) "
                               f"{', '.join(map(_project_name, node.projects)) or 'other than yours'}"))
    if need.node_name is not None and need.node_name.casefold() != node.name.casefold():
        found.append(Shortfall(Kind.NODE, f"node {need.node_name}", f"is {node.name}"))
    if need.gpu_models and not matches_model(need.gpu_models, node.gpu_models):
        found.append(Shortfall(Kind.GPU_MODEL, f"a GPU model matching {' or '.join(need.gpu_models)}",
                               f"has {', '.join(node.gpu_models) or 'no GPUs'}"))
    if need.gpus > node.total.gpus:
        what = "/".join(need.gpu_models) or "GPU"
        found.append(Shortfall(Kind.GPUS, f"{need.gpus} \N{MULTIPLICATION SIGN} {what} on one node",
                               f"offers {node.total.gpus}"))
    if need.gpu_memory_gb is not None and need.gpus and node.gpu_memory_mb < need.gpu_memory_gb * _MB_PER_GB:
        found.append(Shortfall(Kind.GPU_MEMORY, f"{need.gpu_memory_gb} GB per GPU",
                               f"offers {_gb(node.gpu_memory_mb)} GB"))
    if need.min_cuda is not None and (node.cuda_major is None or node.cuda_major < need.min_cuda):
        found.append(Shortfall(Kind.CUDA, f"CUDA {need.min_cuda} or later",
                               f"has CUDA {node.cuda_major if node.cuda_major is not None else 'unknown'}"))
    if need.cpus > node.total.cpus:
        found.append(Shortfall(Kind.CPUS, f"{need.cpus} CPUs", f"offers {node.total.cpus}"))
    if need.memory_gb * _MB_PER_GB > node.total.memory_mb:
        found.append(Shortfall(Kind.MEMORY, f"{need.memory_gb} GB of CPU memory",
                               f"offers {_gb(node.total.memory_mb)} GB"))
    missing = [path for path in need.host_paths if not offers_path(node.storage_paths, path)]
    if missing:
        found.append(Shortfall(Kind.STORAGE, f"host path {', '.join(missing)}",
                               f"offers {', '.join(node.storage_paths or ()) or 'no host paths'}"))
    return tuple(found)


def fits_now(need: Need, node: Node) -> bool:
    """Whether ``node`` can run ``need`` with what is free now (it must be able to run it at all)."""
    free = node.free if node.free is not None else node.total
    return node.accepting and not shortfalls(need, node) and has_room(need, free)


def has_room(need: Need, room: Room) -> bool:
    """Whether ``room`` holds the GPUs, CPUs and memory of ``need``."""
    return need.gpus <= room.gpus and need.cpus <= room.cpus and need.memory_gb * _MB_PER_GB <= room.memory_mb


def taken(need: Need, room: Room) -> Room:
    """``room`` less what ``need`` takes of it."""
    return Room(room.gpus - need.gpus, room.cpus - need.cpus, room.memory_mb - need.memory_gb * _MB_PER_GB)


def matches_model(wanted: Sequence[str], models: Sequence[str]) -> bool:
    """GPULab's rule: a wanted model matches when it is a case-insensitive substring of the node's model."""
    return any(want.casefold() in model.casefold() for want in wanted for model in models)


def offers_path(available: Sequence[str] | None, path: str) -> bool:
    """Whether a host path lies in one of the node's storage paths (unknown paths: assumed offered); both
    end in ``/``, as :class:`Node` and :func:`need_of` keep them."""
    return available is None or any(path.startswith(root) for root in available)


def _slash(path: str) -> str:
    return path if path.endswith("/") else path + "/"


def _project_name(urn: str) -> str:
    return urn.rsplit("+", 1)[-1]


def _gb(mb: int) -> str:
    return f"{mb / _MB_PER_GB:g}"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _count(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, str) and value.strip().isdigit():  # a lax form validate warns about
        return int(value)
    return 0


def _optional(value: Any) -> int | None:
    return _count(value) if value is not None else None
