"""What the capacity check costs a plan (docs/capacity.md#cost): one inventory read per plan, not per job, and the
pure check at growing sizes.

1. The pure check, :func:`check_capacity`, for 1,000 / 10,000 / 50,000 jobs against the emulator's default
   inventory (7 nodes) and a 200-node one: a sweep whose members share one request (the usual case), and
   jobs that all ask for something different (the worst case: every job judged against every node).
   CPU seconds of this process, best of 3.
2. ``plan`` through the real CLI (in-process) for 1,000 job files against the emulator over HTTP, with and
   without ``--no-capacity``: the inventory requests it makes (counted); and the wall time of one inventory
   read (best and median of 10).

Usage: ``python bench/capacity.py`` (about half a minute).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from gpulab_apply.cli import run as run_cli
from gpulab_apply.emulator import EmulatorConfig, NodeConfig, serve_in_thread
from gpulab_apply.emulator.config import default_cluster
from gpulab_apply.gpulab.client import GpulabClient
from gpulab_apply.gpulab.inventory import Inventory, read_inventory
from gpulab_apply.model import JobSpec
from gpulab_apply.problems import Location
from gpulab_apply.reconcile.capacity import check_capacity

PROJECT = "urn:publicid:IDN+ilabt.imec.be+project+local"
ROUNDS = 3


def spec(index: int, *, distinct: bool) -> JobSpec:
    gpus = 1 + index % 4 if distinct else 1
    resources: dict[str, object] = {"cpus": 1 + (index % 31 if distinct else 0), "gpus": gpus,
                 "cpuMemoryGb": 4 + (index % 97 if distinct else 0)}
    if distinct and index % 3 == 0:
        resources["gpuModel"] = ["A100"]
    name = f"job-{index:06d}"
    job = {"name": name, "request": {"resources": resources, "docker": {"image": "x", "storage": ["/project_ghent"]}}}
    return JobSpec(name=name, job=job, location=Location(f"jobs.d/{name}.yaml", 1, 1))


def inventory_of(nodes: tuple[NodeConfig, ...]) -> Inventory:
    with serve_in_thread(config=EmulatorConfig(clock="manual", nodes=nodes)) as emulator, \
            GpulabClient(emulator.api_root("4.0"), api_version="4.0") as client:
        return read_inventory(client)


def best_cpu(action: Callable[[], object]) -> float:
    times = []
    for _ in range(ROUNDS):
        start = time.process_time()
        action()
        times.append(time.process_time() - start)
    return min(times)


def pure_check() -> None:
    large = tuple(NodeConfig(name=f"n{i}", cluster_id=i % 12, gpus=8, gpu_model=("A100", "V100", "H100")[i % 3],
                             gpu_memory_gb=40, cpus=64, cpu_memory_gb=512) for i in range(200))
    for label, nodes in (("7 nodes (default)", default_cluster()), ("200 nodes", large)):
        inventory = inventory_of(nodes)
        for size in (1_000, 10_000, 50_000):
            for distinct in (False, True):
                jobs = [spec(i, distinct=distinct) for i in range(size)]
                seconds = best_cpu(lambda jobs=jobs, inventory=inventory: check_capacity(  # type: ignore[misc]
                    jobs, inventory, project_urn=PROJECT))
                kind = "distinct requests" if distinct else "one request     "
                print(f"check_capacity, {label:17}, {size:>6,} jobs, {kind}: {seconds * 1000:8.1f} ms CPU "
                      f"({seconds / size * 1e6:.2f} us/job)")


def through_the_cli() -> None:
    reads: list[str] = []
    real = GpulabClient.read_json

    def counted(self: GpulabClient, path: str, *, what: str) -> Any:
        reads.append(path)
        return real(self, path, what=what)

    GpulabClient.read_json = counted  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory(prefix="gpulab-bench-") as scratch, \
            serve_in_thread(config=EmulatorConfig(clock="manual")) as emulator:
        jobs = Path(scratch) / "jobs.d"
        jobs.mkdir()
        for index in range(1000):
            body = {"name": f"job-{index:04d}", "request": {"resources": {"cpus": 1, "gpus": 1, "cpuMemoryGb": 4},
                                                          "docker": {"image": "debian:stable"}}}
            (jobs / f"job-{index:04d}.json").write_text(json.dumps(body))
        os.chdir(scratch)
        for extra in ([], ["--no-capacity"]):
            reads.clear()
            with CliRunner().isolation():
                code = run_cli(["plan", "jobs.d", "--endpoint", emulator.api_root("4.0"), "--set", "bench",
                                "--project", "local", *extra])
            assert code == 0, code
            print(f"plan, 1,000 job files {' '.join(extra) or '(capacity checked)':18}: inventory requests: "
                  f"{len(reads)} ({', '.join(reads) or 'none'})")
        walls = []
        with GpulabClient(emulator.api_root("4.0"), api_version="4.0") as client:
            for _ in range(10):
                start = time.perf_counter()
                read_inventory(client)
                walls.append(time.perf_counter() - start)
        print(f"one inventory read (GET clusters + GET slaves, emulator on loopback): best {min(walls) * 1000:.1f} ms, "
              f"median {sorted(walls)[len(walls) // 2] * 1000:.1f} ms wall")
    GpulabClient.read_json = real  # type: ignore[method-assign]


def main() -> None:
    print(f"{os.cpu_count()} CPUs; best of {ROUNDS}")
    pure_check()
    through_the_cli()


if __name__ == "__main__":
    main()
