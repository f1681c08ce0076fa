"""The command boundary: Ctrl-C and SIGTERM mid-apply settle and report, and a bug is a crash report, never a
bare traceback (docs/plan-apply.md#interrupts, #crash-reports).

The signal tests run the real ``gpulab-apply`` process against the emulator on loopback, with each submission
slowed down so that apply is surely between two of them when the signal arrives: the signal is sent once the
first job is stored, which leaves several submissions to be skipped on any machine.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest

from gpulab_apply.app import planning
from gpulab_apply.emulator import RunningEmulator
from gpulab_apply.emulator.faults import Fault
from gpulab_apply.errors import ExitStatus
from tests.conftest import RunCli
from tests.fixtures.jobs import job_yaml

JOBS = 8


def _names(emulator: RunningEmulator) -> list[str]:
    with emulator.emulator.store.read() as conn:
        return [row[0] for row in conn.execute("SELECT name FROM jobs")]


def _start_apply(tmp_path: Path, emulator: RunningEmulator, *extra: str) -> subprocess.Popen[str]:
    jobs = tmp_path / "jobs.d"
    jobs.mkdir()
    for index in range(JOBS):
        (jobs / f"job-{index}.yaml").write_text(job_yaml(f"job-{index}"))
    command = [sys.executable, "-m", "gpulab_apply", "apply", "jobs.d", "--yes", "--parallelism", "1",
               "--endpoint", emulator.api_root("3.1"), "--set", "lab", *extra]
    env = {key: value for key, value in os.environ.items() if not key.startswith(("GPULAB", "GITHUB"))}
    return subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)


def _when_first_job_is_stored(emulator: RunningEmulator, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while not _names(emulator):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "apply submitted nothing within a minute"
        time.sleep(0.01)


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
@pytest.mark.parametrize("fmt", ["json", "text"])
def test_a_signal_mid_apply_settles_reports_and_the_next_apply_converges(
        tmp_path: Path, emulator: RunningEmulator, cli: RunCli, monkeypatch: pytest.MonkeyPatch,
        sig: signal.Signals, status: int, fmt: str) -> None:
    emulator.faults.set("POST jobs", Fault(latency=0.5))
    process = _start_apply(tmp_path, emulator, "--format", fmt)
    _when_first_job_is_stored(emulator, process)
    process.send_signal(sig)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == status, (stdout, stderr)
    assert "Traceback" not in stdout + stderr
    assert f"apply was stopped by {sig.name}" in stderr
    created = _names(emulator)
    assert 0 < len(created) < JOBS, created
    if fmt == "json":
        document = json.loads(stdout)
        assert document["interrupted"] is True
        results = Counter(outcome["result"] for outcome in document["outcomes"])
        assert results["created"] == len(created)
        assert results["skipped"] == JOBS - len(created)
    else:
        assert f"{JOBS - len(created)} not started" in stdout
        assert "Apply interrupted:" in stdout
    # the next apply does only what is missing: one job per name, none twice
    emulator.faults.clear()
    monkeypatch.chdir(tmp_path)
    result = cli("apply", "jobs.d", "--yes", "--endpoint", emulator.api_root("3.1"), "--set", "lab")
    assert result.exit_code == 0, result
    assert sorted(_names(emulator)) == sorted(f"job-{index}" for index in range(JOBS))


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "github"])
def test_an_unexpected_error_is_a_crash_report_in_the_commands_format(
        tmp_path: Path, emulator: RunningEmulator, cli: RunCli, monkeypatch: pytest.MonkeyPatch, fmt: str) -> None:
    secret = "s3cr3t-Value-4711"
    (tmp_path / "jobs.d").mkdir()
    (tmp_path / "jobs.d" / "train.yaml").write_text(
        job_yaml("train", environment={"WANDB_API_KEY": "${WANDB_API_KEY}"}))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def broken(*args: object, **kwargs: object) -> None:  # a bug that quotes a secret in its message
        raise RuntimeError(f"boom {secret}")

    monkeypatch.setattr(planning, "build_plan", broken)
    result = cli("plan", "jobs.d", "--format", fmt, "--endpoint", emulator.api_root("3.1"), "--set", "lab",
                 env={"WANDB_API_KEY": secret})
    assert result.exit_code == ExitStatus.INTERNAL == 70, result
    assert "Traceback" not in result.stdout + result.stderr
    assert secret not in result.stdout + result.stderr
    [report] = tmp_path.glob("gpulab-apply-crash-*.txt")
    assert f"crash report written to {report}" in result.stderr
    assert report.stat().st_mode & 0o777 == 0o600
    text = report.read_text()
    assert "Traceback" in text and "RuntimeError: boom" in text and "gpulab-apply plan jobs.d" in text
    assert secret not in text
    if fmt == "json":
        document = json.loads(result.stdout)
        assert document["ok"] is False and "crash report" in document["error"]["message"]
    elif fmt == "markdown":
        assert "crash report" in result.stdout
    elif fmt == "github":
        assert result.stdout.startswith("::error")


def test_ctrl_c_in_a_read_only_command_exits_130_without_a_traceback(
        tmp_path: Path, emulator: RunningEmulator) -> None:
    (tmp_path / "jobs.d").mkdir()
    (tmp_path / "jobs.d" / "train.yaml").write_text(job_yaml("train"))
    env = {key: value for key, value in os.environ.items() if not key.startswith(("GPULAB", "GITHUB"))}
    # wait polls until the job runs; the emulator's manual clock never lets it, so only Ctrl-C ends it
    subprocess.run([sys.executable, "-m", "gpulab_apply", "apply", "--yes", "--endpoint", emulator.api_root("3.1"),
                    "--set", "lab"], cwd=tmp_path, env=env, check=True, capture_output=True)
    process = subprocess.Popen([sys.executable, "-m", "gpulab_apply", "wait", "train", "--endpoint",
                                emulator.api_root("3.1"), "--set", "lab", "--interval", "0.1"],
                               cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    assert "gpulab-apply:" in process.stderr.readline()  # its first status line: wait is polling
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, (stdout, stderr)
    assert "Traceback" not in stdout + stderr
    assert "interrupted" in stderr
