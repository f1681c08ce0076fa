"""Changes whose answer is lost after GPULab made them (the emulator's drop-after-commit fault).

A cancellation is idempotent, so it may be retried, but its outcome is read back first: GPULab did
what was asked, and the retry (or 50 s of them) would only turn that success into a reported failure.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from gpulab_apply.emulator import Fault, RunningEmulator
from gpulab_apply.errors import ConnectionFailedError
from gpulab_apply.gpulab.api import ApiVersion
from gpulab_apply.gpulab.client import GpulabClient
from gpulab_apply.gpulab.policy import RetryPolicy, Timeouts
from gpulab_apply.gpulab.transport import Transport
from gpulab_apply.jobmodel.status import JobStatus
from tests.conftest import RunCli
from tests.fixtures.jobs import PROJECT_URN, job_yaml, make_job

PUT_STATUS = "PUT jobs/{uuid}/state/status"


def client(emulator: RunningEmulator, version: str = "3.1") -> GpulabClient:
    return GpulabClient(emulator.api_root(version), api_version=version)


@pytest.fixture
def transport_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="gpulab_apply.gpulab")
    return caplog


def retries_and_confirmations(log: pytest.LogCaptureFixture) -> tuple[int, int]:
    """How many requests the transport waited to retry, and how many lost answers it confirmed by reading back."""
    messages = [record.getMessage() for record in log.records]
    return (sum("retrying in" in message for message in messages),
            sum("the answer was lost, but GPULab made the change" in message for message in messages))


@pytest.mark.parametrize("version", ["3.1", "4.0"])
def test_thirty_cancellations_whose_answers_are_lost_all_succeed_at_once(
        emulator: RunningEmulator, version: str, transport_log: pytest.LogCaptureFixture) -> None:
    with client(emulator, version) as gpulab:
        uuids = [gpulab.submit(make_job(f"j{i}", project_urn=PROJECT_URN)) for i in range(30)]
        emulator.faults.set(PUT_STATUS, Fault(drop_after_commit=1.0))
        for uuid in uuids:
            gpulab.cancel(uuid)
        emulator.faults.clear()
        assert {gpulab.get_job(uuid).status for uuid in uuids} == {JobStatus.CANCELLED}
    assert retries_and_confirmations(transport_log) == (0, 30)  # no retry waits: each lost answer read back


def test_a_lost_hold_is_confirmed_and_a_lost_delete_too(emulator: RunningEmulator) -> None:
    with client(emulator) as gpulab:
        uuid = gpulab.submit(make_job("held"))
        emulator.faults.set("*", Fault(drop_after_commit=1.0))
        emulator.faults.set("GET jobs/{uuid}", Fault())  # reading the job back works
        gpulab.set_status(uuid, JobStatus.ONHOLD)
        emulator.faults.clear("*")
        assert gpulab.get_job(uuid).status is JobStatus.ONHOLD
        emulator.faults.set("DELETE jobs/{uuid}", Fault(drop_after_commit=1.0))
        gpulab.delete(uuid)
        emulator.faults.clear()
        assert gpulab.list_jobs() == ()


def test_a_change_not_seen_on_reading_back_is_retried_then_reported(emulator: RunningEmulator) -> None:
    transport = Transport(emulator.api_root("3.1"), api_version=ApiVersion.V3_1, ssl_context=None,
                          timeouts=Timeouts(), retry=RetryPolicy(retries=2, backoff=0.01, max_backoff=0.02),
                          max_connections=2)
    with GpulabClient(emulator.api_root("3.1"), api_version="3.1") as gpulab:
        uuid = gpulab.submit(make_job("stays"))
    emulator.faults.set(PUT_STATUS, Fault(drop_after_commit=1.0))
    asked: list[str] = []

    def not_there() -> bool:
        asked.append(uuid)
        return False

    with pytest.raises(ConnectionFailedError, match=r"the connection was dropped .*3 attempts"):
        transport.change("PUT", f"jobs/{uuid}/state/status", what="hold it", data=b"ONHOLD", confirm=not_there)
    transport.close()
    assert asked == [uuid] * 3


@pytest.fixture
def jobs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    jobs = tmp_path / "jobs.d"
    jobs.mkdir()
    for i in range(30):
        (jobs / f"j{i}.yaml").write_text(job_yaml(f"j{i}"))
    return jobs


def test_apply_cancelling_thirty_jobs_with_lost_answers_reports_success(
        emulator: RunningEmulator, cli: RunCli, jobs_dir: Path, transport_log: pytest.LogCaptureFixture) -> None:
    connection = ("--endpoint", emulator.api_root("3.1"), "--set", "lab", "--project", "local")
    assert cli("apply", "jobs.d", "--yes", *connection).exit_code == 0
    for path in jobs_dir.iterdir():
        path.unlink()
    emulator.faults.set(PUT_STATUS, Fault(drop_after_commit=1.0))
    transport_log.clear()
    result = cli("apply", "jobs.d", "--yes", "--allow-empty", "--max-cancel", "30", *connection)
    emulator.faults.clear()
    assert result.exit_code == 0, result
    with client(emulator) as gpulab:
        assert {job.status for job in gpulab.list_jobs()} == {JobStatus.CANCELLED}
    assert retries_and_confirmations(transport_log) == (0, 30)
