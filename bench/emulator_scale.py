"""The emulator at scale: a 10,000-job sweep end to end, apply with latency against its bound, 50,000 stored jobs listed.

Run: ``.venv/bin/python bench/emulator_scale.py [--quick]``. ``gpulab-apply emulator`` runs in its own
process (real clock, two nodes of 4 GPUs: 8 jobs run, the rest wait), ``gpulab-apply`` in others.

1. Sweep: ``apply`` of 10,000 new job files, then ``plan`` (must find no changes). Target: under 60 s.
2. ``apply`` of 2,000 new jobs with 50 ms latency on every request, against the bound a parallelism of 8
   allows: N x latency / 8. Target: at most 1.3x the bound.
3. Listing 50,000 stored jobs over v4.0, pages of 1,000, one after another: each page's time against the
   first's (linear: the last page costs what the first does).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import requests
from measure import run

from gpulab_apply.emulator import EmulatorConfig, close_emulator, open_emulator

GPULAB_APPLY = str(Path(sys.executable).with_name("gpulab-apply"))
PROJECT_URN = "urn:publicid:IDN+ilabt.imec.be+project+local"
SWEEP_TARGET = 60.0
BOUND_TARGET = 1.3
PARALLELISM = 8
JOB = """\
name: sweep-{i:05d}
description: learning-rate sweep, run {i}
request:
  resources: {{cpus: 4, gpus: 1, cpuMemoryGb: 16}}
  docker:
    image: pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime
    command: [python, train.py, --lr, "{lr}", --seed, "{i}"]
    environment: {{SEED: {i}}}
  scheduling: {{restartable: false, maxDuration: 2 days}}
"""
STORED = {"name": "stored", "description": "a finished job\n[gpulab-apply set=old spec=0123456789abcdef run=r0]",
          "request": {"resources": {"cpus": 1, "gpus": 1, "cpuMemoryGb": 4},
                      "docker": {"image": "debian:stable", "command": ["python", "train.py"], "environment": {"SEED": 1}}},
          "owner": {"projectUrn": PROJECT_URN}}


@contextlib.contextmanager
def emulator_process(database: Path, *options: str, log: Path | None = None) -> Iterator[str]:
    """``gpulab-apply emulator`` on a free port (its requests logged to ``log``); yields its v4.0 API root."""
    command = [GPULAB_APPLY, "emulator", "--db", str(database), "--port", "0", *options]
    with contextlib.ExitStack() as stack:
        errors = stack.enter_context(log.open("w")) if log else None
        process = subprocess.Popen([*command, "--log-requests"] if log else command, stdout=subprocess.PIPE,
                                   stderr=errors, text=True)
        stack.callback(process.wait)
        stack.callback(process.terminate)
        assert process.stdout is not None
        found = re.search(r"serving (\S+)gpulab/v\d+\.\d+/", process.stdout.readline())
        assert found, "the emulator did not start"
        yield f"{found[1]}gpulab/v4.0/"


def job_files(directory: Path, count: int) -> Path:
    directory.mkdir()
    for i in range(count):
        (directory / f"sweep-{i:05d}.yaml").write_text(JOB.format(i=i, lr=f"{1e-4 * (1 + i % 9):.4g}"))
    return directory


def sweep(scratch: Path, count: int) -> None:
    jobs = job_files(scratch / "sweep.d", count)
    with emulator_process(scratch / "sweep.sqlite3") as root:
        common = ["--endpoint", root, "--set", "sweep", "--project", "local"]
        applied = run([GPULAB_APPLY, "apply", str(jobs), "--yes", "--max-cancel", "0", *common])
        planned = run([GPULAB_APPLY, "plan", str(jobs), "--detailed-exitcode", *common])
    total = applied.wall + planned.wall
    print(f"sweep of {count:,} jobs: apply {applied.wall:.1f} s (peak {applied.peak_mib:.0f} MiB), then plan "
          f"{planned.wall:.1f} s (no changes; peak {planned.peak_mib:.0f} MiB): {total:.1f} s end to end, "
          f"target < {SWEEP_TARGET:g} s, ratio {total / SWEEP_TARGET:.2f}")


def latency(scratch: Path, count: int, seconds: float) -> None:
    jobs = job_files(scratch / "latency.d", count)
    log = scratch / "latency.log"
    with emulator_process(scratch / "latency.sqlite3", "--latency", str(seconds), log=log) as root:
        applied = run([GPULAB_APPLY, "apply", str(jobs), "--yes", "--max-cancel", "0", "--parallelism",
                       str(PARALLELISM), "--endpoint", root, "--set", "latency", "--project", "local"])
    bound = count * seconds / PARALLELISM
    # the submissions alone, from the emulator's log: the part of apply that the bound describes
    posts = [datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
             for line in log.read_text().splitlines() if '"POST ' in line]
    phase = max(posts) - min(posts) + seconds  # the first answer came `seconds` after its request
    print(f"apply of {count:,} new jobs, {seconds * 1000:.0f} ms latency: {applied.wall:.1f} s; bound N x latency / "
          f"{PARALLELISM} = {bound:.1f} s; ratio {applied.wall / bound:.2f} (target <= {BOUND_TARGET:g}); "
          f"the {len(posts):,} submissions alone {phase:.1f} s, ratio {phase / bound:.2f}")


def listing(scratch: Path, count: int) -> None:
    database = scratch / "stored.sqlite3"
    emulator = open_emulator(database, EmulatorConfig(clock="manual"))
    for start in range(0, count, 5000):
        emulator.seed([{**STORED, "name": f"stored-{i}"} for i in range(start, min(count, start + 5000))],
                      status="FINISHED")
    close_emulator(emulator)
    with emulator_process(database) as root, requests.Session() as session:
        session.get(root + "jobs", params={"page_size": 1}, timeout=60).raise_for_status()  # connection, caches
        times: list[float] = []
        seen = 0
        started = time.perf_counter()
        for page in range(1, count // 1000 + 2):
            begin = time.perf_counter()
            response = session.get(root + "jobs", params={"page_size": 1000, "page": page}, timeout=60)
            response.raise_for_status()
            seen += response.content.count(b'"uuid"')  # not decoded: the client's work is not the figure
            times.append(time.perf_counter() - begin)
        total = time.perf_counter() - started
    assert seen == count, seen
    full = times[:-1]  # the last request answers the empty page after the end
    tail = statistics.median(full[-5:]) / statistics.median(full[:5])
    print(f"listing {count:,} stored jobs, {len(full)} pages of 1,000: {total:.2f} s; a page "
          f"{statistics.median(full) * 1000:.0f} ms (median); last 5 pages / first 5 pages = {tail:.2f} (linear: ~1)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 jobs, 200 with latency, 5,000 stored")
    options = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; emulator in its own process, real clock")
    with tempfile.TemporaryDirectory(prefix="gpulab-bench-") as scratch:
        sweep(Path(scratch), 1000 if options.quick else 10_000)
        latency(Path(scratch), 200 if options.quick else 2000, 0.05)
        listing(Path(scratch), 5000 if options.quick else 50_000)


if __name__ == "__main__":
    main()
