"""Benchmark plan and apply against the embedded emulator; prints ratios measured in this one run.

1. ``plan`` over 2,000 job files against 5,000 remote jobs (seeded straight into the emulator's store,
   listed over HTTP with API v4.0 paging), end to end through the CLI, versus parsing the same files with
   ruamel's C safe loader in this process. Target: plan <= 2x parse-only.
2. ``apply`` of 500 new jobs with 50 ms injected latency on every request, versus submitting the same
   jobs one after another with the same client against the same emulator. Target: apply >= 6x faster.

Usage: ``python bench/plan_apply.py [--quick]`` (about a minute).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from ruamel.yaml import YAML

from gpulab_apply.cli import run
from gpulab_apply.emulator import EmulatorConfig, Fault, close_emulator, open_emulator, serve_in_thread
from gpulab_apply.gpulab.client import GpulabClient
from gpulab_apply.reconcile.marker import Marker, spec_hash, with_marker

PROJECT_URN = "urn:publicid:IDN+ilabt.imec.be+project+local"
SET = "bench"


def job(name: str, index: int) -> dict[str, object]:
    return {
        "name": name,
        "description": f"sweep member {index}",
        "owner": {"projectUrn": PROJECT_URN},
        "request": {
            "resources": {"cpus": 4, "gpus": 1 + index % 2, "cpuMemoryGb": 16, "gpuModel": ["V100"]},
            "docker": {"image": "gitlab.example:4567/lab/train:1.0", "command": ["python", "train.py", f"--seed={index}"],
                       "environment": {"SEED": index, "PYTHONUNBUFFERED": "1"},
                       "storage": [{"hostPath": "/project_ghent", "containerPath": "/project"}]},
            "scheduling": {"restartable": False, "maxDuration": "2 days"},
        },
    }


def job_yaml(name: str, index: int) -> str:
    return f"""# sweep member {index}
name: {name}
description: sweep member {index}
owner:
  projectUrn: "{PROJECT_URN}"
request:
  resources:
    cpus: 4
    gpus: {1 + index % 2}
    cpuMemoryGb: 16
    gpuModel: [V100]
  docker:
    image: "gitlab.example:4567/lab/train:1.0"
    command: [python, train.py, "--seed={index}"]
    environment:
      SEED: {index}
      PYTHONUNBUFFERED: "1"
    storage:
      - hostPath: /project_ghent
        containerPath: /project
  scheduling:
    restartable: false
    maxDuration: 2 days
"""


def best_of(times: int, action: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(times):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def cli(*args: str) -> int:
    with quiet():
        return run(list(args))


@contextlib.contextmanager
def emulator_process(database: Path) -> Iterator[str]:
    """``gpulab-apply emulator`` in its own process, as GPULab is: its work does not share our interpreter."""
    process = subprocess.Popen([sys.executable, "-m", "gpulab_apply", "emulator", "--db", str(database), "--port", "0"],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        found = re.search(r"serving (\S+)gpulab/v\d+\.\d+/", process.stdout.readline())
        assert found, "the emulator did not start"
        yield found[1]
    finally:
        process.terminate()
        process.wait()


def write_jobs(jobs_dir: Path, names: list[str]) -> None:
    jobs_dir.mkdir()
    for index, name in enumerate(names):
        (jobs_dir / f"{name}.yaml").write_text(job_yaml(name, index))


def bench_plan(scratch: Path, scale: float = 1.0) -> float:
    jobs_dir = scratch / "jobs.d"
    names = [f"sweep-{i:04d}" for i in range(int(2000 * scale))]
    share = [int(count * scale) for count in (1500, 1800, 1000)]
    write_jobs(jobs_dir, names)
    files = sorted(jobs_dir.iterdir())

    def parse_only() -> None:
        yaml = YAML(typ="safe", pure=False)
        for path in files:
            list(yaml.load_all(path.read_text()))

    # remote: 1,500 of the desired jobs in sync, 300 with another spec (replace), 200 missing (create);
    # 3,000 more of the project's jobs: earlier runs of this set, other sets, and hand-submitted ones
    in_sync = [with_marker(job(n, i), Marker(set_name=SET, spec=spec_hash(job(n, i)), run_id="r0"))
               for i, n in enumerate(names[:share[0]])]
    changed = [with_marker(job(n, i + 1), Marker(set_name=SET, spec=spec_hash(job(n, i + 1)), run_id="r0"))
               for i, n in enumerate(names[share[0]:share[1]], start=share[0])]
    history = [with_marker(job(f"old-{i}", i), Marker(set_name=SET, spec="0" * 16, run_id="r-1"))
               for i in range(share[2])]
    others = [with_marker(job(f"theirs-{i}", i), Marker(set_name="other", spec="0" * 16, run_id="x"))
              for i in range(share[2])]
    by_hand = [job(f"manual-{i}", i) for i in range(share[2])]
    database = scratch / "plan.sqlite3"
    emulator = open_emulator(database, EmulatorConfig())
    emulator.seed(in_sync + changed, status="QUEUED")
    emulator.seed(history + others + by_hand, status="FINISHED")
    close_emulator(emulator)
    with emulator_process(database) as api_root:
        common = ["--endpoint", f"{api_root}gpulab/v4.0/", "--set", SET, "--project", "local"]
        # A whole process, as a user or CI runs it: interpreter start, imports and cold caches included.
        command = [sys.executable, "-m", "gpulab_apply", "plan", str(jobs_dir), *common]
        subprocess.run(command, check=True, capture_output=True)
        # interleaved rounds, so that a machine that slows down or speeds up meanwhile weighs on both sides alike
        rounds = [(best_of(1, lambda: subprocess.run(command, check=True, capture_output=True)),
                   best_of(1, parse_only)) for _ in range(7)]
    plan_time, parse_time = min(plan for plan, _ in rounds), min(parse for _, parse in rounds)
    ratios = sorted(plan / parse for plan, parse in rounds)
    print(f"plan: {len(names):,} files vs {len(in_sync + changed + history + others + by_hand):,} remote jobs: "
          f"{plan_time:.2f} s; parse-only (C safe loader): {parse_time:.2f} s (best of 7 interleaved rounds); "
          f"ratio {plan_time / parse_time:.2f}x (per round: min {ratios[0]:.2f}, median {ratios[3]:.2f}, "
          f"max {ratios[-1]:.2f}; target <= 2x)")
    return plan_time / parse_time


def bench_apply(scratch: Path, count: int = 500) -> float:
    jobs_dir = scratch / "apply.d"
    names = [f"new-{i:03d}" for i in range(count)]
    write_jobs(jobs_dir, names)
    with serve_in_thread(config=EmulatorConfig(clock="manual")) as emulator:
        emulator.faults.set("*", Fault(latency=0.05))
        with GpulabClient(emulator.api_root("4.0"), api_version="4.0") as client:
            start = time.perf_counter()
            for index, name in enumerate(names):
                body = job(f"seq-{name}", index)
                client.submit(with_marker(body, Marker(set_name="seq", spec=spec_hash(body), run_id="seq")))
            sequential = time.perf_counter() - start
        common = ["--endpoint", emulator.api_root("4.0"), "--set", SET, "--project", "local"]
        start = time.perf_counter()
        assert cli("apply", str(jobs_dir), "--yes", "--max-cancel", "0", *common) == 0
        applied = time.perf_counter() - start
        emulator.faults.clear()
        assert cli("plan", str(jobs_dir), "--detailed-exitcode", *common) == 0
    print(f"apply: {count} new jobs, 50 ms latency: apply {applied:.2f} s; one after another {sequential:.2f} s; "
          f"{sequential / applied:.1f}x faster (target >= 6x)")
    return sequential / applied


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the jobs (a smoke test, not a figure)")
    quick = parser.parse_args().quick
    with tempfile.TemporaryDirectory(prefix="gpulab-bench-") as scratch:
        plan_ratio = bench_plan(Path(scratch), 0.1 if quick else 1.0)
        apply_ratio = bench_apply(Path(scratch), 50 if quick else 500)
    ok = plan_ratio <= 2 and apply_ratio >= 6
    print("OK" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
