"""``gpulab-apply wait`` and ``apply --wait`` end to end, against the emulator's fast or manual clock."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gpulab_apply.emulator import EmulatorConfig, RunningEmulator, serve_in_thread
from tests.conftest import RunCli
from tests.fixtures.terminal import Terminal
from tests.harness import TO_RUNNING, Repo

FAST = ("--interval", "0.02")


@pytest.fixture
def lab(tmp_path: Path, emulator: RunningEmulator, cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> Repo:
    monkeypatch.chdir(tmp_path)
    return Repo(tmp_path, emulator, cli)


@pytest.fixture
def fast_lab(tmp_path: Path, cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> Iterator[Repo]:
    """Simulated time 200 times faster than wall time: a job runs after 75 ms, a 100 s job ends after 0.6 s."""
    monkeypatch.chdir(tmp_path)
    with serve_in_thread(config=EmulatorConfig(speed=200)) as running:
        yield Repo(tmp_path, running, cli)


def test_apply_wait_returns_once_the_submitted_jobs_run(fast_lab: Repo) -> None:
    fast_lab.write("a", runtime="1 hour")
    fast_lab.write("b", runtime="1 hour")
    result = fast_lab("apply", "jobs.d", "--yes", "--wait", *FAST)
    assert result.exit_code == 0, result
    assert "Apply complete: 2 created" in result.stdout
    assert "gpulab-apply: all 2 job(s) running" in result.stderr
    # not a terminal: one line per job when first seen, one per change
    assert "gpulab-apply: Waiting for 2 job(s) to be running" in result.stderr
    # (each job once; which of the two GPULab starts first is its scheduler's business)
    assert sorted(line.split("] ")[1] for line in result.stderr.splitlines() if line.startswith("gpulab-apply: [")
                  and line.endswith(": RUNNING")) == ["a: RUNNING", "b: RUNNING"]


def test_apply_wait_for_done_fails_when_a_job_fails(fast_lab: Repo) -> None:
    fast_lab.write("good", runtime="60 s")
    fast_lab.write("bad", runtime="30 s", exit_code=2)
    result = fast_lab("apply", "jobs.d", "--yes", "--wait", "--wait-for", "done", *FAST)
    assert result.exit_code == 1, result
    assert "Error: 1 of 2 job(s) failed: bad (FAILED)" in result.stderr
    assert "gpulab-apply logs NAME" in result.stderr
    assert "good  FINISHED" in result.stderr


def test_apply_wait_with_json_keeps_stdout_one_document(fast_lab: Repo) -> None:
    fast_lab.write("a", runtime="1 hour")
    result = fast_lab("apply", "jobs.d", "--yes", "--wait", "--format", "json", *FAST)
    assert result.exit_code == 0, result
    assert json.loads(result.stdout)["summary"]["created"] == 1


def test_apply_wait_waits_for_nothing_when_nothing_was_submitted(lab: Repo) -> None:
    lab.write("a")
    lab.apply()
    result = lab("apply", "jobs.d", "--yes", "--wait", "--wait-timeout", "5")
    assert result.exit_code == 0 and "Waiting" not in result.stderr, result


@pytest.mark.parametrize("version", ["3.1", "4.0"])
def test_wait_for_named_jobs_and_for_every_job_of_the_files(fast_lab: Repo, version: str) -> None:
    fast_lab = Repo(fast_lab.jobs.parent, fast_lab.emulator, fast_lab.cli, version=version)
    fast_lab.write("a", runtime="20 s")
    fast_lab.write("b", runtime="1 hour")
    fast_lab.write("never-applied")
    fast_lab("apply", "jobs.d", "--yes", "--target", "[ab]")
    done = fast_lab("wait", "a", "--wait-for", "done", *FAST)
    assert done.exit_code == 0, done
    assert done.stdout.split()[:2] == ["a", "FINISHED"]
    every = fast_lab("wait", *FAST)  # a and b: never-applied has no job to wait for
    assert every.exit_code == 0, every
    assert [line.split()[:2] for line in every.stdout.splitlines()] == [["a", "FINISHED"], ["b", "RUNNING"]]


def test_wait_times_out_with_exit_4(lab: Repo) -> None:
    lab.write("a")
    lab.apply()  # the manual clock never moves: the job stays queued
    started = time.monotonic()
    result = lab("wait", "a", "--wait-timeout", "0.3", "--interval", "0.05")
    assert result.exit_code == 4, result
    assert 0.3 <= time.monotonic() - started < 60  # waited the timeout, and did not hang
    assert "Error: 1 of 1 job(s) not running after 0:00: a (QUEUED)" in result.stderr
    assert "gpulab-apply status" in result.stderr
    lab.emulator.advance(TO_RUNNING)
    assert lab("wait", "a", "--wait-timeout", "1m").exit_code == 0


def test_wait_for_an_unknown_name_or_a_bad_duration(lab: Repo) -> None:
    lab.write("a")
    lab.apply()
    unknown = lab("wait", "a", "nope")
    assert unknown.exit_code == 1 and "no job of set 'lab' matches 'nope'" in unknown.stderr
    bad = lab("wait", "a", "--wait-timeout", "soon")
    assert bad.exit_code == 64 and "'soon' is not a duration" in bad.stderr


def test_on_a_terminal_the_wait_redraws_one_block(lab: Repo) -> None:
    lab.write("a")
    lab.apply()
    advanced = False

    def let_it_run_once_drawn_twice(seen: bytes) -> None:
        nonlocal advanced
        if not advanced and seen.count(b"1 waiting") >= 2:  # drawn twice while queued: now let it run
            lab.emulator.advance(TO_RUNNING)
            advanced = True

    with Terminal("wait", "a", "--interval", "0.05", *lab.connection) as terminal:
        terminal.read_to_end(step=let_it_run_once_drawn_twice)
    text = terminal.text
    assert terminal.returncode == 0, text
    assert "Waiting for 1 job(s) to be running: 0 running, 1 waiting, 0 failed [0:00]\r\n  a  QUEUED" in text
    assert "\x1b[2F\x1b[J" in text  # the block (summary + one job) is erased and drawn again
    assert "1 running, 0 waiting" in text and "gpulab-apply: all 1 job(s) running" in text
    assert "gpulab-apply: [" not in text  # no change lines on a terminal


def test_names_are_printed_escaped(fast_lab: Repo) -> None:
    (fast_lab.jobs / "x.yaml").write_text('name: "bad\\e[2Jname"\nrequest:\n  resources: {cpus: 1, gpus: 0, cpuMemoryGb: 2}\n'
                                          "  docker:\n    image: debian:stable\n")
    fast_lab.apply()
    result = fast_lab("wait", *FAST)
    assert result.exit_code == 0, result
    assert "bad\\x1b[2Jname" in result.stdout and "bad\\x1b[2Jname: RUNNING" in result.stderr
    assert "\x1b" not in result.stdout + result.stderr
    missing = fast_lab("logs", "no\x1bpe")
    assert "matches 'no\\x1bpe'" in missing.stderr and "\x1b" not in missing.stderr


@pytest.mark.slow
def test_a_big_wait_logs_counts_not_a_line_per_job(fast_lab: Repo) -> None:
    for index in range(25):
        fast_lab.write(f"sweep-{index}", runtime="1 hour")
    fast_lab.write("broken", runtime="1 s", exit_code=1)
    fast_lab.apply()
    result = fast_lab("wait", "--wait-for", "done", "--wait-timeout", "1", *FAST)
    assert result.exit_code == 1, result  # broken failed; the others still run when the time is up
    lines = result.stderr.splitlines()
    assert lines[0].startswith("gpulab-apply: Waiting for 26 job(s) to be done: 0 done, ")
    assert [line for line in lines if line.startswith("gpulab-apply: [")] == [
        next(line for line in lines if line.endswith("] broken: FAILED"))]
    assert len(lines) < 15
    assert len(result.stdout.splitlines()) == 26  # the result still names every job


@pytest.mark.slow
def test_a_job_that_fails_before_apply_verifies_is_created_and_wait_reports_the_failure(fast_lab: Repo) -> None:
    """A job can end within seconds (a bad image, an interactive job without room): apply created it, and
    its verification listing must not call it missing; wait --wait-for done names the failure."""
    fast_lab.write("quick-fail", runtime="1 s", exit_code=3)
    fast_lab.emulator.faults.set("GET jobs", latency=0.5)  # 100 simulated seconds pass before each listing
    result = fast_lab("apply", "jobs.d", "--yes", "--wait", "--wait-for", "done", *FAST)
    assert "missing from the listing" not in result.stdout, result
    assert "Apply complete: 1 created" in result.stdout, result
    assert result.exit_code == 1 and "1 of 1 job(s) failed: quick-fail (FAILED)" in result.stderr, result


def test_wait_from_a_subdirectory_finds_the_repositorys_job_files(fast_lab: Repo, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "docs").mkdir()
    fast_lab.write("a", runtime="10 s")
    fast_lab.apply()
    monkeypatch.chdir(tmp_path / "docs")
    done = fast_lab("wait", "--wait-for", "done", *FAST)
    assert done.exit_code == 0, done
    assert done.stdout.split()[:2] == ["a", "FINISHED"]
    running = fast_lab("wait", *FAST)
    assert "all 1 job(s) running, 1 of them already done" in running.stderr
    monkeypatch.chdir(tmp_path.parent)
    nowhere = fast_lab("wait", *FAST)
    assert nowhere.exit_code == 1 and "no valid job files in jobs.d" in nowhere.stderr
