"""Workflows through the real CLI against the emulator (docs/workflows.md): needs, the cascade, retries,
max-parallel, fail-fast, `apply --watch`, and racing loops.

The loop tests run the emulator on a fast clock (simulated seconds pass ``SPEED`` times faster), so a pipeline of
minute-long jobs ends in a second or two; what they assert is read afterwards from GPULab's own event times, so
a slow machine only makes them take more rounds, never fail.
"""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from gpulab_apply.cli import run
from gpulab_apply.emulator import EmulatorConfig, RunningEmulator, serve_in_thread
from gpulab_apply.emulator.config import default_nodes
from gpulab_apply.gpulab.client import GpulabClient
from gpulab_apply.model import JobSpec, RemoteJob, parse_timestamp
from gpulab_apply.problems import Location
from gpulab_apply.reconcile.marker import Marker, parse_marker, spec_hash
from gpulab_apply.reconcile.planner import desired_spec_hash
from gpulab_apply.reconcile.workflow import spec_hashes
from tests.conftest import RunCli

PROJECT = "urn:publicid:IDN+ilabt.imec.be+project+local"
#: simulated seconds per real second: a 60 s job with 15 s of scheduling takes 75 ms
SPEED = 1000.0


def job(name: str, *, runtime: str = "60 s", options: str = "", env: str = "", command: str = "run.sh") -> str:
    tool = f"x-gpulab-apply:\n{options}" if options else ""
    return (f"name: {name}\nrequest:\n  resources: {{cpus: 1, gpus: 1, cpuMemoryGb: 4}}\n"
            f"  docker:\n    image: debian:stable\n    command: \"{command}\"\n"
            f"    environment: {{GPULAB_EMULATOR_RUNTIME: '{runtime}'{env}}}\n"
            "  scheduling: {maxDuration: 1 hour}\n" + tool)


PIPELINE = "---\n".join([
    job("prepare"),
    job("train", command="train.sh ${{ matrix.lr }} ${{ matrix.seed }}",
        options="  needs: [prepare]\n  matrix:\n    lr: [1e-4, 3e-4, 1e-3]\n    seed: [0, 1]\n"),
    job("evaluate", options="  needs: [train]\n"),
])
TRAIN = [f"train-lr{lr}-seed{seed}" for lr in ("1e-4", "3e-4", "1e-3") for seed in (0, 1)]


@pytest.fixture
def fast() -> Iterator[RunningEmulator]:
    with serve_in_thread(config=EmulatorConfig(clock="real", speed=SPEED, nodes=default_nodes()),
                         fault_seed=0) as running:
        yield running


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jobs.d").mkdir()
    return tmp_path / "jobs.d"


def connection(emulator: RunningEmulator, version: str = "4.0") -> list[str]:
    return ["--endpoint", emulator.api_root(version), "--set", "lab", "--project", "local"]


def watch(cli: RunCli, emulator: RunningEmulator, *extra: str, version: str = "4.0") -> tuple[int, str]:
    result = cli("apply", "jobs.d", "--watch", "--yes", "--interval", "0.02", *extra, *connection(emulator, version))
    return result.exit_code, result.stdout + result.stderr


def jobs(emulator: RunningEmulator) -> list[RemoteJob]:
    with GpulabClient(emulator.api_root("4.0"), api_version="4.0") as client:
        return sorted(client.list_jobs(project_urn=PROJECT), key=lambda j: (j.created or datetime.min, j.uuid))


def event(job: RemoteJob, key: str) -> datetime:
    moment = parse_timestamp(job.raw["state"]["eventTimes"].get(key))
    assert moment is not None, (job.name, key, job.raw["state"]["eventTimes"])
    return moment


def ended(job: RemoteJob) -> datetime:
    times = job.raw["state"]["eventTimes"]
    return min(t for key in ("FINISHED", "FAILED", "CANCELLED") if (t := parse_timestamp(times.get(key))))


def most_active(runs: list[RemoteJob]) -> int:
    """The most of ``runs`` queued or running at once, from GPULab's event times (every moment, not a sample)."""
    edges = sorted([(event(r, "created"), 1) for r in runs] + [(ended(r), -1) for r in runs],
                   key=lambda edge: (edge[0], edge[1]))
    most = active = 0
    for _, step in edges:
        active += step
        most = max(most, active)
    return most


def test_a_pipeline_reaches_its_end_in_order_with_one_watch(cli: RunCli, repo: Path, fast: RunningEmulator) -> None:
    (repo / "pipeline.yaml").write_text(PIPELINE)
    code, output = watch(cli, fast)
    assert code == 0, output
    assert "settled: every job has ended (8 FINISHED)" in output
    runs = jobs(fast)
    assert Counter(j.name for j in runs) == Counter(["prepare", *TRAIN, "evaluate"])  # one run each
    by_name = {j.name: j for j in runs}
    assert all(j.status.name == "FINISHED" for j in runs)
    for name in TRAIN:  # nothing is submitted before what it needs FINISHED
        assert event(by_name[name], "created") >= event(by_name["prepare"], "FINISHED")
    assert event(by_name["evaluate"], "created") >= max(event(by_name[n], "FINISHED") for n in TRAIN)
    # once settled, nothing is left: plan says so
    assert cli("plan", "jobs.d", "--detailed-exitcode", *connection(fast)).exit_code == 0


def test_changing_prepare_plans_the_cascade_and_carries_it_out(cli: RunCli, repo: Path,
                                                                fast: RunningEmulator) -> None:
    (repo / "pipeline.yaml").write_text(PIPELINE)
    assert watch(cli, fast)[0] == 0
    (repo / "pipeline.yaml").write_text(PIPELINE.replace("name: prepare\n", "name: prepare\n", 1).replace(
        "command: \"run.sh\"", "command: \"run.sh --v2\"", 1))
    plan = cli("plan", "jobs.d", "--format", "json", *connection(fast))
    assert plan.exit_code == 0, plan
    document = json.loads(plan.stdout)
    entries = {e["name"]: e for e in document["entries"]}
    assert (entries["prepare"]["action"], entries["prepare"]["reason"]) == ("create", "changed")
    for name in [*TRAIN, "evaluate"]:  # every dependant is out of date and waits for the new prepare
        assert (entries[name]["action"], entries[name]["then"]) == ("wait", "create"), entries[name]
    assert entries["train-lr1e-4-seed0"]["waitsFor"] == [{"name": "prepare", "state": "to be submitted"}]
    assert document["summary"]["waiting"] == 7
    assert document["gpuHours"]["waiting"] == 7.0  # 7 jobs x 1 GPU x 1 hour: the cascade's GPU-hours
    text = cli("plan", "jobs.d", *connection(fast)).stdout
    assert "> train-lr1e-4-seed0 (out of date; waits for prepare: to be submitted)" in text
    assert "Waiting jobs: 7 GPU-hours more when submitted (7 job(s))" in text

    code, output = watch(cli, fast)
    assert code == 0, output
    runs = jobs(fast)
    assert Counter(j.name for j in runs) == Counter(["prepare", *TRAIN, "evaluate"] * 2)
    newest = {j.name: j for j in runs}  # sorted oldest first: the last of a name is its newest
    for name in TRAIN:
        assert event(newest[name], "created") >= event(newest["prepare"], "FINISHED")
    assert event(newest["evaluate"], "created") >= max(event(newest[n], "FINISHED") for n in TRAIN)


def test_a_job_that_fails_twice_with_two_retries_runs_three_times(cli: RunCli, repo: Path,
                                                                  fast: RunningEmulator) -> None:
    (repo / "flaky.yaml").write_text(job("flaky", options="  retries: 2\n", env=", GPULAB_EMULATOR_FAIL_RUNS: 2"))
    code, output = watch(cli, fast)
    assert code == 0, output
    runs = [j for j in jobs(fast) if j.name == "flaky"]
    assert [j.status.name for j in runs] == ["FAILED", "FAILED", "FINISHED"]
    markers = [parse_marker(j.description) for j in runs]
    assert [m.attempt for m in markers if m] == [1, 2, 3]
    assert "v2 set=lab" in str(runs[0].description) and "v3 set=lab" in str(runs[1].description)
    assert "flaky: create retry" in output


def test_a_job_that_keeps_failing_stops_after_its_retries_and_is_reported_failed(cli: RunCli, repo: Path,
                                                                                 fast: RunningEmulator) -> None:
    (repo / "broken.yaml").write_text(job("broken", options="  retries: 2\n", env=", GPULAB_EMULATOR_FAIL_RUNS: 9"))
    code, output = watch(cli, fast)
    assert code == 1, output
    assert "1 job(s) did not finish: broken" in output
    assert [j.status.name for j in jobs(fast)] == ["FAILED"] * 3
    for fmt, needle in [("text", "every retry used (retries: 2)"), ("json", '"reason": "exhausted"'),
                        ("markdown", "every retry used"), ("github", "every retry used")]:
        plan = cli("plan", "jobs.d", "--format", fmt, *connection(fast))
        assert plan.exit_code == 0 and needle in plan.stdout, (fmt, plan)
    assert watch(cli, fast)[0] == 1 and len(jobs(fast)) == 3  # a later apply retries no more


def test_retry_plan_line_in_every_format(cli: RunCli, repo: Path, emulator: RunningEmulator) -> None:
    """``+ train (retry 1 of 3 after FAILED)``, with its GPU-hours, on the manual clock."""
    (repo / "train.yaml").write_text(job("train", options="  retries: 3\n", env=", GPULAB_EMULATOR_EXIT_CODE: 1"))
    assert cli("apply", "jobs.d", "--yes", *connection(emulator)).exit_code == 0
    emulator.advance(200)
    expected = {"text": "+ train (retry 1 of 3 after FAILED)", "json": '"reason": "retry"',
                "markdown": "retry 1 of 3 after FAILED", "github": "+ train: retry 1 of 3 after FAILED"}
    for fmt, needle in expected.items():
        plan = cli("plan", "jobs.d", "--format", fmt, *connection(emulator))
        assert needle in plan.stdout, (fmt, plan)
    assert "Cost: 1 GPU-hours requested" in cli("plan", "jobs.d", *connection(emulator)).stdout


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "github"])
def test_waiting_and_blocked_jobs_say_on_what_in_every_format(cli: RunCli, repo: Path, emulator: RunningEmulator,
                                                              fmt: str) -> None:
    (repo / "prep.yaml").write_text(job("prep", runtime="100 s", env=", GPULAB_EMULATOR_EXIT_CODE: 1"))
    (repo / "train.yaml").write_text(job("train", options="  needs: [prep]\n"))
    (repo / "summary.yaml").write_text(job("summary", options="  needs: [prep]\n  when: always\n"))
    assert cli("apply", "jobs.d", "--yes", *connection(emulator)).exit_code == 0
    emulator.advance(20)  # prep RUNNING
    waiting = cli("plan", "jobs.d", "--format", fmt, *connection(emulator)).stdout
    running, failed = ('{"name": "prep", "state": "RUNNING"}', '{"name": "prep", "state": "FAILED"}') \
        if fmt == "json" else ("waits for prep: RUNNING", "prep: FAILED")
    assert running in flat(waiting, fmt), waiting
    # jobs still to be submitted are changes to come: 2, as for any change
    assert cli("plan", "jobs.d", "--detailed-exitcode", *connection(emulator)).exit_code == 2
    assert "train" in waiting and "summary" in waiting
    emulator.advance(200)  # prep FAILED: train is blocked, summary (when: always) goes
    blocked = cli("plan", "jobs.d", "--format", fmt, *connection(emulator)).stdout
    assert failed in flat(blocked, fmt), blocked
    assert ('"reason": "blocked"' if fmt == "json" else "blocked: would create, but prep: FAILED") in blocked
    summary_line = {"text": "+ summary (new)", "json": '"name": "summary"', "markdown": "summary",
                    "github": "+ summary: new"}[fmt]
    assert summary_line in blocked


def flat(output: str, fmt: str) -> str:
    """JSON re-dumped on one line (so a needle can span keys); other formats as they are."""
    return json.dumps(json.loads(output)) if fmt == "json" else output


def test_max_parallel_never_has_more_members_active(cli: RunCli, repo: Path, fast: RunningEmulator) -> None:
    (repo / "sweep.yaml").write_text(job("train", command="t ${{ matrix.i }}",
                                         options="  max-parallel: 2\n  matrix:\n    i: [1, 2, 3, 4, 5, 6]\n"))
    code, output = watch(cli, fast)
    assert code == 0, output
    runs = jobs(fast)
    assert len(runs) == 6 and all(j.status.name == "FINISHED" for j in runs)
    assert most_active(runs) == 2


def test_max_active_of_the_set_caps_every_job(cli: RunCli, repo: Path, fast: RunningEmulator) -> None:
    for index in range(5):
        (repo / f"j{index}.yaml").write_text(job(f"j{index}"))
    (repo.parent / "gpulab-apply.yaml").write_text("max-active: 3\n")
    code, output = watch(cli, fast)
    assert code == 0, output
    assert most_active(jobs(fast)) == 3


def test_fail_fast_stops_submitting_members(cli: RunCli, repo: Path, fast: RunningEmulator) -> None:
    members = "".join(f"      - {{x: {x}, code: {1 if x == 'a' else 0}}}\n" for x in "abcd")
    (repo / "sweep.yaml").write_text(job(
        "train", command="t ${{ matrix.x }}", env=", GPULAB_EMULATOR_EXIT_CODE: '${{ matrix.code }}'",
        options=f"  max-parallel: 1\n  fail-fast: true\n  matrix:\n    x: [a, b, c, d]\n    include:\n{members}"))
    code, output = watch(cli, fast)
    assert code == 1, output
    runs = jobs(fast)
    assert [(j.name, j.status.name) for j in runs] == [("train-xa", "FAILED")]
    plan = cli("plan", "jobs.d", *connection(fast)).stdout
    assert "x train-xb (blocked: would create, but train-xa: FAILED (fail-fast)" in plan


def test_needs_problems_are_located(cli: RunCli, repo: Path) -> None:
    (repo / "a.yaml").write_text(job("a", options="  needs: [b]\n") + "---\n" + job("b", options="  needs: [a]\n"))
    (repo / "c.yaml").write_text(job("c", options="  needs: [nope, other-set/x, c]\n"))
    (repo / "d.yaml").write_text(job("d", options="  max-parallel: 2\n"))
    result = cli("validate", "jobs.d")
    assert result.exit_code == 1
    out = result.stdout
    assert "jobs.d/a.yaml:10:11: error: x-gpulab-apply.needs[0]: needs: a cycle: a -> b -> a" in out, out
    assert "jobs.d/c.yaml:10:11: error: x-gpulab-apply.needs[0]: needs: no job or sweep named 'nope'" in out
    assert "jobs.d/c.yaml:10:17: error: x-gpulab-apply.needs[1]: needs: 'other-set/x' names a job of another set" in out
    assert "x-gpulab-apply.needs[2]: needs: 'c' is this job itself" in out
    assert "jobs.d/d.yaml:10:3: error: x-gpulab-apply.max-parallel: max-parallel applies to a sweep" in out


def test_needs_take_matrix_expressions(cli: RunCli, repo: Path, emulator: RunningEmulator) -> None:
    (repo / "p.yaml").write_text(
        job("prep", command="p ${{ matrix.d }}", options="  matrix:\n    d: [x, y]\n") + "---\n"
        + job("train-${{ matrix.d }}", command="t ${{ matrix.d }}",
              options="  needs: ['prep-d${{ matrix.d }}']\n  matrix:\n    d: [x, y]\n"))
    plan = cli("plan", "jobs.d", *connection(emulator))
    assert plan.exit_code == 0, plan
    assert "> train-x (waits for prep-dx: to be submitted)" in plan.stdout
    assert "> train-y (waits for prep-dy: to be submitted)" in plan.stdout


def test_jobs_without_needs_keep_their_spec_hash() -> None:
    """Upgrades never restart work: a job with no needs hashes exactly as before workflows existed."""
    body = {"name": "a", "request": {"docker": {"image": "x"}}}
    plain = JobSpec(name="a", job=body, location=Location("a.yaml"), rerun=3)
    assert spec_hashes([plain], None)["a"].current == spec_hash(body, rerun=3) == desired_spec_hash(plain, None)


def test_the_v3_marker_carries_the_attempt_and_old_markers_still_read() -> None:
    retry = Marker(set_name="s", spec="0123456789abcdef", run_id="r1", attempt=2)
    assert str(retry) == "[gpulab-apply v3 set=s spec=0123456789abcdef run=r1 attempt=2]"
    assert parse_marker(str(retry)) == Marker(set_name="s", spec="0123456789abcdef", run_id="r1", attempt=2,
                                              version=3)
    first = Marker(set_name="s", spec="0123456789abcdef", run_id="r1", protect=True)
    assert str(first) == "[gpulab-apply v2 set=s spec=0123456789abcdef run=r1 protect]"  # unchanged
    assert parse_marker("[gpulab-apply set=s spec=0123456789abcdef run=r1]") == Marker(
        set_name="s", spec="0123456789abcdef", run_id="r1", version=1)
    assert parse_marker("[gpulab-apply v2 set=s spec=0123456789abcdef run=r1 attempt=2]") is None


@pytest.mark.slow
@pytest.mark.parametrize("version", ["3.1", "4.0"])
def test_four_racing_watches_end_with_no_duplicate_no_extra_retry_nothing_lost(
        version: str, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a slower clock than the other tests: a racer's duplicate is cancelled by the racer that verifies last,
    # which takes milliseconds; the clock leaves it the 15 s GPULab needs to start a job (0.1 s here) and the
    # 120 s the job runs (1 s), as real GPULab leaves minutes
    (repo / "pipeline.yaml").write_text(PIPELINE.replace("'60 s'", "'120 s'"))
    (repo / "flaky.yaml").write_text(job("flaky", runtime="120 s", options="  retries: 3\n",
                                         env=", GPULAB_EMULATOR_FAIL_RUNS: 1"))
    config = EmulatorConfig(clock="real", speed=120.0, nodes=default_nodes())
    with serve_in_thread(config=config, fault_seed=0) as emulator:
        codes: list[int] = []
        args = ["apply", "jobs.d", "--watch", "--yes", "--interval", "0.05", *connection(emulator, version)]
        racers = [threading.Thread(target=lambda: codes.append(run(args))) for _ in range(4)]
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join()
        output = capsys.readouterr()
        assert codes == [0] * 4, output.out[-3000:] + output.err[-2000:]
        runs = jobs(emulator)
    kept = [j for j in runs if j.status.name != "CANCELLED"]  # cancelled ones are racers' duplicates
    assert Counter(j.name for j in kept if j.status.name == "FINISHED") == Counter(
        ["prepare", *TRAIN, "evaluate", "flaky"])  # nothing lost, nothing run twice
    assert not [j for j in runs if j.status.is_active]
    flaky = [parse_marker(j.description) for j in kept if j.name == "flaky"]
    assert sorted(m.attempt for m in flaky if m) == [1, 2]  # failed once, retried once: no extra retry
    assert len(runs) > len(kept)  # they did race


def test_sigterm_stops_a_watch_cleanly(repo: Path, emulator: RunningEmulator) -> None:
    """A lab server's loop (--forever) stops on SIGTERM between rounds: exit 143, no traceback, jobs kept."""
    (repo / "train.yaml").write_text(job("train"))
    command = [sys.executable, "-m", "gpulab_apply", "apply", "jobs.d", "--watch", "--forever", "--yes",
               "--interval", "0.05", *connection(emulator)]
    env = {key: value for key, value in os.environ.items() if not key.startswith(("GPULAB", "GITHUB"))}
    process = subprocess.Popen(command, cwd=repo.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 60
    while not jobs(emulator):  # the first round submitted train; the loop goes on (--forever)
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "apply --watch submitted nothing within a minute"
        time.sleep(0.01)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, (stdout, stderr)
    assert "Traceback" not in stdout + stderr
    assert "apply --watch was stopped by SIGTERM" in stderr
    assert "[round 1] train: created job" in stdout
    assert [j.status.name for j in jobs(emulator)] == ["QUEUED"]  # stopping the loop cancels nothing


@pytest.mark.parametrize("version", [1, 2])
def test_a_failed_job_of_an_older_marker_version_is_retried_once_as_attempt_2(
        cli: RunCli, repo: Path, emulator: RunningEmulator, version: int) -> None:
    """Upgrading keeps the count: a FAILED run with a v1 or v2 marker (before retries existed) is attempt 1."""
    text = job("train", options="  retries: 1\n")
    (repo / "train.yaml").write_text(text)
    rendered = json.loads(cli("render", "--format", "json").stdout)["jobs"][0]["job"]
    body = {**rendered, "owner": {"projectUrn": PROJECT}}
    spec = spec_hash(body if version == 1 else rendered, version=version)
    marker = Marker(set_name="lab", spec=spec, run_id="20260101T000000Z-abcdef", version=version)
    emulator.emulator.seed([{**body, "description": str(marker)}], status="FAILED", project_urn=PROJECT)
    plan = cli("plan", "jobs.d", *connection(emulator))
    assert "+ train (retry 1 of 1 after FAILED)" in plan.stdout, plan
    assert cli("apply", "jobs.d", "--yes", *connection(emulator)).exit_code == 0
    markers = [parse_marker(j.description) for j in jobs(emulator)]
    assert sorted((m.attempt, m.version) for m in markers if m) == [(1, version), (2, 3)]


def test_the_gpu_hours_guard_counts_the_waiting_cascade(cli: RunCli, repo: Path, emulator: RunningEmulator) -> None:
    """prep alone asks 1 GPU-hour, the pipeline 8: a 2 GPU-hour limit refuses it before anything is submitted."""
    (repo / "pipeline.yaml").write_text(PIPELINE)
    result = cli("apply", "jobs.d", "--watch", "--yes", "--max-gpu-hours", "2", *connection(emulator))
    assert result.exit_code == 3, result
    assert "the plan requests 8 GPU-hours, more than --max-gpu-hours 2" in result.stderr
    assert jobs(emulator) == []
    assert cli("apply", "jobs.d", "--yes", "--max-gpu-hours", "8", *connection(emulator)).exit_code == 0


def test_on_a_terminal_a_live_line_says_where_the_jobs_are(repo: Path, fast: RunningEmulator) -> None:
    (repo / "pipeline.yaml").write_text(PIPELINE)
    command = [sys.executable, "-m", "gpulab_apply", "apply", "jobs.d", "--watch", "--yes", "--interval", "0.02",
               *connection(fast)]
    env = {key: value for key, value in os.environ.items() if not key.startswith(("GPULAB", "GITHUB"))}
    leader, follower = pty.openpty()
    process = subprocess.Popen(command, cwd=repo.parent, env=env, stdout=follower, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process ended
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    screen = b"".join(chunks).decode()
    # the live line ends each round that goes on, below that round's lines (or alone, in a round without any), and
    # the next round erases it; which rounds have lines depends on how fast the machine is
    assert re.search(r"(?:\r\x1b\[K|\n)\[round \d+\] [^\r\n]*\d+ FINISHED[^\r\n]*; next round in 0\.02 s\r\x1b\[K",
                     screen), screen[-2000:]
    assert "settled: every job has ended (8 FINISHED)" in screen


def test_a_retry_waits_for_its_delay_on_gpulabs_clock(cli: RunCli, repo: Path, emulator: RunningEmulator) -> None:
    (repo / "train.yaml").write_text(job("train", runtime="100 s", options="  retries: 1\n  retry-delay: 10 min\n",
                                         env=", GPULAB_EMULATOR_EXIT_CODE: 1"))
    assert cli("apply", "jobs.d", "--yes", *connection(emulator)).exit_code == 0
    emulator.advance(120)  # FAILED about 5 s ago (15 s to start, 100 s of work)
    waiting = cli("plan", "jobs.d", *connection(emulator)).stdout
    assert re.search(r"> train \(retry 1 of 1 after FAILED, retry delay: in 9 min \d+ s\)", waiting), waiting
    assert cli("apply", "jobs.d", "--yes", *connection(emulator)).exit_code == 0
    assert len(jobs(emulator)) == 1  # nothing submitted before the delay
    emulator.advance(600)
    assert "+ train (retry 1 of 1 after FAILED)" in cli("plan", "jobs.d", *connection(emulator)).stdout


@pytest.mark.parametrize("path", ["jobs.d/evaluate.yaml", "jobs.d/stages", "jobs.d/stages/../evaluate.yaml"])
def test_a_job_whose_needs_are_outside_the_paths_given_is_the_same_job(cli: RunCli, repo: Path,
                                                                      emulator: RunningEmulator, path: str) -> None:
    """Its needs name jobs of the whole job root, and their specs enter its spec hash, whichever path is given
    (docs/plan-apply.md#workspace): validate finds no unknown need, and plan decides it as the whole plan does."""
    (repo / "stages").mkdir()
    (repo / "stages" / "prepare.yaml").write_text(job("prepare"))
    (repo / "stages" / "train.yaml").write_text(job("train", options="  needs: [prepare]\n"))
    (repo / "evaluate.yaml").write_text(job("evaluate", options="  needs: [train]\n"))
    checked = cli("validate", path)
    assert checked.exit_code == 0, checked

    def decisions(*paths: str) -> dict[str, tuple[str, str, str]]:
        result = cli("plan", *paths, "--format", "json", *connection(emulator))
        assert result.exit_code == 0, result
        return {entry["name"]: (entry["spec"], entry["action"], entry["reason"])
                for entry in json.loads(result.stdout)["entries"]}

    whole, narrowed = decisions("jobs.d"), decisions(path)
    assert narrowed and all(whole[name] == decision for name, decision in narrowed.items())
    assert cli("apply", "jobs.d", "--yes", *connection(emulator)).exit_code == 0
    assert all(decision[1] in ("none", "wait") for decision in decisions(path).values())
