"""GPU-hours in the plan (docs/plan-apply.md#cost): requested by submissions, lost by cancelling running work."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from gpulab_apply.model import JobSpec, RemoteJob
from gpulab_apply.problems import Location
from gpulab_apply.reconcile.cost import lost_hours, requested_hours
from gpulab_apply.reconcile.guards import Guards
from gpulab_apply.reconcile.planner import PlanOptions, build_plan
from tests.harness import Repo
from tests.reconcile.test_planner import PROJECT, SET, remote, spec

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def gpu_job(name: str, gpus: int, max_duration: str | None = None) -> JobSpec:
    scheduling = {"maxDuration": max_duration} if max_duration else {}
    job = {"name": name, "request": {"resources": {"cpus": 1, "gpus": gpus, "cpuMemoryGb": 4},
                                     "docker": {"image": "debian:stable"}, "scheduling": scheduling}}
    return JobSpec(name=name, job=job, location=Location(f"jobs.d/{name}.yaml", 1, 1))


def running_since(name: str, gpus: int, started: str) -> RemoteJob:
    job = remote(name, status="RUNNING", of=spec(name, gpus=gpus))
    state = {**job.raw["state"], "eventTimes": {**job.raw["state"]["eventTimes"], "STARTING": started}}
    return RemoteJob.from_json({**job.raw, "state": state})


def test_requested_is_gpus_times_max_duration_with_gulabs_default() -> None:
    assert requested_hours(gpu_job("a", 2, "3 days")) == (144.0, False)
    assert requested_hours(gpu_job("b", 1)) == (336.0, True)  # GPULab's default: 2 weeks
    assert requested_hours(gpu_job("c", 0, "1 hour")) == (0.0, False)


def test_lost_is_gpus_times_the_time_running() -> None:
    job = running_since("a", 4, "2026-11-23T09:30:00Z")
    assert lost_hours(job, NOW) == 10.0
    assert lost_hours(job, None) == 0.0


def test_the_plan_carries_both_and_the_guard_refuses_larger_plans() -> None:
    old = running_since("swap", 2, "2026-11-23T11:00:00Z")
    desired = [gpu_job("new", 2, "10 hours"), gpu_job("swap", 1, "1 day"), gpu_job("dflt", 1)]
    options = PlanOptions(project_urn=PROJECT, guards=Guards(max_gpu_hours=380))
    plan = build_plan(desired, [old], set_name=SET, options=options, now=NOW)
    assert (plan.cost.requested, plan.cost.lost, plan.cost.defaulted) == (20 + 24 + 336, 2.0, 1)
    assert not plan.refusals
    stricter = PlanOptions(project_urn=PROJECT, guards=Guards(max_gpu_hours=100))
    refused = build_plan(desired, [old], set_name=SET, options=stricter, now=NOW)
    assert [r.message for r in refused.refusals] == ["the plan requests 380 GPU-hours, more than --max-gpu-hours 100"]


def test_an_in_sync_plan_costs_nothing() -> None:
    desired = spec("a")
    plan = build_plan([desired], [remote("a", status="RUNNING", of=desired)], set_name=SET,
                      options=PlanOptions(project_urn=PROJECT), now=NOW)
    assert (plan.cost.requested, plan.cost.lost) == (0.0, 0.0)


def test_every_format_shows_the_cost_and_the_guard_exits_3(repo: Repo) -> None:
    repo.write("a", gpus=2)  # no maxDuration: 2 x 336
    repo.write("b", gpus=1, maxDuration="2 days")
    text = repo("plan", "jobs.d")
    assert "Cost: 720 GPU-hours requested (1 job(s) at GPULab's default maxDuration, 2 weeks), 0 GPU-hours of " \
           "running work lost." in text.stdout
    document = json.loads(repo("plan", "jobs.d", "--format", "json").stdout)
    assert document["gpuHours"] == {"requested": 720.0, "lost": 0.0, "defaultedMaxDuration": 1, "waiting": 0.0}
    assert "Cost: 720 GPU-hours requested" in repo("plan", "jobs.d", "--format", "markdown").stdout
    refused = repo("apply", "jobs.d", "--yes", "--max-gpu-hours", "700")
    assert refused.exit_code == 3 and "more than --max-gpu-hours 700" in refused.stderr, refused
    Path("gpulab-apply.yaml").write_text("max-gpu-hours: 100\n")
    assert "Apply will refuse: the plan requests 720 GPU-hours" in repo("plan", "jobs.d").stdout
    assert repo("apply", "jobs.d", "--yes").exit_code == 3
    assert repo("apply", "jobs.d", "--yes", "--max-gpu-hours", "720").exit_code == 0
    assert repo.remote() != []
