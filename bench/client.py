"""What the GPULab client costs on top of the wire, and what one shared client gains from threads.

Run: ``.venv/bin/python bench/client.py [--quick]``. Against the embedded emulator on loopback, in one run:

1. ``list_jobs()`` of 5,000 stored jobs over API v4.0 (10 pages) versus fetching and JSON-decoding the
   same pages with a bare ``requests.Session``: the client's overhead (status parsing, RemoteJob values,
   de-duplication, sorting) as a ratio.
2. The same listing over API v3.1, where 5,000 jobs must be split below the 200-job cap (state groups,
   then statuses): the price of narrowing, as a ratio to v4.0 paging.
3. 200 submissions with 20 ms of injected latency each, through ONE client from 8 threads versus one after
   another: the speed-up parallel apply gets from the shared, thread-safe client.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import requests

from gpulab_apply.emulator import EmulatorConfig, RunningEmulator, serve_in_thread
from gpulab_apply.gpulab.client import GpulabClient

PROJECT_URN = "urn:publicid:IDN+ilabt.imec.be+project+local"
JOB = {
    "name": "bench",
    "description": "benchmark job\n[gpulab-apply set=bench spec=0123456789abcdef run=bench]",
    "request": {
        "resources": {"cpus": 1, "gpus": 1, "cpuMemoryGb": 4},
        "docker": {"image": "debian:stable", "command": ["python", "train.py"], "environment": {"SEED": 1}},
    },
    "owner": {"projectUrn": PROJECT_URN},
}
STORED = 5000
#: v3.x can list at most 200 jobs of one status, so its case stays under 5 x 200 (5,000 would be truncated)
V3_STORED = 950
SUBMISSIONS = 200
LATENCY = 0.02
THREADS = 8


def best_of(runs: int, action: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def raw_listing(emulator: RunningEmulator, session: requests.Session) -> int:
    count, page = 0, 1
    while True:
        response = session.get(emulator.api_root("4.0") + "jobs",
                               params={"page_size": 500, "page": page, "max_hours": 744}, timeout=30)
        items = response.json()["items"]
        count += len(items)
        if len(items) < 500:
            return count
        page += 1


def seed(emulator: RunningEmulator, total: int) -> None:
    # five final statuses and ONHOLD, evenly: what a busy project's month looks like
    statuses = ("FINISHED", "FAILED", "CANCELLED", "HALTED", "ONHOLD")
    for index, status in enumerate(statuses):
        share = total // len(statuses) + (1 if index < total % len(statuses) else 0)
        emulator.seed_jobs([{**JOB, "name": f"{status.lower()}-{i}"} for i in range(share)], status=status)


def main() -> None:
    global STORED, V3_STORED, SUBMISSIONS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the jobs (a smoke test, not a figure)")
    if parser.parse_args().quick:
        STORED, V3_STORED, SUBMISSIONS = 500, 95, 20
    with serve_in_thread(config=EmulatorConfig(clock="manual")) as emulator:
        seed(emulator, STORED)
        with GpulabClient(emulator.api_root("4.0"), api_version="4.0") as client, requests.Session() as session:
            assert len(client.list_jobs()) == STORED == raw_listing(emulator, session)
            client_time = best_of(5, client.list_jobs)
            raw_time = best_of(5, lambda: raw_listing(emulator, session))
        print(f"v4.0 listing of {STORED} jobs: client {client_time * 1000:.0f} ms, bare requests+json "
              f"{raw_time * 1000:.0f} ms -> client/bare = {client_time / raw_time:.2f}x")

    with serve_in_thread(config=EmulatorConfig(clock="manual")) as emulator:
        seed(emulator, V3_STORED)
        with GpulabClient(emulator.api_root("3.1"), api_version="3.1") as v3, \
                GpulabClient(emulator.api_root("4.0"), api_version="4.0") as v4:
            assert len(v3.list_jobs()) == len(v4.list_jobs()) == V3_STORED
            v3_time = best_of(5, v3.list_jobs)
            v4_time = best_of(5, v4.list_jobs)
        print(f"listing of {V3_STORED} jobs: v3.1 narrowed below the 200 cap {v3_time * 1000:.0f} ms, v4.0 paged "
              f"{v4_time * 1000:.0f} ms -> v3.1/v4.0 = {v3_time / v4_time:.2f}x")

    with serve_in_thread(config=EmulatorConfig(clock="manual")) as emulator:
        emulator.faults.set("POST jobs", latency=LATENCY)
        with GpulabClient(emulator.api_root("4.0"), api_version="4.0") as client:
            client.check_access()
            started = time.perf_counter()
            for i in range(SUBMISSIONS):
                client.submit({**JOB, "name": f"seq-{i}"})
            sequential = time.perf_counter() - started
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=THREADS) as pool:
                uuids = list(pool.map(lambda i: client.submit({**JOB, "name": f"par-{i}"}), range(SUBMISSIONS)))
            parallel = time.perf_counter() - started
            assert len(set(uuids)) == SUBMISSIONS
            assert len(client.list_jobs()) == 2 * SUBMISSIONS
        per_request = sequential / SUBMISSIONS
        print(f"{SUBMISSIONS} submissions with {LATENCY * 1000:.0f} ms latency: one after another {sequential:.2f} s "
              f"({per_request * 1000:.1f} ms each), {THREADS} threads on one client {parallel:.2f} s "
              f"-> speed-up {sequential / parallel:.1f}x")


if __name__ == "__main__":
    main()
