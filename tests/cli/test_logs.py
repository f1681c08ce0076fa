"""``gpulab-apply logs``: the emulator's log endpoint as GPULab serves it, and the command end to end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from gpulab_apply.emulator import EmulatorConfig, RunningEmulator, serve_in_thread
from gpulab_apply.gpulab.client import GpulabClient
from gpulab_apply.jobmodel.status import JobStatus
from gpulab_apply.reconcile.waiting import LogTail
from tests.conftest import RunCli
from tests.fixtures.jobs import make_job
from tests.harness import TO_RUNNING, Repo


@pytest.fixture
def lab(tmp_path: Path, emulator: RunningEmulator, cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> Repo:
    monkeypatch.chdir(tmp_path)
    return Repo(tmp_path, emulator, cli)


@pytest.fixture
def fast_emulator() -> Iterator[RunningEmulator]:
    """Simulated time 200 times faster than wall time: a 100 s job runs in half a second."""
    with serve_in_thread(config=EmulatorConfig(speed=200)) as running:
        yield running


@pytest.fixture
def fast_lab(tmp_path: Path, fast_emulator: RunningEmulator, cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> Repo:
    monkeypatch.chdir(tmp_path)
    return Repo(tmp_path, fast_emulator, cli)


# --- the endpoint ---------------------------------------------------------------------------------------------


def test_the_log_endpoint_answers_204_206_and_grows_with_simulated_time(emulator: RunningEmulator) -> None:
    uuid = emulator.seed_job(make_job("t", runtime="100 s"))
    url = emulator.api_root("3.1") + f"jobs/{uuid}/log"
    assert requests.get(url, timeout=5).status_code == 204  # queued: no log yet
    emulator.advance(TO_RUNNING + 30)
    whole = requests.get(url, timeout=5)
    assert whole.status_code == 200 and whole.text.count("progress") == 3
    part = requests.get(url, headers={"Range": "bytes=10-"}, timeout=5)
    assert part.status_code == 206 and part.content == whole.content[10:]
    assert part.headers["Content-Range"] == f"bytes 10-{len(whole.content) - 1}/{len(whole.content)}"
    assert requests.get(url, headers={"Range": f"bytes={len(whole.content)}-"}, timeout=5).status_code == 204
    emulator.advance(30)
    more = requests.get(url, headers={"Range": f"bytes={len(whole.content)}-"}, timeout=5)
    assert more.status_code == 206 and more.text.count("progress") == 3


def test_a_log_tail_reads_each_byte_once_and_ends_with_the_job(emulator: RunningEmulator) -> None:
    uuid = emulator.seed_job(make_job("t", runtime="100 s", exit_code=3))
    with GpulabClient(emulator.api_root("3.1"), api_version="3.1") as client:
        tail = LogTail(client, uuid)
        assert tail.poll() == b"" and tail.status is JobStatus.QUEUED
        # the test's "sleep" moves simulated time, so following takes no wall time
        chunks = list(tail.follow(interval=1, sleep=lambda _: emulator.advance(20)))
        whole = client.read_log(uuid)
    assert b"".join(chunks) == whole
    assert len(chunks) > 3 and whole.endswith(b"exit code 3\n")
    assert tail.ended and tail.status is not None and tail.status.name == "FAILED"


# --- the command ----------------------------------------------------------------------------------------------


def test_logs_prints_the_current_jobs_log(lab: Repo) -> None:
    lab.write("train", runtime="100 s")
    lab.apply()
    empty = lab("logs", "train")
    assert empty.exit_code == 0 and empty.stdout == ""
    assert "is QUEUED and has no log yet" in empty.stderr
    lab.emulator.advance(TO_RUNNING + 50)
    result = lab("logs", "train")
    assert result.exit_code == 0, result
    assert result.stdout.splitlines() == [f"[gpulab-emulator] progress {p}% ({p} s of 100 s)" for p in range(10, 51, 10)]


def test_logs_of_a_name_the_set_does_not_have(lab: Repo) -> None:
    lab.write("train")
    lab.apply()
    result = lab("logs", "trian")
    assert result.exit_code == 1
    assert "no job of set 'lab' matches 'trian'" in result.stderr and "gpulab-apply status" in result.stderr
    other_set = lab.cli("logs", "train", *lab.connection[:2], "--set", "other", "--project", "local")
    assert other_set.exit_code == 1 and "1 job(s) have that name, of another set (pass --set to name it)" in other_set.stderr


@pytest.mark.slow
@pytest.mark.parametrize("version", ["3.1", "4.0"])
def test_logs_follow_prints_until_the_job_ends(tmp_path: Path, fast_emulator: RunningEmulator, cli: RunCli,
                                               monkeypatch: pytest.MonkeyPatch, version: str) -> None:
    monkeypatch.chdir(tmp_path)
    fast_lab = Repo(tmp_path, fast_emulator, cli, version=version)
    fast_lab.write("train", runtime="100 s", exit_code=0)
    fast_lab.apply()
    result = fast_lab("logs", "train", "--follow", "--interval", "0.02")
    assert result.exit_code == 0, result
    progress = [line for line in result.stdout.splitlines() if "progress" in line]
    assert progress == [f"[gpulab-emulator] progress {p}% ({p} s of 100 s)" for p in range(10, 101, 10)]
    assert result.stdout.endswith("[gpulab-emulator] exit code 0\n")
    assert "train ended: FINISHED" in result.stderr


@pytest.mark.slow
def test_logs_follow_carries_on_into_a_halted_jobs_restart(fast_lab: Repo) -> None:
    fast_lab.write("train", runtime="100 s", halt_after="40 s", restartable=True)
    fast_lab.apply()
    result = fast_lab("logs", "train", "--follow", "--interval", "0.02")
    assert result.exit_code == 0, result
    assert "was halted; GPULab restarted it as" in result.stderr
    assert "[gpulab-emulator] halted" in result.stdout
    assert result.stdout.rstrip().endswith("exit code 0")
