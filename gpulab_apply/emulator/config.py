"""Settings of the emulated GPULab: its nodes, its timing, its default identity, its TLS files."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from gpulab_apply.errors import ConfigError
from gpulab_apply.gpulab.local import LOCAL_PROJECT_URN, LOCAL_USER_EMAIL, LOCAL_USER_URN
from gpulab_apply.placement import Node, Room

#: the host paths of GPULab's docs and examples (docs/emulator.md#the-cluster)
DEFAULT_STORAGE_PATHS = ("/project_ghent/", "/project_antwerp/", "/project_scratch/")


@dataclass(frozen=True, kw_only=True)
class NodeConfig:
    """One simulated GPU node ("slave" in GPULab's words)."""

    name: str
    cluster_id: int = 1
    gpus: int = 4
    gpu_model: str = "NVIDIA GeForce GTX 1080 Ti"
    gpu_memory_gb: int = 11
    cuda_version: str = "12.2"
    cpus: int = 32
    cpu_memory_gb: int = 128
    #: host paths jobs may mount (GPULab's ``storagePathsAvailable``)
    storage_paths: tuple[str, ...] = DEFAULT_STORAGE_PATHS
    #: project URNs that may use this node's cluster (GPULab's ``allowedProjects``); None: every project.
    #: All nodes of a cluster must agree.
    allowed_projects: tuple[str, ...] | None = None

    @property
    def cuda_major(self) -> int:
        return int(self.cuda_version.split(".")[0])

    def as_node(self) -> Node:
        """The node as an inventory describes it (free room left out: the scheduler tracks that)."""
        return Node(name=self.name, cluster_id=self.cluster_id, gpu_models=(self.gpu_model,) if self.gpus else (),
                    gpu_memory_mb=self.gpu_memory_gb * 1024, total=Room(self.gpus, self.cpus, self.cpu_memory_gb * 1024),
                    cuda_major=self.cuda_major, storage_paths=self.storage_paths, projects=self.allowed_projects)


def default_nodes(count: int = 2, *, gpus_per_node: int = 4) -> tuple[NodeConfig, ...]:
    """``count`` identical nodes named gpu1, gpu2, ... in cluster 1 (``--nodes``)."""
    return tuple(NodeConfig(name=f"gpu{index}", gpus=gpus_per_node) for index in range(1, count + 1))


def default_cluster() -> tuple[NodeConfig, ...]:
    """A mix like GPULab's (docs/emulator.md#the-cluster): several clusters, older 11 GB cards, 32 GB
    data-centre cards and 40-80 GB A100/H100 cards, so that typical jobs (every example in jobs.d/) run.

    GPULab publishes no inventory; this one is an assumption. The scheduler takes the first node in
    this order where a job fits, so small jobs land on the GTX nodes and leave the large cards free.
    """
    return (
        *default_nodes(2),
        NodeConfig(name="v100-1", cluster_id=4, gpu_model="Tesla V100-SXM2-32GB", gpu_memory_gb=32, cpus=40,
                   cpu_memory_gb=256),
        NodeConfig(name="a100-1", cluster_id=7, gpu_model="NVIDIA A100-SXM4-40GB", gpu_memory_gb=40,
                   cuda_version="12.4", cpus=64, cpu_memory_gb=512),
        NodeConfig(name="a100-2", cluster_id=7, gpu_model="NVIDIA A100-SXM4-80GB", gpu_memory_gb=80,
                   cuda_version="12.4", cpus=64, cpu_memory_gb=512),
        NodeConfig(name="h100-1", cluster_id=9, gpu_model="NVIDIA H100 80GB HBM3", gpu_memory_gb=80,
                   cuda_version="12.4", cpus=96, cpu_memory_gb=1024),
    )


@dataclass(frozen=True, kw_only=True)
class EmulatorConfig:
    """How the emulated cluster behaves. Durations are simulated seconds.

    ``clock`` is ``"real"`` (wall time multiplied by ``speed``) or ``"manual"`` (moves only when a test
    calls ``clock.advance``; starts at ``manual_start``, an RFC 3339 time).
    """

    nodes: tuple[NodeConfig, ...] = field(default_factory=default_cluster)
    clock: str = "real"
    speed: float = 1.0
    manual_start: str = "2026-01-05T09:00:00Z"
    #: from QUEUED (or a release from ONHOLD) to the scheduler's first look at the job
    schedule_seconds: float = 2.0
    #: ASSIGNED -> STARTING: the node picks the job up
    assign_seconds: float = 3.0
    #: STARTING -> RUNNING: image pull and container start
    start_seconds: float = 10.0
    #: MUSTHALT -> HALTING and HALTING -> HALTED, each
    halt_seconds: float = 5.0
    #: CANCELLING -> CANCELLED for a job that holds resources; 0 = straight to CANCELLED (GPULab 3.x)
    cancel_seconds: float = 0.0
    #: run time of a job that does not set GPULAB_EMULATOR_RUNTIME
    default_runtime: str = "10 min"
    #: filled into request.scheduling when a job does not set them (GPULab's documented defaults)
    default_min_duration: str = "1 week"
    default_max_duration: str = "2 weeks"
    default_user_urn: str = LOCAL_USER_URN
    default_user_email: str = LOCAL_USER_EMAIL
    #: the project of a v3.x job submitted without ``owner``
    default_project_urn: str = LOCAL_PROJECT_URN
    #: reported by ``GET version`` as ``latest_client_version``
    latest_client_version: str = "3.11.12"

    def __post_init__(self) -> None:
        if self.clock not in ("real", "manual"):
            raise ConfigError(f"emulator clock must be 'real' or 'manual', not {self.clock!r}")
        if not self.speed > 0:
            raise ConfigError(f"emulator speed must be positive, not {self.speed}")
        if not self.nodes:
            raise ConfigError("the emulated cluster needs at least one node")
        names = [node.name for node in self.nodes]
        if len(set(names)) != len(names):
            raise ConfigError(f"emulator node names must be unique: {', '.join(names)}")
        projects: dict[int, tuple[str, ...] | None] = {}
        for node in self.nodes:
            if projects.setdefault(node.cluster_id, node.allowed_projects) != node.allowed_projects:
                raise ConfigError(f"the nodes of cluster {node.cluster_id} disagree on allowed_projects: "
                                  "a cluster is open to the same projects on each of its nodes")

    @classmethod
    def from_file(cls, path: Path, **overrides: Any) -> EmulatorConfig:
        """Read a JSON config file: the fields of this class, ``nodes`` as a list of objects."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read emulator config {path}: {exc.strerror}") from exc
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the emulator config must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"{path}: unknown emulator setting(s): {', '.join(unknown)}",
                              hint=f"known settings: {', '.join(sorted(known))}")
        if "nodes" in data:
            node_fields = {f.name for f in fields(NodeConfig)}
            nodes = []
            for index, node in enumerate(data["nodes"] if isinstance(data["nodes"], list) else [None]):
                if not isinstance(node, dict) or "name" not in node or set(node) - node_fields:
                    raise ConfigError(f"{path}: nodes[{index}] must be an object with 'name' and only "
                                      f"these keys: {', '.join(sorted(node_fields))}")
                # JSON lists become the tuples the frozen config holds
                values: dict[str, Any] = {key: tuple(value) if isinstance(value, list) else value
                                          for key, value in node.items()}
                nodes.append(NodeConfig(**values))
            data["nodes"] = tuple(nodes)
        data.update(overrides)
        try:
            return cls(**data)
        except TypeError as exc:
            raise ConfigError(f"{path}: {exc}") from exc


@dataclass(frozen=True)
class TLSSettings:
    """Mutual TLS: the server's certificate and key, and the CA that client certificates must chain to."""

    cert_file: Path
    key_file: Path
    client_ca_file: Path
