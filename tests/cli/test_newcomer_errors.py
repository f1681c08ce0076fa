"""Mistakes a newcomer makes first, and the messages that must meet them (issue: ecosystem)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gpulab_apply.emulator import RunningEmulator
from gpulab_apply.workspace import find_workspace
from tests.conftest import RunCli
from tests.job_texts import MINIMAL_JOB_YAML


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository (as far as gpulab-apply can tell) with jobs.d and a docs/ subdirectory."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "jobs.d").mkdir()
    (tmp_path / "jobs.d" / "train.yaml").write_text(MINIMAL_JOB_YAML.format(name="train"))
    (tmp_path / "docs" / "deep").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_apply_of_a_missing_file_says_so_before_asking_for_yes(repo: Path, cli: RunCli) -> None:
    result = cli("apply", "missing.json")
    assert result.exit_code == 64, result  # a PATH named that does not exist: a usage error
    assert "Path 'missing.json' does not exist" in result.stderr
    assert "--yes" not in result.stderr
    # with the files in order, the missing --yes is what is reported, before any network
    assert "pass --yes" in cli("apply", "jobs.d", "--endpoint", "https://127.0.0.1:9/api/gpulab/v3.1/").stderr


def test_a_misspelled_endpoint_path_gets_a_hint_about_the_path(repo: Path, cli: RunCli,
                                                                emulator: RunningEmulator) -> None:
    typo = emulator.api_root("3.1").replace("/gpulab/", "/gpulb/")
    result = cli("plan", "--endpoint", typo, "--project", "local")
    assert result.exit_code == 1, result
    assert "Hint: GPULab's API lives under /api/gpulab/vX.Y/, but the endpoint's path is /api/gpulb/v3.1/: " \
           "check it for a typo" in result.stderr
    assert "--api-version" not in result.stderr
    assert cli("plan", "--endpoint", emulator.api_root("3.1"), "--project", "local").exit_code == 0


def test_local_from_a_subdirectory_uses_the_repositorys_state(repo: Path, cli: RunCli,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("apply", "jobs.d", "--local", "--yes").exit_code == 0
    assert (repo / ".gpulab-apply" / "emulator.db").is_file()
    monkeypatch.chdir(repo / "docs" / "deep")
    status = cli("status", "../../jobs.d", "--local")
    assert status.exit_code == 0, status
    assert "train" in status.stdout and "QUEUED" in status.stdout
    logs = cli("logs", "train", "--local", "--set", repo.name)  # no job directory named at all
    assert logs.exit_code == 0 and "has no log yet" in logs.stderr, logs
    assert not (repo / "docs" / ".gpulab-apply").exists() and not (repo / "docs" / "deep" / ".gpulab-apply").exists()


def test_the_workspace_state_dir(tmp_path: Path) -> None:
    repo, outside = tmp_path / "repo", tmp_path / "plain"
    (repo / ".git").mkdir(parents=True)
    (repo / "exp" / "jobs.d").mkdir(parents=True)
    (repo / "docs").mkdir()
    (outside / "jobs.d").mkdir(parents=True)
    # nothing yet: beside the nearest jobs.d, else where the command runs, else the top of the repository
    assert find_workspace([Path("jobs.d")], cwd=repo / "exp").state_dir == repo / "exp" / ".gpulab-apply"
    assert find_workspace([], cwd=repo / "exp" / "jobs.d").state_dir == repo / "exp" / ".gpulab-apply"
    assert find_workspace([], cwd=repo / "docs").state_dir == repo / ".gpulab-apply"
    assert find_workspace([Path("jobs.d")], cwd=outside).state_dir == outside / ".gpulab-apply"
    # never above where the command runs, outside git
    assert find_workspace([], cwd=outside / "jobs.d").state_dir == outside / "jobs.d" / ".gpulab-apply"
    # an existing one wins, nearest first
    (repo / ".gpulab-apply").mkdir()
    assert find_workspace([], cwd=repo / "docs").state_dir == repo / ".gpulab-apply"
    assert find_workspace([Path("../exp/jobs.d")], cwd=repo / "docs").state_dir == repo / ".gpulab-apply"


def test_local_takes_speed(repo: Path, cli: RunCli) -> None:
    # one real second is a simulated hour: the job (2 + 3 + 10 simulated seconds from queued to running) runs
    # at once
    result = cli("apply", "jobs.d", "--local", "--speed", "3600", "--yes", "--wait", "--interval", "0.02",
                 "--wait-timeout", "30")
    assert result.exit_code == 0, result
    assert "all 1 job(s) running" in result.stderr
    verbose = cli("status", "--local", "-v", env={"GPULAB_APPLY_SPEED": "60"})
    assert "local speed:  60  [GPULAB_APPLY_SPEED]" in verbose.stderr, verbose


def test_speed_without_local_or_not_a_number(repo: Path, cli: RunCli) -> None:
    remote = cli("plan", "--speed", "10", "--endpoint", "https://127.0.0.1:9/api/gpulab/v3.1/")
    assert remote.exit_code == 64 and "--speed sets the clock of the embedded emulator, so it needs --local" \
        in remote.stderr, remote
    bad = cli("plan", "--local", "--speed", "fast")
    assert bad.exit_code == 64 and "--speed: the speed must be a positive number" in bad.stderr, bad
    # the same value from the environment is a configuration error, not a usage error
    env = cli("plan", "--local", env={"GPULAB_APPLY_SPEED": "fast"})
    assert env.exit_code == 1 and "GPULAB_APPLY_SPEED: the speed must be a positive number" in env.stderr, env


def test_the_emulator_command_from_a_subdirectory_serves_the_repositorys_state(repo: Path) -> None:
    """`gpulab-apply emulator` and `--local` share one database, wherever in the repository each runs."""
    (repo / ".gpulab-apply").mkdir()
    process = subprocess.Popen([sys.executable, "-m", "gpulab_apply", "emulator", "--port", "0"],
                               cwd=repo / "docs" / "deep", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=20)
    assert banner.rstrip().endswith(f"state in {repo / '.gpulab-apply' / 'emulator.db'}"), banner
    assert not (repo / "docs" / "deep" / ".gpulab-apply").exists()
