from __future__ import annotations

import pytest

from gpulab_apply.jobmodel.status import JobStatus
from gpulab_apply.model import RemoteJob


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("ONHOLD", JobStatus.ONHOLD),
        ("ON HOLD", JobStatus.ONHOLD),
        ("On Hold", JobStatus.ONHOLD),
        ("onhold", JobStatus.ONHOLD),
        ("MUST HALT", JobStatus.MUSTHALT),
        ("MUSTHALT", JobStatus.MUSTHALT),
        ("running", JobStatus.RUNNING),
        ("Cancelling", JobStatus.CANCELLING),
        ("EXPLODED", JobStatus.UNKNOWN),
        ("", JobStatus.UNKNOWN),
    ],
)
def test_status_parses_name_or_value_in_any_case(wire: str, expected: JobStatus) -> None:
    assert JobStatus.parse(wire) is expected


def test_unknown_status_is_active_never_final() -> None:
    assert JobStatus.UNKNOWN.is_active
    assert not JobStatus.UNKNOWN.is_final
    assert JobStatus.HALTED.is_final
    assert JobStatus.CANCELLING.is_active


def test_remote_job_from_minimal_json() -> None:
    job = RemoteJob.from_json({"uuid": "u1", "name": "a", "state": {"status": "QUEUED",
                                                                    "eventTimes": {"created": "2024-03-17T09:59:19Z"}}})
    assert job.status is JobStatus.QUEUED
    assert job.created is not None and job.created.isoformat() == "2024-03-17T09:59:19+00:00"
    assert job.request == {}


def test_timestamps_are_written_as_gpulab_writes_them_in_utc() -> None:
    from datetime import datetime, timedelta, timezone

    from gpulab_apply.model import format_timestamp, parse_timestamp

    brussels = datetime(2024, 3, 17, 10, 59, 19, tzinfo=timezone(timedelta(hours=1)))
    assert format_timestamp(brussels) == "2024-03-17T09:59:19Z"
    assert parse_timestamp(format_timestamp(brussels)) == brussels


def test_one_rfc3339_pair_serves_the_emulator_too() -> None:
    from gpulab_apply.emulator.clock import format_time, parse_time
    from gpulab_apply.model import format_timestamp, parse_timestamp

    assert format_time(1710669559.9) == format_timestamp(1710669559) == "2024-03-17T09:59:19Z"
    assert parse_time("2024-03-17t09:59:19z") == 1710669559.0
    # a time without a zone names no moment: the client ignores it, the emulator refuses it
    assert parse_timestamp("2024-03-17T09:59:19") is None
    with pytest.raises(ValueError):
        parse_time("2024-03-17T09:59:19")
