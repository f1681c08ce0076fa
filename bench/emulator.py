"""Capacity of the embedded GPULab emulator: full listings of 1,000 stored jobs, and submissions, per second.

Run: ``.venv/bin/python bench/emulator.py [--quick]``. The emulator runs in this process (as in ``--local`` mode
and the tests); concurrent clients run in separate processes over loopback HTTP, each with its own
keep-alive session. Prints each rate next to its target, as a ratio measured in this run.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import requests

from gpulab_apply.emulator import EmulatorConfig, serve_in_thread

LISTINGS_TARGET = 25.0  # full listings of 1,000 jobs per second
SUBMISSIONS_TARGET = 200.0  # submissions per second
STORED_JOBS = 1000

JOB = {
    "name": "bench",
    "description": "benchmark job\n[gpulab-apply set=bench spec=0123456789abcdef run=bench]",
    "request": {
        "resources": {"cpus": 1, "gpus": 1, "cpuMemoryGb": 4, "gpuModel": ["1080"]},
        "docker": {"image": "debian:stable", "command": ["python", "train.py", "--seed", "1"],
                   "environment": {"SEED": 1}, "storage": [{"hostPath": "/project_ghent", "containerPath": "/project"}]},
        "scheduling": {"restartable": False, "maxDuration": "2 days"},
    },
    "owner": {"projectUrn": "urn:publicid:IDN+ilabt.imec.be+project+local"},
}


def _list(url: str, count: int) -> int:
    with requests.Session() as session:
        for index in range(count):
            response = session.get(url, params={"page_size": STORED_JOBS}, timeout=30)
            response.raise_for_status()
            # the answer is checked once per client: parsing 2 MB of JSON costs the client more than the
            # emulator spends answering, and both share the same 2 cores
            if index == 0:
                assert len(response.json()["items"]) == STORED_JOBS
    return count


def _submit(url: str, count: int) -> int:
    with requests.Session() as session:
        for index in range(count):
            response = session.post(url, json={**JOB, "name": f"bench-{index}"}, timeout=30)
            response.raise_for_status()
    return count


def _rate(pool: multiprocessing.pool.Pool, function: object, url: str, clients: int, per_client: int) -> float:
    started = time.perf_counter()
    done = sum(pool.starmap(function, [(url, per_client)] * clients))  # type: ignore[arg-type]
    return done / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4, help="concurrent client processes")
    parser.add_argument("--listings", type=int, default=100, help="listings per measurement (all clients)")
    parser.add_argument("--submissions", type=int, default=2000, help="submissions per measurement (all clients)")
    parser.add_argument("--quick", action="store_true", help="2 clients, 8 listings, 200 submissions (a smoke test)")
    options = parser.parse_args()
    if options.quick:
        options.clients, options.listings, options.submissions = 2, 8, 200
    with TemporaryDirectory() as scratch, serve_in_thread(db_path=Path(scratch) / "bench.sqlite3",
                                                          config=EmulatorConfig(clock="manual")) as emulator:
        emulator.seed_jobs([{**JOB, "name": f"stored-{index}"} for index in range(STORED_JOBS)], status="FINISHED")
        url = emulator.api_root("4.0") + "jobs"
        with multiprocessing.get_context("spawn").Pool(options.clients) as pool:
            pool.starmap(_list, [(url, 1)] * options.clients)  # warm up: imports, connections, caches
            listings = _rate(pool, _list, url, options.clients, options.listings // options.clients)
            submissions = _rate(pool, _submit, url, options.clients, options.submissions // options.clients)
    print(f"clients: {options.clients} processes, emulator in-process, loopback HTTP, "
          f"{multiprocessing.cpu_count()} CPUs")
    print(f"full listings of {STORED_JOBS} jobs: {listings:7.1f}/s  target {LISTINGS_TARGET:g}/s  "
          f"ratio {listings / LISTINGS_TARGET:.2f}")
    print(f"submissions:                  {submissions:7.1f}/s  target {SUBMISSIONS_TARGET:g}/s  "
          f"ratio {submissions / SUBMISSIONS_TARGET:.2f}")


if __name__ == "__main__":
    main()
