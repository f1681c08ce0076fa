"""plan at scale: 10,000 and 20,000 job files vs 25,000 and 50,000 remote jobs, against the parse-only floor.

Run: ``.venv/bin/python bench/plan_scale.py [--quick]``. For each size, the remote jobs are seeded into
an emulator database (three quarters of the desired jobs in sync, 15 % with another spec, 10 % missing;
the rest earlier runs, other sets and hand-submitted jobs), served by ``gpulab-apply emulator`` in its
own process and listed over API v4.0. ``gpulab-apply plan`` runs as a whole process, interleaved with
the floor: a process that only parses the same files with ruamel's C safe loader. Prints time and peak
memory of both and their ratio, pair by pair. Target: plan <= 2x the floor at each size, memory linear.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from measure import Run, ratios, run, spread
from plan_apply import SET, emulator_process, job, job_yaml

from gpulab_apply.emulator import EmulatorConfig, close_emulator, open_emulator
from gpulab_apply.reconcile.marker import Marker, spec_hash, with_marker

TARGET = 2.0
FLOOR = """\
import sys
from pathlib import Path
from ruamel.yaml import YAML
yaml = YAML(typ="safe", pure=False)
for path in sorted(Path(sys.argv[1]).iterdir()):
    list(yaml.load_all(path.read_text()))
"""


def seed(database: Path, names: list[str], remote: int) -> None:
    """Remote jobs: 75 % of ``names`` in sync, 15 % changed, the rest missing; then others up to ``remote``."""
    in_sync, changed = int(len(names) * 0.75), int(len(names) * 0.9)
    # a real clock: jobs created now (a manual clock's start, months back, would have the served emulator
    # replay months of simulated work on its first request)
    emulator = open_emulator(database, EmulatorConfig())
    batch: list[dict[str, object]] = []

    def flush(status: str) -> None:
        emulator.seed(batch, status=status)
        batch.clear()

    for index, name in enumerate(names[:changed]):
        body = job(name, index if index < in_sync else index + 1)
        batch.append(with_marker(body, Marker(set_name=SET, spec=spec_hash(body), run_id="r0")))
        if len(batch) == 5000:
            flush("QUEUED")
    flush("QUEUED")
    for index in range(remote - changed):
        kind = ("old", "theirs", "manual")[index % 3]
        body = job(f"{kind}-{index}", index)
        marker = Marker(set_name=SET if kind == "old" else "other", spec="0" * 16, run_id="r-1")
        batch.append(body if kind == "manual" else with_marker(body, marker))
        if len(batch) == 5000:
            flush("FINISHED")
    flush("FINISHED")
    close_emulator(emulator)


def measure(scratch: Path, files: int, remote: int, rounds: int) -> tuple[list[Run], list[Run]]:
    jobs_dir = scratch / f"jobs-{files}"
    jobs_dir.mkdir()
    names = [f"sweep-{i:05d}" for i in range(files)]
    for index, name in enumerate(names):
        (jobs_dir / f"{name}.yaml").write_text(job_yaml(name, index))
    database = scratch / f"remote-{remote}.sqlite3"
    seed(database, names, remote)
    floor_command = [sys.executable, "-c", FLOOR, str(jobs_dir)]
    plans: list[Run] = []
    floors: list[Run] = []
    with emulator_process(database) as api_root:
        plan_command = [str(Path(sys.executable).with_name("gpulab-apply")), "plan", str(jobs_dir),
                        "--endpoint", f"{api_root}gpulab/v4.0/", "--set", SET, "--project", "local"]
        first = run(plan_command, check=False)  # warm-up
        if first.returncode != 2 and first.returncode != 0:
            raise SystemExit(f"plan failed ({first.returncode}): {first.stderr[-2000:]}")
        run(floor_command)
        for _ in range(rounds):
            plans.append(run(plan_command, check=False))
            floors.append(run(floor_command))
    return plans, floors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1,000 and 2,000 files, one round")
    options = parser.parse_args()
    sizes = [(1000, 2500), (2000, 5000)] if options.quick else [(10_000, 25_000), (20_000, 50_000)]
    rounds = 1 if options.quick else options.rounds
    print(f"whole processes, {rounds} interleaved rounds, {os.cpu_count()} CPUs; remote jobs listed over v4.0")
    peaks: list[float] = []
    with tempfile.TemporaryDirectory(prefix="gpulab-bench-") as scratch:
        for files, remote in sizes:
            plans, floors = measure(Path(scratch), files, remote, rounds)
            peak = max(r.peak_mib for r in plans)
            peaks.append(peak)
            print(f"plan, {files:,} files vs {remote:,} remote: {spread([r.wall for r in plans])}, peak {peak:.0f} MiB")
            print(f"  parse-only floor:               {spread([r.wall for r in floors])}, "
                  f"peak {max(r.peak_mib for r in floors):.0f} MiB")
            print(f"  plan / floor:                   "
                  f"{spread(ratios([r.wall for r in plans], [r.wall for r in floors]), unit='x')}  target <= {TARGET:g}x")
    print(f"peak memory, largest / smallest size: {peaks[-1] / peaks[0]:.2f}x for "
          f"{sizes[-1][0] / sizes[0][0]:.0f}x the files (linear: at most that)")


if __name__ == "__main__":
    main()
