"""Jobs older than a listing window (issue: trust over months): v4.0 sees them, v3.x says it cannot.

A job whose status last changed more than 744 hours ago is invisible to a v3.x listing. Before, the
client sent ``max_hours=744`` on v4.0 too, so such a job looked absent and plan offered to create it
again. Simulated time (the emulator's manual clock) makes 35 days pass in no time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gpulab_apply.emulator import RunningEmulator
from gpulab_apply.gpulab.client import GpulabClient
from gpulab_apply.jobmodel.status import JobStatus
from tests.conftest import RunCli
from tests.fixtures.jobs import PROJECT_URN, job_yaml, make_job

DAY = 24 * 3600


def start_aged_jobs(emulator: RunningEmulator) -> None:
    """One job that runs for 60 days and one that finishes within an hour, then 35 days pass."""
    with GpulabClient(emulator.api_root("4.0"), api_version="4.0") as client:
        client.submit(make_job("long", runtime="60 days", project_urn=PROJECT_URN, maxDuration="90 days"))
        client.submit(make_job("short", runtime="1 hour", project_urn=PROJECT_URN))
    emulator.advance(60)
    emulator.advance(2 * 3600)
    emulator.advance(35 * DAY)


def test_v4_listing_has_no_window(emulator: RunningEmulator) -> None:
    start_aged_jobs(emulator)
    with GpulabClient(emulator.api_root("4.0"), api_version="4.0") as client:
        listing = client.list_jobs()
    assert {(job.name, job.status) for job in listing} == {("long", JobStatus.RUNNING),
                                                           ("short", JobStatus.FINISHED)}
    assert listing.complete_since is None and listing.window is None and not listing.may_miss_own_jobs


def test_v3_listing_says_how_far_back_it_sees(emulator: RunningEmulator) -> None:
    start_aged_jobs(emulator)
    before = datetime.now(UTC)
    with GpulabClient(emulator.api_root("3.1"), api_version="3.1") as client:
        listing = client.list_jobs()
    # GPULab's v3.x cannot see them; the listing must say so rather than pass for complete
    assert list(listing) == []
    assert listing.window == timedelta(hours=744) and listing.may_miss_own_jobs
    assert listing.complete_since is not None
    assert before - timedelta(hours=744, seconds=1) <= listing.complete_since <= datetime.now(UTC) - timedelta(hours=744)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    jobs = tmp_path / "jobs.d"
    jobs.mkdir()
    (jobs / "long.yaml").write_text(job_yaml("long", runtime="60 days", maxDuration="90 days"))
    (jobs / "short.yaml").write_text(job_yaml("short", runtime="1 hour"))
    return jobs


def test_plan_on_v4_does_not_resubmit_jobs_older_than_31_days(emulator: RunningEmulator, cli: RunCli,
                                                              repo: Path) -> None:
    connection = ("--endpoint", emulator.api_root("4.0"), "--set", "lab", "--project", "local")
    applied = cli("apply", "jobs.d", "--yes", *connection)
    assert applied.exit_code == 0, applied
    emulator.advance(60)
    emulator.advance(2 * 3600)
    emulator.advance(35 * DAY)
    planned = cli("plan", "jobs.d", "--detailed-exitcode", *connection)
    assert planned.exit_code == 0, planned
    assert "0 to create" in planned.stdout, planned
