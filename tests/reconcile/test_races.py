"""Racing applies and moving between API versions (docs/plan-apply.md#apply): four applies of the same 100 jobs
started together converge on exactly one job per name on v3.1 and on v4.0, and nothing is replaced when a
set moves between versions, gets --project, or carries markers of the previous format."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest

from gpulab_apply.cli import run
from gpulab_apply.emulator import RunningEmulator
from gpulab_apply.gpulab.client import GpulabClient
from gpulab_apply.model import RemoteJob
from gpulab_apply.reconcile.marker import spec_hash
from tests.conftest import RunCli
from tests.fixtures.jobs import PROJECT_URN, job_yaml, make_job
from tests.harness import submissions_held

RACERS = 4
JOBS = 100


def connection(emulator: RunningEmulator, version: str, *, project: bool = True) -> list[str]:
    return ["--endpoint", emulator.api_root(version), "--set", "lab", *(["--project", "local"] if project else [])]


def listing(emulator: RunningEmulator, version: str) -> list[RemoteJob]:
    with GpulabClient(emulator.api_root(version), api_version=version) as client:
        # after a v3.x race more than 200 duplicates are CANCELLED: the active jobs are all listed
        return list(client.list_jobs(project_urn=PROJECT_URN, allow_partial=True))


@pytest.fixture
def jobs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    directory = tmp_path / "jobs.d"
    directory.mkdir()
    return directory


@pytest.mark.slow
@pytest.mark.parametrize("version", [
    # 400 QUEUED jobs of one user for a moment: more than GPULab v3.x lists (the newest 200 per status)
    "3.1",
    "4.0",
])
def test_four_applies_of_100_jobs_converge_on_one_job_per_name(version: str, jobs_dir: Path,
                                                               emulator: RunningEmulator,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    wanted = [f"job-{i:03d}" for i in range(JOBS)]
    for name in wanted:
        (jobs_dir / f"{name}.yaml").write_text(job_yaml(name))
    codes: list[int] = []
    args = ["apply", "jobs.d", "--yes", "--parallelism", "16", *connection(emulator, version)]
    racers = [threading.Thread(target=lambda: codes.append(run(args))) for _ in range(RACERS)]
    # every racer lists before the first job exists (one listing later would see the others' duplicates, and
    # --max-cancel would rightly refuse to cancel more than 10 of them)
    with submissions_held(emulator, runs=RACERS):
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join()
    output = capsys.readouterr()
    failures = [line for line in output.out.splitlines() if "FAILED" in line or line.startswith("  x ")]
    assert codes == [0] * RACERS, "\n".join(failures[-40:]) + output.err[-2000:]
    jobs = listing(emulator, version)
    active = Counter(job.name for job in jobs if job.status.is_active)
    assert active == Counter(wanted)  # no duplicate, no lost job
    assert len(jobs) > JOBS  # they did race
    assert run(["plan", "jobs.d", "--detailed-exitcode", *connection(emulator, version)]) == 0
    if version == "3.1":
        # 300 CANCELLED duplicates: v3.x lists only the newest 200, so a new name might have an unlisted job
        (jobs_dir / "job-new.yaml").write_text(job_yaml("job-new"))
        capsys.readouterr()
        assert run(["apply", "jobs.d", "--yes", *connection(emulator, version)]) == 3
        out = capsys.readouterr().out
        assert "GPULab listed only the newest 200 of your CANCELLED jobs" in out
        assert "+ job-new (new; no job in the listing, but one may exist" in out
        assert run(["apply", "jobs.d", "--yes", "--allow-unseen", *connection(emulator, version)]) == 0


def test_a_set_moves_from_v3_1_without_project_to_v4_0_with_it_and_nothing_is_replaced(
        jobs_dir: Path, emulator: RunningEmulator, cli: RunCli) -> None:
    for name in ("a", "b"):
        (jobs_dir / f"{name}.yaml").write_text(job_yaml(name))
    assert cli("apply", "jobs.d", "--yes", *connection(emulator, "3.1", project=False)).exit_code == 0
    for version, project in (("3.1", True), ("4.0", True)):
        result = cli("plan", "jobs.d", "--detailed-exitcode", *connection(emulator, version, project=project))
        assert result.exit_code == 0, result
        assert "No changes: GPULab matches the job files." in result.stdout


@pytest.mark.parametrize("filled", [True, False])
def test_jobs_made_with_the_previous_marker_format_stay_in_sync(filled: bool, jobs_dir: Path,
                                                                emulator: RunningEmulator, cli: RunCli) -> None:
    """Jobs the previous version submitted (marker without ``v2``, hash over owner) are not replaced."""
    names = [f"old-{i}" for i in range(5)]
    with GpulabClient(emulator.api_root("3.1"), api_version="3.1") as client:
        for name in names:
            (jobs_dir / f"{name}.yaml").write_text(job_yaml(name))
            body = make_job(name, project_urn=PROJECT_URN if filled else None)
            old_marker = f"[gpulab-apply set=lab spec={spec_hash(body, version=1)} run=20250101T000000Z-abcdef]"
            client.submit({**body, "description": f"prose\n{old_marker}"})
    for version in ("3.1", "4.0"):
        result = cli("plan", "jobs.d", "--detailed-exitcode", *connection(emulator, version))
        assert result.exit_code == 0, result
        assert "No changes: GPULab matches the job files." in result.stdout
    result = cli("apply", "jobs.d", "--yes", *connection(emulator, "4.0"))
    assert result.exit_code == 0 and len(listing(emulator, "4.0")) == len(names)


def test_more_than_200_cancelled_jobs_on_v3_1_leave_status_and_plan_working(jobs_dir: Path, emulator: RunningEmulator,
                                                                            cli: RunCli) -> None:
    """After a race, v3.x lists only the newest 200 CANCELLED duplicates: final jobs, so status and plan go on."""
    (jobs_dir / "a.yaml").write_text(job_yaml("a"))
    assert cli("apply", "jobs.d", "--yes", *connection(emulator, "3.1")).exit_code == 0
    [job] = listing(emulator, "3.1")
    duplicate = {"name": "a", "description": job.description, "request": dict(job.request)}
    emulator.seed_jobs([duplicate] * 210, status="CANCELLED", project_urn=PROJECT_URN)
    status = cli("status", "jobs.d", *connection(emulator, "3.1"))
    assert status.exit_code == 0, status
    planned = cli("plan", "jobs.d", "--detailed-exitcode", *connection(emulator, "3.1"))
    assert planned.exit_code == 0, planned
    assert "GPULab listed only the newest 200 of your CANCELLED jobs" in planned.stdout
