"""Benchmark: `plan` of one document with a 10,000-member matrix vs the same 10,000 jobs as separate files.

Both sets give exactly the same jobs (the script checks it). The emulator, in its own process, already
holds half of them in sync, so the plan decides 5,000 "in sync" and 5,000 "create" either way. Each
plan is a whole `gpulab-apply plan` process, best of N. Prints both times and their ratio; the target is
a ratio of at most 1 (a sweep is never slower to plan than the files it replaces).

    python bench/sweep.py [--members 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from plan_apply import emulator_process

from gpulab_apply.emulator import EmulatorConfig, close_emulator, open_emulator
from gpulab_apply.jobfiles.validation import validate_paths
from gpulab_apply.reconcile.marker import Marker, with_marker
from gpulab_apply.reconcile.planner import desired_spec_hash

PROJECT_URN = "urn:publicid:IDN+ilabt.imec.be+project+local"
SET = "bench"

TEMPLATE = """\
name: sweep
description: lr {lr} seed {seed}
owner:
  projectUrn: "{project}"
request:
  resources:
    cpus: 4
    gpus: 1
    cpuMemoryGb: 16
  docker:
    image: gitlab.example:4567/lab/train:1.0
    command: python train.py --lr {lr} --seed {seed}
    environment:
      SEED: {seed_value}
      PYTHONUNBUFFERED: "1"
    storage:
      - hostPath: /project_ghent
        containerPath: /project
  scheduling:
    restartable: false
    maxDuration: 2 days
"""


def axes(members: int) -> tuple[list[str], list[int]]:
    side = int(members ** 0.5)
    return [f"{index + 1}e-5" for index in range(side)], list(range(members // side))


def write_files(directory: Path, members: int) -> None:
    directory.mkdir()
    lrs, seeds = axes(members)
    for lr in lrs:
        for seed in seeds:
            name = f"sweep-lr{lr}-seed{seed}"
            text = TEMPLATE.format(lr=lr, seed=seed, seed_value=seed, project=PROJECT_URN)
            (directory / f"{name}.yaml").write_text(text.replace("name: sweep", f"name: {name}"), encoding="utf-8")


def write_matrix(directory: Path, members: int) -> None:
    directory.mkdir()
    lrs, seeds = axes(members)
    text = TEMPLATE.format(lr="${{ matrix.lr }}", seed="${{ matrix.seed }}", seed_value='"${{ matrix.seed }}"',
                           project=PROJECT_URN)
    matrix = f"x-gpulab-apply:\n  matrix:\n    lr: [{', '.join(lrs)}]\n    seed: [{', '.join(map(str, seeds))}]\n"
    (directory / "sweep.yaml").write_text(text + matrix, encoding="utf-8")


def best_of(times: int, action: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(times):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a smoke test of the script (200 members, once)")
    options = parser.parse_args()
    if options.quick:
        options.members, options.repeat = 200, 1
    with tempfile.TemporaryDirectory(prefix="gpulab-sweep-bench-") as scratch_name:
        scratch = Path(scratch_name)
        files_dir, matrix_dir = scratch / "files.d", scratch / "matrix.d"
        write_files(files_dir, options.members)
        write_matrix(matrix_dir, options.members)
        with contextlib.redirect_stdout(io.StringIO()):
            from_files, from_matrix = validate_paths([files_dir]), validate_paths([matrix_dir])
        assert from_files.ok and from_matrix.ok, (from_files.problems[:3], from_matrix.problems[:3])
        jobs = {spec.name: dict(spec.job) for spec in from_files.jobs}
        assert jobs == {spec.name: dict(spec.job) for spec in from_matrix.jobs}, "the two sets differ"
        lrs, seeds = axes(options.members)
        assert len(jobs) == len(lrs) * len(seeds)

        in_sync = [with_marker(spec.job, Marker(set_name=SET, spec=desired_spec_hash(spec, None), run_id="r0"))
                   for spec in from_files.jobs[::2]]
        database = scratch / "emulator.sqlite3"
        emulator = open_emulator(database, EmulatorConfig())
        emulator.seed(in_sync, status="QUEUED")
        close_emulator(emulator)
        with emulator_process(database) as api_root:
            common = ["--endpoint", f"{api_root}gpulab/v4.0/", "--set", SET, "--project", "local"]

            def plan(directory: Path) -> Callable[[], object]:
                command = [sys.executable, "-m", "gpulab_apply", "plan", str(directory), *common]
                return lambda: subprocess.run(command, check=True, capture_output=True)

            plan(files_dir)()  # warm the file and byte-code caches
            plan(matrix_dir)()
            files_time = best_of(options.repeat, plan(files_dir))
            matrix_time = best_of(options.repeat, plan(matrix_dir))
    print(f"members:                          {options.members}")
    print(f"plan, {options.members:,} separate files:     {files_time * 1000:8.0f} ms  (whole process, best of "
          f"{options.repeat})")
    print(f"plan, one {options.members:,}-member matrix:  {matrix_time * 1000:8.0f} ms")
    print(f"ratio matrix / files:             {matrix_time / files_time:8.2f}x  (target <= 1)")
    return 0 if matrix_time <= files_time else 1


if __name__ == "__main__":
    sys.exit(main())
