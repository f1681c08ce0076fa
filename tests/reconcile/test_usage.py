"""GPU-hours used and budgets (docs/capacity.md#usage-and-budgets): status and plan against the emulator's clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gpulab_apply.emulator import RunningEmulator
from gpulab_apply.emulator.store import Store
from gpulab_apply.errors import ConfigError
from gpulab_apply.jobmodel.status import JobStatus
from gpulab_apply.model import RemoteJob
from gpulab_apply.reconcile.usage import Budget, Period, budget_value, usage_of, used_hours
from tests.conftest import RunCli
from tests.harness import Repo

#: the emulator's manual clock starts on Monday 2026-01-05 09:00 UTC
START = datetime(2026, 1, 5, 9, tzinfo=UTC)

SWEEP = """\
name: train
request:
  resources:
    cpus: 1
    gpus: ${{ matrix.gpus }}
    cpuMemoryGb: 4
  docker:
    image: "debian:stable"
    command: train.sh
    environment:
      GPULAB_EMULATOR_RUNTIME: ${{ matrix.runtime }}
  scheduling:
    maxDuration: 10 hours
x-gpulab-apply:
  matrix:
    gpus: [1, 2]
    runtime: ["1 hour", "3 hours"]
"""


def ran_hours(emulator: RunningEmulator) -> dict[str, float]:
    """GPU-hours by job name as the emulator's own simulation counted them (``sim.ran``, its clock)."""
    with emulator.emulator.store.read() as conn:
        records = Store.load_where(conn, "1 = 1", ())
    return {r.doc["name"]: r.doc["request"]["resources"]["gpus"] * emulator.emulator.cluster.ran_until(
        r, emulator.clock.now()) / 3600 for r in records}


@pytest.fixture
def lab(tmp_path: Path, emulator: RunningEmulator, cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> Repo:
    monkeypatch.chdir(tmp_path)
    return Repo(tmp_path, emulator, cli, version="4.0")


def test_gpu_hours_used_are_what_the_emulators_clock_ran(lab: Repo) -> None:
    (lab.jobs / "train.yaml").write_text(SWEEP)
    assert lab("apply", "jobs.d", "--yes").exit_code == 0
    lab.emulator.advance(2 * 3600)  # the 1-hour members finished, the 3-hour ones run (one waits for room)
    document = json.loads(lab("status", "jobs.d", "--format", "json").stdout)
    ran = ran_hours(lab.emulator)
    used = {job["name"]: job["gpuHoursUsed"] for job in document["jobs"]}
    assert used == {name: pytest.approx(hours, abs=0.01) for name, hours in ran.items()}
    assert {job["status"] for job in document["jobs"]} >= {"FINISHED", "RUNNING"}
    assert all(used[job["name"]] > 0 for job in document["jobs"] if job["status"] in ("FINISHED", "RUNNING"))
    total = sum(ran.values())
    assert document["gpuHoursUsed"]["total"] == pytest.approx(total, abs=0.02)
    assert document["gpuHoursUsed"]["thisWeek"] == pytest.approx(total, abs=0.02)
    assert document["gpuHoursUsed"]["sweeps"] == {"train": pytest.approx(total, abs=0.02)}
    text = lab("status", "jobs.d").stdout
    assert f"GPU-hours used: {round(total, 2):g} in all" in text
    assert f"sweep train: {round(total, 2):g} GPU-hours used" in text
    assert "GPU-hours used:" in lab("status", "jobs.d", "--format", "markdown").stdout


def test_a_plan_over_the_budget_is_refused_with_the_figures(lab: Repo) -> None:
    (lab.root / "gpulab-apply.yaml").write_text("budget: {gpu-hours: 40, per: month}\n")
    (lab.jobs / "train.yaml").write_text(SWEEP)
    # 1+1+2+2 GPUs x maxDuration 10 hours = 60 GPU-hours requested, more than 40
    planned = lab("plan", "jobs.d")
    assert planned.exit_code == 3, planned
    assert ("Apply will refuse: the plan requests 60 GPU-hours but the budget has 40 left this month "
            "(0 of 40 used since 2026-01-01)") in planned.stdout
    assert "Cost: 60 GPU-hours requested, 0 GPU-hours of running work lost; used this month: 0 of 40 GPU-hours." \
        in planned.stdout
    refused = lab("apply", "jobs.d", "--yes")
    assert refused.exit_code == 3 and "budget has 40 left this month" in refused.stderr, refused

    (lab.root / "gpulab-apply.yaml").write_text("budget: {gpu-hours: 70, per: month}\n")
    assert lab("apply", "jobs.d", "--yes").exit_code == 0
    lab.emulator.advance(4 * 3600)  # every member ends: 1x1 + 1x3 + 2x1 + 2x3 = 12 GPU-hours
    (lab.jobs / "more.yaml").write_text(SWEEP.replace("name: train", "name: more"))
    planned = lab("plan", "jobs.d", "--format", "json")
    assert planned.exit_code == 3, planned
    document = json.loads(planned.stdout)
    assert document["usage"]["usedGpuHours"] == pytest.approx(12, abs=0.01)
    assert document["usage"]["leftGpuHours"] == pytest.approx(58, abs=0.01)
    assert document["refusals"][0]["message"].startswith("the plan requests 60 GPU-hours but the budget has 58")
    # a week's budget from the environment: only this week's runs count (all of them: the clock is on Monday)
    weekly = lab("plan", "jobs.d", "--format", "json", env={"GPULAB_APPLY_BUDGET": "200/week"})
    assert weekly.exit_code == 0, weekly
    assert json.loads(weekly.stdout)["usage"]["period"] == "week"


@pytest.mark.parametrize(("config", "words"), [
    ("budget: 500\n", "budget must give gpu-hours and per"),
    ("budget: {gpu-hours: -1, per: month}\n", "budget gpu-hours must be a number >= 0"),
    ("budget: {gpu-hours: 5, per: year}\n", "budget per must be week or month"),
    ("budget: {hours: 5}\n", "budget has unknown key(s) hours"),
])
def test_a_bad_budget_is_a_clear_error(lab: Repo, config: str, words: str) -> None:
    (lab.root / "gpulab-apply.yaml").write_text(config)
    result = lab("plan", "jobs.d")
    assert result.exit_code == 1 and words in result.stderr, result
    assert "Traceback" not in result.stderr


def job(*, gpus: int, status: str, **times: str) -> RemoteJob:
    return RemoteJob.from_json({"uuid": "u", "name": "j", "request": {"resources": {"gpus": gpus}},
                                "state": {"status": status, "eventTimes": times}})


def test_a_run_counts_only_its_time_inside_the_period_and_a_running_one_up_to_now() -> None:
    now = datetime(2026, 2, 2, 12, tzinfo=UTC)  # a Monday
    across = job(gpus=2, status="FINISHED", RUNNING="2026-01-31T22:00:00Z", FINISHED="2026-02-01T02:00:00Z")
    running = job(gpus=4, status="RUNNING", RUNNING="2026-02-02T10:30:00Z")
    never = job(gpus=8, status="CANCELLED", CANCELLED="2026-02-01T00:00:00Z")
    assert used_hours(across, now) == 8.0
    assert used_hours(across, now, since=Period.MONTH.start(now)) == 4.0
    assert used_hours(running, now) == 6.0 and used_hours(never, now) == 0.0
    usage = usage_of([across, running, never], now=now, budget=Budget(gpu_hours=20, per=Period.WEEK))
    assert (usage.since, usage.used, usage.left) == (datetime(2026, 2, 2, tzinfo=UTC), 6.0, 14.0)
    assert usage.line() == "used this week: 6 of 20 GPU-hours"
    assert JobStatus.parse("RUNNING").is_active


def test_budget_forms() -> None:
    assert budget_value({"gpu-hours": 500, "per": "month"}, "x") == Budget(500.0, Period.MONTH)
    assert budget_value(" 12.5 / Week", "x") == Budget(12.5, Period.WEEK)
    with pytest.raises(ConfigError, match="gpu-hours must be a number"):
        budget_value({"gpu-hours": True}, "x")
