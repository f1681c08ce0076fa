"""The listing read ahead while a large set is checked in worker processes (docs/plan-apply.md#speed).

What a user sees must not depend on it: the files' problems come first whatever the server does, a failure met
ahead is the same error in the same place, retry notices and the password question wait for valid files.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gpulab_apply.app.planning import list_remote, plan_jobs
from gpulab_apply.app.prefetch import ListingAhead
from gpulab_apply.app.status import status_of
from gpulab_apply.emulator import Fault, RunningEmulator
from gpulab_apply.errors import ConfigError, InvalidJobsError
from gpulab_apply.jobfiles.validation import PARALLEL_MIN_FILES, validate_paths
from gpulab_apply.settings import Settings, resolve_settings
from tests.conftest import RunCli
from tests.fixtures.certificates import MakeLoginPem
from tests.fixtures.jobs import job_yaml
from tests.hostile_gpulab import CUT, EVIL_STATUS, NOT_JSON, TRICKLE, hostile

#: the discard port: nothing listens there on loopback
UNREACHABLE = "http://127.0.0.1:9/api/gpulab/v3.1/"
#: enough files to be checked in worker processes
LARGE = PARALLEL_MIN_FILES + 2


#: large sets are checked in worker processes only on Linux with two usable cores or more; elsewhere nothing is read
#: ahead (and what the user sees is the same, which the other tests check everywhere)
needs_workers = pytest.mark.skipif(not sys.platform.startswith("linux") or len(os.sched_getaffinity(0)) < 2,
                                   reason="files are checked in this process here: nothing is read ahead")


def matrix(*axes: list[str]) -> list[Any]:
    """Every combination of the axes; the first in the fast tier, the others slow (a large set costs a quarter of a
    second per case: the edit-test loop keeps one case of each property, CI runs them all)."""
    combinations = list(itertools.product(*axes))
    return [pytest.param(*case, marks=() if index == 0 else pytest.mark.slow) for index, case in enumerate(combinations)]


def job_root(tmp_path: Path, count: int, *, invalid: bool = False) -> Path:
    jobs = tmp_path / "jobs.d"
    jobs.mkdir()
    for index in range(count):
        (jobs / f"j{index:03d}.yaml").write_text(job_yaml(f"j{index:03d}", gpus=-1 if invalid and index == 7 else 1),
                                                 encoding="utf-8")
    (tmp_path / "gpulab-apply.yaml").write_text("retries: 1\n", encoding="utf-8")
    return jobs


def settings(tmp_path: Path, notices: list[str] | None = None, **flags: Any) -> Settings:
    resolved = resolve_settings(flags={"project": "p", **flags}, env={}, cwd=tmp_path,
                                password_prompt=flags.pop("prompt", None))
    return resolved if notices is None else resolved.__class__(**{**_fields(resolved), "retry_notice": notices.append})


def _fields(value: Settings) -> dict[str, Any]:
    return {name: getattr(value, name) for name in value.__dataclass_fields__}


@needs_workers
def test_meanwhile_runs_once_while_the_workers_do_and_never_for_a_small_set(tmp_path: Path) -> None:
    jobs = job_root(tmp_path, LARGE)
    workers_seen: list[int] = []
    result = validate_paths([jobs], job_root=jobs, meanwhile=lambda: workers_seen.append(
        len(multiprocessing.active_children())))
    assert result.ok and len(result.jobs) == LARGE
    assert len(workers_seen) == 1 and workers_seen[0] >= 1
    small = tmp_path / "small"
    small.mkdir()
    (small / "a.yaml").write_text(job_yaml("a"), encoding="utf-8")
    validate_paths([small], job_root=small, meanwhile=lambda: workers_seen.append(-1))
    assert workers_seen[1:] == []


@needs_workers
def test_a_large_sets_listing_is_read_ahead_and_its_notices_wait_for_the_client(
        tmp_path: Path, emulator: RunningEmulator, quick_retries: None) -> None:
    jobs = job_root(tmp_path, LARGE)
    emulator.faults.set("GET jobs", Fault(error_rate=1.0, error_statuses=(503,), times=1))
    notices: list[str] = []
    with ListingAhead(settings(tmp_path, notices, endpoint=emulator.api_root("4.0")), list_remote) as ahead:
        validate_paths([jobs], job_root=jobs, meanwhile=ahead.read)
        assert notices == []  # the 503 was met and retried ahead, and nothing shown yet
        client, remote = ahead.client()
        assert remote is not None and list(remote) == []
        assert len(notices) == 1 and "503" in notices[0]
        assert client.list_jobs() == ()  # the client stays open for the command


COMMANDS: dict[str, Callable[[Settings], object]] = {
    "plan": lambda chosen: plan_jobs(chosen, ["jobs.d"], hide=lambda secrets: None),
    "status": lambda chosen: status_of(chosen, ["jobs.d"], every_run=False, hide=lambda secrets: None),
}


@pytest.mark.parametrize(("endpoint", "command"), matrix(["emulator", UNREACHABLE, "https://127.0.0.1:9/api/gpulab/v3.1/"],
                                                         list(COMMANDS)))
def test_invalid_files_are_the_error_whatever_the_listing_ahead_met(tmp_path: Path, emulator: RunningEmulator,
                                                                     endpoint: str, command: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    job_root(tmp_path, LARGE, invalid=True)
    monkeypatch.chdir(tmp_path)
    notices: list[str] = []
    chosen = settings(tmp_path, notices, endpoint=emulator.api_root("4.0") if endpoint == "emulator" else endpoint)
    with pytest.raises(InvalidJobsError) as caught:
        COMMANDS[command](chosen)
    assert [str(problem.location) for problem in caught.value.problems] == ["jobs.d/j007.yaml:3:30"]
    assert notices == []


@pytest.mark.parametrize("command", matrix(list(COMMANDS)))
def test_invalid_files_do_not_wait_for_a_listing_that_is_slow_to_come(tmp_path: Path, command: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The listing trickles in a byte at a time (the client would wait its 30 s for it): the files' verdict does not
    wait, and the listing is abandoned. (Whether its request went out before the verdict depends on the machine's
    load, so it is not asserted here: the test above shows that a large set's listing is read ahead.)"""
    job_root(tmp_path, LARGE, invalid=True)
    monkeypatch.chdir(tmp_path)
    with hostile(listing=TRICKLE) as server:
        started = time.monotonic()
        with pytest.raises(InvalidJobsError):
            COMMANDS[command](settings(tmp_path, endpoint=server.endpoint))
        elapsed = time.monotonic() - started
    assert elapsed < 15, elapsed  # a local verdict in about a second, not the 30 s a trickle takes


@pytest.mark.slow  # as the plan case above, through apply's own flow
def test_apply_with_invalid_files_does_not_wait_for_a_listing_that_is_slow_to_come(
        tmp_path: Path, cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    job_root(tmp_path, LARGE, invalid=True)
    monkeypatch.chdir(tmp_path)
    with hostile(listing=TRICKLE) as server:
        started = time.monotonic()
        result = cli("apply", "--yes", "--endpoint", server.endpoint, "--project", "p")
        elapsed = time.monotonic() - started
    assert result.exit_code == 1 and "the job files have 1 problem(s)" in result.stderr, result
    assert elapsed < 15, elapsed  # a local verdict in about a second, not the 30 s a trickle takes
    assert not [seen for seen in server.behaviour.seen if not seen.startswith("GET")]  # nothing submitted


def test_a_failure_met_ahead_is_raised_where_the_client_is_asked_for(tmp_path: Path) -> None:
    jobs = job_root(tmp_path, LARGE)
    with ListingAhead(settings(tmp_path, endpoint="https://127.0.0.1:9/api/gpulab/v3.1/"), list_remote) as ahead:
        validate_paths([jobs], job_root=jobs, meanwhile=ahead.read)  # no certificate: kept, not raised
        with pytest.raises(ConfigError, match="No client certificate"):
            ahead.client()


def test_a_password_is_asked_for_after_the_files_and_only_once(tmp_path: Path, tls_emulator: RunningEmulator,
                                                               make_login_pem: MakeLoginPem, ca_file: Path) -> None:
    jobs = job_root(tmp_path, LARGE)
    pem = make_login_pem("jdoe", password="s3cret")
    asked: list[Path] = []

    def prompt(path: Path) -> str:
        asked.append(path)
        return "s3cret"

    chosen = settings(tmp_path, endpoint=tls_emulator.api_root("4.0"), cert=str(pem), ca_bundle=str(ca_file),
                      prompt=prompt)
    with ListingAhead(chosen, list_remote) as ahead:
        validate_paths([jobs], job_root=jobs, meanwhile=ahead.read)
        assert asked == []  # not read ahead: the question waits for valid files
        client, remote = ahead.client()
        assert asked == [pem] and remote is None and client.list_jobs() == ()


@pytest.mark.slow  # over a second on 2 cores: 202 jobs applied, planned and shown through the CLI
def test_a_large_plan_through_the_cli_is_the_plan(tmp_path: Path, cli: RunCli, emulator: RunningEmulator,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    job_root(tmp_path, LARGE)
    monkeypatch.chdir(tmp_path)
    common = ("--endpoint", emulator.api_root("4.0"), "--project", "p")
    assert cli("apply", "--yes", *common).exit_code == 0
    (tmp_path / "jobs.d" / "j000.yaml").unlink()
    result = cli("plan", *common)
    assert result.exit_code == 0, result
    assert "Plan: 0 to create, 0 to replace, 1 to cancel." in result.stdout
    unreachable = cli("plan", "--endpoint", UNREACHABLE, "--project", "p")
    assert unreachable.exit_code == 1 and unreachable.stderr.startswith("Error: Could not list jobs"), unreachable
    status = cli("status", *common)
    assert status.exit_code == 0 and status.stdout.count(" QUEUED ") == LARGE, status  # j000 too, still running


@pytest.mark.parametrize(("command", "fault"), matrix(["plan", "status", "apply"], [CUT, NOT_JSON, EVIL_STATUS]))
def test_a_hostile_listing_read_ahead_is_the_same_error_as_one_read_after(tmp_path: Path, cli: RunCli, fault: str,
                                                                          command: str, quick_retries: None,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The same failure, whether the listing was read while a large set was checked or after a small one (a cut
    answer, one that is not JSON, escape sequences in the status line; every fault is in test_hostile_gpulab.py)."""
    results = []
    for count in (1, LARGE):
        root = tmp_path / str(count)
        root.mkdir()
        job_root(root, count)
        monkeypatch.chdir(root)
        with hostile(jobs=[], listing=fault) as server:
            result = cli(command, *(["--yes"] if command == "apply" else []), "--endpoint", server.endpoint,
                         "--project", "p", "--format", "json", "--timeout", "2")
            results.append((result.exit_code, result.stderr.replace(server.endpoint, "ENDPOINT")))
        assert "Traceback" not in result.stdout + result.stderr
    (small_exit, small_error), (large_exit, large_error) = results
    assert small_exit == large_exit == 1 and large_error.startswith("Error: "), large_error
    assert small_error == large_error


@pytest.mark.slow  # a whole process over a large set
def test_the_process_exits_with_invalid_files_without_waiting_for_a_slow_listing(tmp_path: Path) -> None:
    """The console script, not only the command: the listing's page threads, which the interpreter joins at exit,
    are ended too (they used to hold the process for the whole --timeout, times the retries)."""
    job_root(tmp_path, LARGE, invalid=True)
    with hostile(listing=TRICKLE) as server:
        started = time.monotonic()
        finished = subprocess.run([sys.executable, "-m", "gpulab_apply", "plan", "--endpoint", server.endpoint,
                                   "--project", "p", "--timeout", "30"], check=False, cwd=tmp_path, capture_output=True,
                                  text=True, timeout=120)
        elapsed = time.monotonic() - started
    assert finished.returncode == 1 and "the job files have 1 problem(s)" in finished.stderr, finished.stderr
    assert elapsed < 20, elapsed  # about a second; the trickle alone would hold it 30 s, then again for the retry
