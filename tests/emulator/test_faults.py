"""Fault injection: latency, 5xx answers and dropped connections after commit, per endpoint."""

from __future__ import annotations

import time

import pytest
import requests

from gpulab_apply.emulator import Fault, RunningEmulator
from tests.emulator.test_api import TIMEOUT, submit
from tests.fixtures.jobs import MINIMAL_JOB


def listing_status(emulator: RunningEmulator) -> int:
    return requests.get(emulator.api_root() + "jobs", timeout=TIMEOUT).status_code


def test_latency_on_one_endpoint(emulator: RunningEmulator) -> None:
    emulator.faults.set("GET jobs", latency=0.3)
    started = time.monotonic()
    assert listing_status(emulator) == 200
    assert time.monotonic() - started >= 0.3  # a lower bound: a busy machine only adds to it
    # another endpoint is not delayed: with a minute of latency on the listing, the version still answers
    # within the client's timeout (a delay there would time out, not pass by a margin)
    emulator.faults.set("GET jobs", latency=60)
    assert requests.get(emulator.api_root() + "version", timeout=TIMEOUT).status_code == 200


@pytest.mark.parametrize("status", [500, 502, 504])
def test_errors_are_answered_without_processing(emulator: RunningEmulator, status: int) -> None:
    emulator.faults.set("POST jobs", error_rate=1.0, error_statuses=(status,))
    response = requests.post(emulator.api_root() + "jobs", json=MINIMAL_JOB, timeout=TIMEOUT)
    assert response.status_code == status
    assert response.text.startswith(f"Emulated fault: {status} ")
    emulator.faults.clear()
    listing = requests.get(emulator.api_root() + "jobs", timeout=TIMEOUT).json()
    assert listing == []


def test_a_limited_number_of_failures_then_success(emulator: RunningEmulator) -> None:
    emulator.faults.set("*", Fault(error_rate=1.0, error_statuses=(502,), times=2))
    assert [listing_status(emulator) for _ in range(3)] == [502, 502, 200]


def test_a_fractional_error_rate(emulator: RunningEmulator) -> None:
    emulator.faults.set("GET jobs", error_rate=0.5)
    codes = [listing_status(emulator) for _ in range(40)]
    assert 5 < codes.count(200) < 35
    assert set(codes) - {200} <= {500, 502, 504}


def test_drop_after_commit_stores_the_job_but_never_answers(emulator: RunningEmulator) -> None:
    emulator.faults.set("POST jobs", drop_after_commit=1.0)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(emulator.api_root() + "jobs", json={**MINIMAL_JOB, "name": "lost-answer"}, timeout=TIMEOUT)
    emulator.faults.clear("POST jobs")
    listing = requests.get(emulator.api_root() + "jobs", timeout=TIMEOUT).json()
    assert [job["name"] for job in listing] == ["lost-answer"]
    submit(emulator)  # the next connection works


def test_unknown_endpoint_names_are_rejected(emulator: RunningEmulator) -> None:
    with pytest.raises(ValueError, match="unknown endpoint 'POST job'"):
        emulator.faults.set("POST job", error_rate=1.0)
    with pytest.raises(ValueError, match="error_statuses must be 429 or 5xx statuses"):
        Fault(error_rate=1.0, error_statuses=(404,))


def test_too_many_requests_with_retry_after(emulator: RunningEmulator) -> None:
    emulator.faults.set("GET jobs", Fault(error_rate=1.0, error_statuses=(429,), retry_after=3, times=1))
    response = requests.get(emulator.api_root() + "jobs", timeout=TIMEOUT)
    assert (response.status_code, response.headers["Retry-After"]) == (429, "3")
    assert response.text == "Emulated fault: 429 Too Many Requests\n"
    assert listing_status(emulator) == 200
