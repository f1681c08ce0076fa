"""Benchmark the pure planner, ``build_plan``, at growing sizes; prints times and the growth ratio of this run.

Each size has 75% of the desired jobs in sync, 15% changed (replaced, so their field differences are
computed), 10% new, and the rest of the remote jobs from another set. Then every job changed, as after an
edit of a shared ``_defaults.yaml``. Linear growth means the 20,000 vs
50,000 case takes about 10x the 2,000 vs 5,000 one.

Times are CPU seconds of this process (best of 3), so other load on the machine counts less; the cyclic
collector's threshold is the CLI's (``cli.GC_THRESHOLD``).

Usage: ``python bench/build_plan.py`` (about half a minute).
"""

from __future__ import annotations

import time

from gpulab_apply.model import JobSpec, RemoteJob
from gpulab_apply.problems import Location
from gpulab_apply.reconcile.marker import Marker
from gpulab_apply.reconcile.planner import PlanOptions, build_plan, desired_spec_hash

PROJECT = "urn:publicid:IDN+ilabt.imec.be+project+p"
USER = "urn:publicid:IDN+ilabt.imec.be+user+jdoe"
SIZES = ((2_000, 5_000), (5_000, 12_500), (20_000, 50_000))


def desired_job(index: int) -> JobSpec:
    name = f"job-{index:06d}"
    job = {"name": name, "request": {"resources": {"cpus": 1, "gpus": 1, "cpuMemoryGb": 4},
           "docker": {"image": "debian:stable", "command": f"train --seed {index}", "environment": {"SEED": index},
                      "storage": [{"hostPath": "/project_ghent", "containerPath": "/project"}]}}}
    return JobSpec(name=name, job=job, location=Location(f"jobs.d/{name}.yaml", 1, 1))


def remote_job(index: int, name: str, request: dict[str, object], marker: Marker) -> RemoteJob:
    return RemoteJob.from_json({
        "uuid": f"{index:08d}-0000-0000-0000-000000000000", "name": name, "description": f"prose\n{marker}",
        "request": request, "owner": {"projectUrn": PROJECT, "userUrn": USER, "userEmail": "hidden@hidden.hidden"},
        "state": {"status": "RUNNING" if index % 3 else "FINISHED",
                  "eventTimes": {"created": f"2026-11-23T10:{index % 60:02d}:00Z"}}})


def inputs(desired_count: int, remote_count: int, *, changed_share: float = 0.15) -> tuple[list[JobSpec], list[RemoteJob]]:
    desired = [desired_job(i) for i in range(desired_count)]
    changed = int(desired_count * changed_share)
    in_sync = min(int(desired_count * 0.75), desired_count - changed)
    remote = []
    for i in range(remote_count):
        if i < in_sync:
            spec = desired[i]
            remote.append(remote_job(i, spec.name, dict(spec.job["request"]),
                                     Marker(set_name="lab", spec=desired_spec_hash(spec, PROJECT), run_id="r1")))
        elif i < in_sync + changed:
            spec = desired[i]
            request = {**spec.job["request"], "resources": {"cpus": 1, "gpus": 2, "cpuMemoryGb": 4}}
            remote.append(remote_job(i, spec.name, request, Marker(set_name="lab", spec="a" * 16, run_id="r1")))
        else:
            remote.append(remote_job(i, f"other-{i:06d}", {"resources": {"gpus": 1}},
                                     Marker(set_name="other", spec="f" * 16, run_id="r1")))
    return desired, remote


def best_of(runs: int, desired: list[JobSpec], remote: list[RemoteJob]) -> float:
    options = PlanOptions(project_urn=PROJECT, user_urn=USER)
    times = []
    for _ in range(runs):
        # CPU time of this process: the machine is shared, and build_plan is single-threaded
        start = time.process_time()
        build_plan(desired, remote, set_name="lab", options=options)
        times.append(time.process_time() - start)
    return min(times)


def main() -> None:
    import gc

    import deepdiff  # noqa: F401  # imported once, as the CLI does while it lists

    from gpulab_apply.cli import GC_THRESHOLD

    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])  # as the CLI runs it

    measured = []
    for desired_count, remote_count in SIZES:
        desired, remote = inputs(desired_count, remote_count)
        took = best_of(3, desired, remote)
        measured.append(took)
        print(f"build_plan: {desired_count:,} desired vs {remote_count:,} remote: {took:.3f} s")
    print(f"growth for 10x the work: {measured[-1] / measured[0]:.1f}x (linear: 10x)")
    # editing a shared _defaults.yaml changes every job: every entry is a replacement with field differences
    edited = []
    for desired_count in (2_000, 20_000):
        desired, remote = inputs(desired_count, desired_count, changed_share=1.0)
        edited.append(best_of(3, desired, remote))
        print(f"build_plan: {desired_count:,} desired, all changed: {edited[-1]:.3f} s")
    print(f"growth for 10x the changed jobs: {edited[1] / edited[0]:.1f}x (linear: 10x)")


if __name__ == "__main__":
    main()
