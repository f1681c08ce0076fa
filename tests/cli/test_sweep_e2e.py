"""The shipped sweep example end to end: plan, apply and status group its members; adding a value plans
only the new members, reordering plans nothing; --target takes the sweep's name. Real CLI, emulator over HTTP."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from gpulab_apply.emulator import EmulatorConfig, RunningEmulator, serve_in_thread
from tests.conftest import RunCli
from tests.harness import TO_RUNNING, Repo

EXAMPLE = Path(__file__).resolve().parents[2] / "jobs.d" / "sweep"
SWEEP = "cifar-resnet18"


@pytest.fixture
def default_emulator() -> Iterator[RunningEmulator]:
    """The emulator's default cluster (not the tests' small one), with a clock the test moves."""
    with serve_in_thread(config=EmulatorConfig(clock="manual"), fault_seed=0) as running:
        yield running


@pytest.fixture
def repo(tmp_path: Path, default_emulator: RunningEmulator, cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> Repo:
    emulator = default_emulator
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    repo = Repo(tmp_path, emulator, cli, version="4.0")
    shutil.copytree(EXAMPLE, repo.jobs / "sweep")
    repo.write("solo")
    return repo


def edit_matrix(repo: Repo, old: str, new: str) -> None:
    path = repo.jobs / "sweep" / f"{SWEEP}.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_a_sweep_is_planned_applied_and_listed_as_one_group(repo: Repo) -> None:
    planned = repo("plan", "jobs.d")
    assert planned.exit_code == 0, planned
    assert f"sweep {SWEEP}: +12\n" in planned.stdout
    assert "Plan: 13 to create, 0 to replace, 0 to cancel.\n" in planned.stdout

    applied = repo("apply", "jobs.d", "--yes")
    assert applied.exit_code == 0, applied
    assert f"sweep {SWEEP}: +12\nApply complete: 13 created" in applied.stdout
    assert len(repo.active()) == 13

    repo.emulator.advance(TO_RUNNING)
    running = [job for job in repo.active() if job.name.startswith(SWEEP) and job.status.name == "RUNNING"]
    assert len(running) == 12  # the default cluster (docs/emulator.md#the-cluster) fits the whole sweep
    status = repo("status", "jobs.d")
    assert status.exit_code == 0, status
    assert f"sweep {SWEEP}: 12 jobs: 12 RUNNING\n" in status.stdout

    again = repo("plan", "jobs.d", "--detailed-exitcode")
    assert again.exit_code == 0, again
    assert f"sweep {SWEEP}: =12\n" in again.stdout


def test_adding_a_value_plans_only_new_members_and_reordering_plans_nothing(repo: Repo) -> None:
    assert repo("apply", "jobs.d", "--yes").exit_code == 0
    edit_matrix(repo, "lr: [0.1, 0.05, 0.01]", "lr: [0.01, 0.1, 0.05]")
    edit_matrix(repo, "seed: [0, 1, 2, 3]", "seed: [3, 2, 1, 0]")
    assert repo("plan", "jobs.d", "--detailed-exitcode").exit_code == 0

    edit_matrix(repo, "seed: [3, 2, 1, 0]", "seed: [3, 2, 1, 0, 4]")
    planned = repo("plan", "jobs.d", "--detailed-exitcode")
    assert planned.exit_code == 2, planned
    assert f"sweep {SWEEP}: +3, =12\n" in planned.stdout
    assert "Plan: 3 to create, 0 to replace, 0 to cancel.\n" in planned.stdout
    for lr in ("0.1", "0.05", "0.01"):
        assert f"  + {SWEEP}-lr{lr}-seed4 (new)" in planned.stdout


def test_target_takes_a_sweep_name_including_members_removed_from_the_matrix(repo: Repo) -> None:
    assert repo("apply", "jobs.d", "--yes").exit_code == 0
    edit_matrix(repo, "lr: [0.1, 0.05, 0.01]", "lr: [0.1, 0.05]")
    repo.write("solo", gpus=2)  # a change outside the sweep, which the target leaves out
    planned = repo("plan", "jobs.d", "--target", SWEEP)
    assert planned.exit_code == 0, planned
    assert "Plan: 0 to create, 0 to replace, 4 to cancel.\n" in planned.stdout
    assert f"  - {SWEEP}-lr0.01-seed0 (no longer in the job files" in planned.stdout
    assert "solo" not in planned.stdout


def test_markdown_and_json_plans_group_the_sweep(repo: Repo) -> None:
    import json

    markdown = repo("plan", "jobs.d", "--format", "markdown")
    assert f"- sweep {SWEEP}: +12\n" in markdown.stdout
    document = json.loads(repo("plan", "jobs.d", "--format", "json").stdout)
    assert document["sweeps"] == {SWEEP: {"+": 12}}
    assert {entry["sweep"] for entry in document["entries"]} == {SWEEP, None}


def test_completion_offers_sweep_and_member_names(repo: Repo) -> None:
    from gpulab_apply.cli.names import job_names

    assert SWEEP not in job_names(["jobs.d"])  # logs and wait take a job, not a sweep
    names = job_names(["jobs.d"], sweeps=True)  # --target takes both
    assert SWEEP in names and f"{SWEEP}-lr0.05-seed3" in names and "solo" in names
    assert len(names) == 14
