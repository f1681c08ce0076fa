"""The reconcile loop on a long pipeline: rounds, and requests per round, for N jobs in a line (each needs the one
before it), carried from nothing to the end by ``apply --watch``'s loop (docs/workflows.md#the-reconcile-loop).

Run: ``.venv/bin/python bench/workflows.py [--jobs 1000] [--quick]``. The emulator runs in this process over
HTTP, API v4.0, with a clock so fast that a submitted job has FINISHED by the next round: what is measured is
the loop, not the waiting. Requests are counted as the emulator receives them (by endpoint), per round.
Prints the rounds, requests per round (mean, most, by kind) and time per round.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from gpulab_apply.emulator import EmulatorConfig, serve_in_thread
from gpulab_apply.emulator.config import default_nodes
from gpulab_apply.emulator.faults import Decision, Faults
from gpulab_apply.gpulab.client import GpulabClient
from gpulab_apply.jobfiles.validation import validate_paths
from gpulab_apply.reconcile.executor import ApplyOptions, ApplyReport, execute
from gpulab_apply.reconcile.loop import reconcile
from gpulab_apply.reconcile.marker import new_run_id
from gpulab_apply.reconcile.plan import Plan, PlanOptions
from gpulab_apply.reconcile.planner import build_plan

PROJECT = "urn:publicid:IDN+ilabt.imec.be+project+local"


def write_pipeline(directory: Path, jobs: int) -> None:
    documents = []
    for index in range(jobs):
        needs = f"x-gpulab-apply: {{needs: [step-{index - 1:04d}]}}\n" if index else ""
        documents.append(
            f"name: step-{index:04d}\nrequest:\n  resources: {{cpus: 1, gpus: 1, cpuMemoryGb: 2}}\n"
            f"  docker: {{image: debian:stable, command: step.sh, environment: {{GPULAB_EMULATOR_RUNTIME: '10 s'}}}}\n"
            f"  scheduling: {{maxDuration: 1 hour}}\nowner: {{projectUrn: '{PROJECT}'}}\n{needs}")
    (directory / "pipeline.yaml").write_text("---\n".join(documents))


class RequestCounter:
    """Counts every request the emulator receives, by endpoint (``GET jobs``, ``POST jobs`` ...): it wraps the
    faults' ``decide``, which the server asks once per request."""

    def __init__(self, faults: Faults) -> None:
        self.seen: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._decide = faults.decide
        faults.decide = self.decide  # type: ignore[method-assign]

    def decide(self, endpoint: str) -> Decision:
        with self._lock:
            self.seen[endpoint] += 1
        return self._decide(endpoint)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="100 jobs")
    args = parser.parse_args()
    jobs = 100 if args.quick else args.jobs
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        write_pipeline(directory, jobs)
        desired = validate_paths([directory]).jobs
        assert len(desired) == jobs
        config = EmulatorConfig(clock="real", speed=100_000.0, nodes=default_nodes())
        with serve_in_thread(config=config) as emulator, \
                GpulabClient(emulator.api_root("4.0"), api_version="4.0") as client:
            counting = RequestCounter(emulator.faults)
            options = PlanOptions(project_urn=PROJECT)

            def plan() -> Plan:
                listing = client.list_jobs()
                return build_plan(desired, listing, set_name="bench", options=options,
                                  now=client.server_time or datetime.now(UTC))

            def apply(made: Plan) -> ApplyReport:
                return execute(made, client, options=ApplyOptions(run_id=new_run_id(datetime.now(UTC))))

            per_round: list[Counter[str]] = []
            times: list[float] = []
            before = Counter(counting.seen)
            started = last = time.perf_counter()
            rounds = 0
            for round_ in reconcile(plan, apply, interval=0.0, stop=threading.Event()):
                rounds = round_.number
                now = time.perf_counter()
                times.append(now - last)
                last = now
                per_round.append(counting.seen - before)
                before = Counter(counting.seen)
            total = time.perf_counter() - started
            finished = sum(1 for job in client.list_jobs() if job.status.name == "FINISHED")
    totals = [sum(c.values()) for c in per_round]
    kinds: Counter[str] = sum(per_round, Counter())
    print(f"linear pipeline of {jobs} jobs: {finished} FINISHED in {rounds} rounds, {total:.1f} s")
    print(f"requests per round: mean {statistics.mean(totals):.2f}, most {max(totals)}, "
          f"total {sum(totals)} ({', '.join(f'{kind}: {count}' for kind, count in kinds.most_common())})")
    print(f"time per round: mean {statistics.mean(times) * 1000:.0f} ms, "
          f"median {statistics.median(times) * 1000:.0f} ms, most {max(times) * 1000:.0f} ms")
    if finished != jobs:
        sys.exit(f"only {finished} of {jobs} jobs FINISHED")


if __name__ == "__main__":
    main()
