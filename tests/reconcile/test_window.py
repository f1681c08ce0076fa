"""Jobs older than GPULab's v3.x listing window (744 h) are never resubmitted blind (docs/plan-apply.md#limits-per-api-version)."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gpulab_apply.emulator import EmulatorConfig, RunningEmulator, serve_in_thread
from gpulab_apply.model import format_timestamp
from gpulab_apply.reconcile.guards import Guards
from gpulab_apply.reconcile.planner import Action, PlanOptions, build_plan
from gpulab_apply.reconcile.window import proven_new
from tests.conftest import RunCli
from tests.fixtures.jobs import job_yaml
from tests.reconcile.test_planner import PROJECT, SET, spec

WINDOW = 744
DAY = 24 * 3600


def test_a_create_on_a_windowed_listing_is_unseen_until_its_file_is_proven_new() -> None:
    options = PlanOptions(project_urn=PROJECT, window_hours=WINDOW)
    plan = build_plan([spec("a"), spec("b")], [], set_name=SET, options=options)
    assert [e.unseen for e in plan.entries] == [True, True]
    assert plan.unproven_files() == ("jobs.d/a.yaml", "jobs.d/b.yaml")
    assert len(plan.refusals) == 1 and "744 hours" in plan.refusals[0].message
    proven = plan.with_evidence(frozenset({"jobs.d/a.yaml"}))
    assert [e.unseen for e in proven.entries] == [False, True] and proven.summary.create == 2
    assert not plan.with_evidence(frozenset({"jobs.d/a.yaml", "jobs.d/b.yaml"})).refusals
    allowed = dataclasses.replace(options, guards=Guards(allow_unseen=True))
    assert not build_plan([spec("a")], [], set_name=SET, options=allowed).refusals


def test_without_a_window_nothing_is_unseen() -> None:
    plan = build_plan([spec("a")], [], set_name=SET, options=PlanOptions(project_urn=PROJECT))
    assert plan.entries[0].action is Action.CREATE and not plan.entries[0].unseen and not plan.refusals


# --- evidence from git and from the file system ----------------------------------------------------------------

def git(*args: str, cwd: Path, when: datetime | None = None) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    if when is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = when.strftime("%Y-%m-%dT%H:%M:%S+0000")
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def test_git_history_proves_young_files_new_and_not_old_ones(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    (tmp_path / "jobs.d").mkdir()
    git("init", "-q", cwd=tmp_path)
    for name in ("old", "edited", "young"):
        (tmp_path / "jobs.d" / f"{name}.yaml").write_text(job_yaml(name))
    git("add", "jobs.d/old.yaml", "jobs.d/edited.yaml", cwd=tmp_path)
    git("commit", "-q", "-m", "old", cwd=tmp_path, when=now - timedelta(days=40))
    git("add", "jobs.d/young.yaml", cwd=tmp_path)
    git("commit", "-q", "-m", "young", cwd=tmp_path, when=now - timedelta(days=3))
    (tmp_path / "jobs.d" / "edited.yaml").write_text(job_yaml("edited", gpus=2))  # uncommitted: new content
    (tmp_path / "jobs.d" / "untracked.yaml").write_text(job_yaml("untracked"))
    files = [f"jobs.d/{name}.yaml" for name in ("old", "edited", "young", "untracked")]
    assert proven_new(files, since=now - timedelta(hours=WINDOW), cwd=tmp_path) == {
        "jobs.d/edited.yaml", "jobs.d/young.yaml", "jobs.d/untracked.yaml"}
    # measured on GPULab's clock: 40 days on, the young file is old too
    later = proven_new(files, since=now + timedelta(days=40) - timedelta(hours=WINDOW), cwd=tmp_path)
    assert later == {"jobs.d/edited.yaml", "jobs.d/untracked.yaml"}


def test_git_is_asked_a_few_times_per_repository_never_once_per_file(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Each git call is a process (milliseconds): a v3.x plan of new jobs asked where the repository is once per file."""
    repo = tmp_path / "repo"
    (repo / "jobs.d" / "sweep").mkdir(parents=True)
    git("init", "-q", cwd=repo)
    log = tmp_path / "git-calls"
    wrapper = tmp_path / "bin" / "git"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{shutil.which("git")}" "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{wrapper.parent}{os.pathsep}{os.environ['PATH']}")

    def calls(count: int) -> int:
        files = [f"jobs.d/{directory}job{index}.yaml" for index in range(count) for directory in ("", "sweep/")]
        for name in files:
            (repo / name).write_text(job_yaml(Path(name).stem))
        log.write_text("")
        assert proven_new(files, since=datetime.now(UTC) - timedelta(hours=WINDOW), cwd=repo) == set(files)
        return len(log.read_text().splitlines())

    assert calls(1) == calls(20) > 0


def test_a_shallow_clone_does_not_prove_anything_it_cannot_see(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    origin = tmp_path / "origin"
    (origin / "jobs.d").mkdir(parents=True)
    git("init", "-q", cwd=origin)
    (origin / "jobs.d" / "old.yaml").write_text(job_yaml("old"))
    git("add", ".", cwd=origin)
    git("commit", "-q", "-m", "old", cwd=origin, when=now - timedelta(days=40))
    (origin / "jobs.d" / "young.yaml").write_text(job_yaml("young"))
    git("add", ".", cwd=origin)
    git("commit", "-q", "-m", "young", cwd=origin, when=now - timedelta(days=1))
    git("clone", "-q", "--depth", "1", f"file://{origin}", str(tmp_path / "ci"), cwd=tmp_path)
    files = ["jobs.d/old.yaml", "jobs.d/young.yaml"]
    # the boundary commit seems to add both files: neither age is known
    assert proven_new(files, since=now - timedelta(hours=WINDOW), cwd=tmp_path / "ci") == frozenset()
    assert proven_new(files, since=now - timedelta(hours=WINDOW), cwd=origin) == {"jobs.d/young.yaml"}


def test_outside_git_the_modification_time_is_the_age(tmp_path: Path) -> None:
    fresh, stale = tmp_path / "fresh.yaml", tmp_path / "stale.yaml"
    fresh.write_text(job_yaml("fresh"))
    stale.write_text(job_yaml("stale"))
    old = time.time() - 40 * DAY
    os.utime(stale, (old, old))
    assert proven_new(["fresh.yaml", "stale.yaml"], since=datetime.now(UTC) - timedelta(hours=WINDOW),
                      cwd=tmp_path) == {"fresh.yaml"}


# --- end to end, with the emulator's clock 35 days on -------------------------------------------------------------

@pytest.fixture
def emulator_now() -> Iterator[RunningEmulator]:
    """An emulator whose manual clock starts at the real time, as GPULab's does: jobs are submitted after
    their files were written."""
    start = format_timestamp(datetime.now(UTC))
    with serve_in_thread(config=EmulatorConfig(clock="manual", manual_start=start), fault_seed=0) as running:
        yield running


@pytest.fixture
def aged(tmp_path: Path, emulator_now: RunningEmulator, cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Two jobs applied, then 35 days pass on GPULab: one still RUNNING (60 days), one FINISHED after an hour."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jobs.d").mkdir()
    long_running = job_yaml("long", runtime="60 days", maxDuration="90 days")
    (tmp_path / "jobs.d" / "long.yaml").write_text(long_running)
    (tmp_path / "jobs.d" / "short.yaml").write_text(job_yaml("short", runtime="1 hour"))
    connection = ["--endpoint", emulator_now.api_root("3.1"), "--project", "local", "--set", "lab"]
    assert cli("apply", "jobs.d", "--yes", *connection).exit_code == 0
    emulator_now.advance(35 * DAY)
    return connection


def test_on_v3_1_jobs_beyond_the_window_are_not_submitted_again(aged: list[str], cli: RunCli,
                                                                emulator_now: RunningEmulator) -> None:
    planned = cli("plan", "jobs.d", *aged)
    assert planned.exit_code == 0, planned
    assert "+ long (new; no job in the listing, but one may exist beyond GPULab's listing window)" in planned.stdout
    assert "Apply will refuse: 2 job(s) to create have no job in the listing" in planned.stdout
    refused = cli("apply", "jobs.d", "--yes", *aged)
    assert refused.exit_code == 3, refused
    assert "--allow-unseen" in refused.stderr


def test_on_v4_0_the_same_jobs_are_seen(aged: list[str], cli: RunCli, emulator_now: RunningEmulator) -> None:
    with_v4 = cli("plan", "jobs.d", "--detailed-exitcode", *aged, "--endpoint", emulator_now.api_root("4.0"))
    assert with_v4.exit_code == 0, with_v4  # v4.0 sees every job: in sync and finished


def test_allow_unseen_creates_them_when_a_person_says_they_are_new(aged: list[str], cli: RunCli) -> None:
    result = cli("apply", "jobs.d", "--yes", "--allow-unseen", *aged)
    assert result.exit_code == 0, result
    assert "Apply complete: 2 created" in result.stdout
