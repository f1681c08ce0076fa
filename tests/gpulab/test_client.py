"""GpulabClient against the emulator over real HTTP on loopback: the API, listings, retries, POST safety."""

from __future__ import annotations

import functools
import logging
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from gpulab_apply.emulator import RunningEmulator
from gpulab_apply.emulator import listing as emulator_listing
from gpulab_apply.errors import (
    AmbiguousSubmitError,
    ConfigError,
    ConnectionFailedError,
    ServerError,
    TruncatedListingError,
)
from gpulab_apply.gpulab.client import GpulabClient
from gpulab_apply.gpulab.policy import RetryPolicy, Timeouts
from gpulab_apply.jobmodel.status import JobStatus
from tests.fixtures.jobs import MINIMAL_JOB, PROJECT_URN, make_job
from tests.hostile_gpulab import TRICKLE, hostile

#: retries as in production, but with millisecond waits so tests stay fast
FAST_RETRY = RetryPolicy(retries=3, backoff=0.01, max_backoff=0.02)


#: a job of the project the emulator's local user is in
job = functools.partial(make_job, project_urn=PROJECT_URN)


def make_client(emulator: RunningEmulator, version: str = "3.1", **options: Any) -> GpulabClient:
    options.setdefault("retry", FAST_RETRY)
    options.setdefault("timeouts", Timeouts(connect=2.0, read=5.0))
    return GpulabClient(emulator.api_root(version), api_version=version, **options)


@pytest.fixture(params=["3.1", "4.0"])
def client(request: pytest.FixtureRequest, emulator: RunningEmulator) -> Iterator[GpulabClient]:
    with make_client(emulator, request.param) as opened:
        yield opened


@pytest.fixture
def retries_logged(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="gpulab_apply.gpulab")
    return caplog


def retry_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if "retrying in" in record.getMessage()]


# --- the API -------------------------------------------------------------------------------------


def test_submit_get_and_list(client: GpulabClient) -> None:
    uuid = client.submit(job("train", description="first run"))
    remote = client.get_job(uuid)
    assert remote.uuid == uuid
    assert remote.name == "train"
    assert remote.description == "first run"
    assert remote.status is JobStatus.QUEUED
    assert remote.owner["projectUrn"] == PROJECT_URN
    assert remote.created is not None
    assert [j.uuid for j in client.list_jobs()] == [uuid]


def test_hold_release_cancel_and_delete(client: GpulabClient) -> None:
    uuid = client.submit(job(), hold=True)
    # v4.0 sends "ON HOLD" on the wire, v3.x "ONHOLD": both parse
    assert client.get_job(uuid).status is JobStatus.ONHOLD
    client.set_status(uuid, JobStatus.QUEUED)
    assert client.get_job(uuid).status is JobStatus.QUEUED
    client.cancel(uuid)
    assert client.get_job(uuid).status is JobStatus.CANCELLED
    assert [j.status for j in client.list_jobs()] == [JobStatus.CANCELLED]
    client.delete(uuid, finished=True)
    assert client.list_jobs() == ()


def test_listing_filters_by_project(client: GpulabClient, emulator: RunningEmulator) -> None:
    mine = client.submit(job("mine"))
    emulator.seed_job(job("theirs"), project_urn="urn:publicid:IDN+ilabt.imec.be+project+other")
    assert {j.name for j in client.list_jobs()} == {"mine", "theirs"}
    assert [j.uuid for j in client.list_jobs(project_urn=PROJECT_URN)] == [mine]


def test_listing_includes_assigned_jobs(emulator: RunningEmulator) -> None:
    # ASSIGNED is in none of GPULab's state groups; a listing without it would make the job look absent.
    with make_client(emulator) as client:
        uuid = client.submit(job())
        emulator.advance(2.5)  # scheduled (2 s), not yet picked up by the node (3 s more)
        assert client.get_job(uuid).status is JobStatus.ASSIGNED
        assert [j.uuid for j in client.list_jobs()] == [uuid]


def test_listing_is_newest_first(client: GpulabClient, emulator: RunningEmulator) -> None:
    first = client.submit(job("a"))
    emulator.advance(60)
    second = client.submit(job("b"))
    assert [j.uuid for j in client.list_jobs()] == [second, first]


def test_read_log(client: GpulabClient, emulator: RunningEmulator) -> None:
    uuid = client.submit(job())
    assert client.read_log(uuid) == b""  # 204: no log yet
    emulator.advance(3600)
    log = client.read_log(uuid)
    assert log
    assert client.read_log(uuid, start=5) == log[5:]
    assert client.read_log(uuid, start=len(log) + 100) == b""


def test_version(client: GpulabClient) -> None:
    assert client.version()["latest_client_version"] == "3.11.12"


def test_unknown_job_is_a_404(client: GpulabClient) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    with pytest.raises(ServerError) as caught:
        client.get_job(missing)
    assert caught.value.status == 404
    assert caught.value.message == f"Could not read job {missing}: GPULab answered 404 Not Found: Job {missing} not found"
    assert caught.value.hint is None


def test_refused_submission_is_a_clean_server_error(client: GpulabClient) -> None:
    with pytest.raises(ServerError) as caught:
        client.submit({"name": "bad", "request": {"resources": {"cpus": "four"}}, "owner": {"projectUrn": PROJECT_URN}})
    error = caught.value
    assert error.status == 400
    assert error.message.startswith("Could not submit job 'bad': GPULab answered 400 Bad Request: ")
    assert "\n" not in error.message
    assert not isinstance(error, AmbiguousSubmitError)


def test_v4_submission_without_project_is_refused_before_sending(emulator: RunningEmulator) -> None:
    with make_client(emulator, "4.0") as client:
        with pytest.raises(ConfigError) as caught:
            client.submit(MINIMAL_JOB)
        assert caught.value.message == "Job 'hello' has no owner.projectUrn, which API v4.0 requires"
        assert client.list_jobs() == ()
    with make_client(emulator, "3.1") as client:  # v3.x accepts it, as GPULab's docs show
        assert client.get_job(client.submit(MINIMAL_JOB)).owner["projectUrn"] == PROJECT_URN


def test_illegal_transition_is_reported(client: GpulabClient) -> None:
    uuid = client.submit(job())
    client.cancel(uuid)
    with pytest.raises(ServerError) as caught:
        client.set_status(uuid, JobStatus.ONHOLD)
    assert caught.value.status == 409
    assert caught.value.message.startswith(f"Could not set job {uuid} to ONHOLD: GPULab answered 409 Conflict: ")


@pytest.mark.parametrize(("version", "other"), [("3.1", "4.0"), ("4.0", "3.1")])
def test_unknown_api_root_suggests_the_other_version(emulator: RunningEmulator, version: str, other: str) -> None:
    root = emulator.base_url + f"gpulab/v{version}-missing/"
    with GpulabClient(root, api_version=version, retry=FAST_RETRY) as client, pytest.raises(ServerError) as caught:
        client.list_jobs()
    assert caught.value.status == 404
    assert caught.value.hint == (
        f"The API root {root} may not serve API v{version}; try --api-version {other} (or an endpoint ending in /v{other}/)."
    )


# --- listings: v3.x caps and v4.0 pages ------------------------------------------------------------


def test_v3_listing_at_the_cap_is_narrowed_by_state_group(emulator: RunningEmulator) -> None:
    emulator.seed_jobs([job(f"q{i}") for i in range(150)], status="ONHOLD")
    emulator.seed_jobs([job(f"f{i}") for i in range(120)], status="FINISHED")
    emulator.seed_jobs([job(f"x{i}") for i in range(5)], status="DELETED")
    with make_client(emulator) as client:
        jobs = client.list_jobs()
    assert len(jobs) == 270
    assert len({j.uuid for j in jobs}) == 270
    assert {j.status for j in jobs} == {JobStatus.ONHOLD, JobStatus.FINISHED}


def test_v3_group_at_the_cap_is_narrowed_by_status(emulator: RunningEmulator) -> None:
    emulator.seed_jobs([job(f"f{i}") for i in range(150)], status="FINISHED")
    emulator.seed_jobs([job(f"c{i}") for i in range(100)], status="CANCELLED")
    with make_client(emulator) as client:
        assert len(client.list_jobs()) == 250


def test_v3_listing_that_cannot_be_narrowed_is_truncated(emulator: RunningEmulator) -> None:
    emulator.seed_jobs([job(f"f{i}") for i in range(200)], status="FINISHED")
    with make_client(emulator) as client, pytest.raises(TruncatedListingError) as caught:
        client.list_jobs()
    assert caught.value.message == (
        "GPULab lists at most 200 jobs per request and there are at least that many FINISHED jobs in the last "
        "744 hours, so the listing may be incomplete (a present job could look missing and be submitted again)"
    )
    assert caught.value.hint is not None and "--api-version 4.0" in caught.value.hint


def test_v4_listing_reads_every_page(emulator: RunningEmulator) -> None:
    seeded = emulator.seed_jobs([job(f"j{i}") for i in range(1100)], status="FINISHED")
    emulator.seed_jobs([job(f"p{i}") for i in range(3)], status="ONHOLD")
    with make_client(emulator, "4.0") as client:
        jobs = client.list_jobs()
    assert len(jobs) == 1103
    assert set(seeded) <= {j.uuid for j in jobs}


def test_v4_listing_survives_a_server_that_caps_page_size_lower(emulator: RunningEmulator,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # GPULab's page-size cap is not documented: short pages must not be mistaken for the last one.
    monkeypatch.setattr(emulator_listing, "V4_PAGE_SIZE_CAP", 100)
    seeded = emulator.seed_jobs([job(f"j{i}") for i in range(250)], status="FINISHED")
    with make_client(emulator, "4.0") as client:
        assert {j.uuid for j in client.list_jobs()} == set(seeded)


@pytest.mark.parametrize(("stored", "complete"), [(30, True), (600, False)])
def test_v4_listing_from_a_server_that_ignores_page(emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch,
                                                    stored: int, complete: bool) -> None:
    paging = emulator_listing._paging
    monkeypatch.setattr(emulator_listing, "_paging", lambda query, version: (paging(query, version)[0], 0))
    emulator.seed_jobs([job(f"j{i}") for i in range(stored)], status="FINISHED")
    with make_client(emulator, "4.0") as client:
        if complete:  # fewer jobs than a page: that is all of them
            assert len(client.list_jobs()) == stored
        else:
            with pytest.raises(TruncatedListingError, match="may hold only the first 500 jobs"):
                client.list_jobs()


# --- retries ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 504])
def test_get_is_retried_on_5xx(emulator: RunningEmulator, retries_logged: pytest.LogCaptureFixture,
                               status: int) -> None:
    with make_client(emulator) as client:
        uuid = client.submit(job())
        emulator.faults.set("GET jobs", error_rate=1.0, error_statuses=(status,), times=2)
        assert [j.uuid for j in client.list_jobs()] == [uuid]
    lines = retry_lines(retries_logged)
    assert len(lines) == 2
    assert lines[0].startswith(f"GET jobs failed ({status} ")
    assert "(attempt 2 of 4)" in lines[0] and "(attempt 3 of 4)" in lines[1]


def test_put_and_delete_are_retried(emulator: RunningEmulator, retries_logged: pytest.LogCaptureFixture) -> None:
    with make_client(emulator) as client:
        uuid = client.submit(job())
        emulator.faults.set("PUT jobs/{uuid}/state/status", error_rate=1.0, times=1)
        client.cancel(uuid)
        emulator.faults.set("DELETE jobs/{uuid}", error_rate=1.0, times=1)
        client.delete(uuid, finished=True)
        assert client.list_jobs() == ()
    assert [line.split(" failed")[0] for line in retry_lines(retries_logged)] == [
        f"PUT jobs/{uuid}/state/status", f"DELETE jobs/{uuid}"]


def test_retries_give_up_with_the_last_answer(emulator: RunningEmulator) -> None:
    emulator.faults.set("GET jobs", error_rate=1.0, error_statuses=(502,))
    with make_client(emulator) as client, pytest.raises(ServerError) as caught:
        client.list_jobs()
    assert caught.value.status == 502
    assert caught.value.message == "Could not list jobs: GPULab answered 502 Bad Gateway: Emulated fault: 502 Bad Gateway"
    assert caught.value.hint == "GPULab has a problem; try again later."


def test_post_is_never_retried_on_5xx(emulator: RunningEmulator) -> None:
    emulator.faults.set("POST jobs", error_rate=1.0, error_statuses=(502,), times=2)
    with make_client(emulator) as client:
        with pytest.raises(AmbiguousSubmitError) as caught:
            client.submit(job())
        assert caught.value.message == (
            "Could not submit job 'hello': GPULab answered 502 Bad Gateway: Emulated fault: 502 Bad Gateway; "
            "the job may or may not have been created"
        )
        # one attempt only: the second injected failure is still waiting for the next POST
        with pytest.raises(AmbiguousSubmitError):
            client.submit(job())
        client.submit(job())
        assert len(client.list_jobs()) == 1


def test_post_dropped_after_commit_is_ambiguous(emulator: RunningEmulator) -> None:
    emulator.faults.set("POST jobs", drop_after_commit=1.0, times=1)
    with make_client(emulator) as client:
        with pytest.raises(AmbiguousSubmitError) as caught:
            client.submit(job("landed"))
        assert caught.value.message == (
            "Could not submit job 'landed': the connection was dropped (RemoteDisconnected), after the request was "
            "sent; GPULab may have created the job"
        )
        assert caught.value.hint == "Run apply again: it looks for this run's marker before submitting again."
        # it did land, exactly once
        assert [j.name for j in client.list_jobs()] == ["landed"]


@pytest.mark.slow
def test_post_without_answer_in_time_is_ambiguous(emulator: RunningEmulator) -> None:
    emulator.faults.set("POST jobs", latency=1.0, times=1)
    with make_client(emulator, timeouts=Timeouts(connect=1.0, read=0.3)) as client:
        with pytest.raises(AmbiguousSubmitError, match=r"no answer within 0\.3 s, after the request was sent"):
            client.submit(job())
        # the server goes on with the request it was sent: the job lands (a generous bound: it does not hang)
        deadline = time.monotonic() + 60
        while not client.list_jobs():
            assert time.monotonic() < deadline, "the submission never landed"
            time.sleep(0.05)
        assert len(client.list_jobs()) == 1


@pytest.mark.slow
def test_get_without_answer_in_time_is_retried(emulator: RunningEmulator,
                                               retries_logged: pytest.LogCaptureFixture) -> None:
    # the first answer comes far beyond the read timeout; the retry is answered at once (with three chances to
    # be answered within 0.5 s on a busy machine)
    emulator.faults.set("GET version", latency=5.0, times=1)
    with make_client(emulator, timeouts=Timeouts(connect=1.0, read=0.5)) as client:
        assert "latest_client_version" in client.version()
    assert retry_lines(retries_logged)[0].startswith("GET version failed (no answer within 0.5 s)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_refused_connection_is_retried_even_for_post(method: str,
                                                     retries_logged: pytest.LogCaptureFixture) -> None:
    # Nothing was sent, so even a submission is safe to retry; in the end it is a clean failure.
    port = free_port()
    root = f"http://127.0.0.1:{port}/api/gpulab/v3.1/"
    with GpulabClient(root, api_version="3.1", retry=FAST_RETRY) as client, \
            pytest.raises(ConnectionFailedError) as caught:
        client.submit(job()) if method == "POST" else client.list_jobs()
    what = "submit job 'hello'" if method == "POST" else "list jobs"
    assert caught.value.message == f"Could not {what}: connection refused (127.0.0.1, 4 attempts)"
    assert not isinstance(caught.value, AmbiguousSubmitError)
    assert len(retry_lines(retries_logged)) == 3


# --- threads and proxies ---------------------------------------------------------------------------


def test_one_client_serves_many_threads(emulator: RunningEmulator) -> None:
    with make_client(emulator, "4.0") as client, ThreadPoolExecutor(max_workers=8) as pool:
        uuids = list(pool.map(lambda i: client.submit(job(f"t{i}")), range(64)))
        listed = {j.uuid for j in client.list_jobs()}
    assert len(set(uuids)) == 64
    assert listed == set(uuids)
    assert threading.active_count() < 40


def test_a_proxy_for_gpulab_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("https_proxy", "http://proxy.example.org:3128")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    with pytest.raises(ConfigError) as caught:
        GpulabClient("https://gpulab.ilabt.imec.be/api/gpulab/v3.1/", api_version="3.1")
    assert caught.value.message == (
        "A proxy is configured for gpulab.ilabt.imec.be (https_proxy or ALL_PROXY); client-certificate "
        "authentication does not work through it"
    )
    assert caught.value.hint == "Unset HTTPS_PROXY/https_proxy for gpulab-apply, or add gpulab.ilabt.imec.be to NO_PROXY."
    monkeypatch.setenv("no_proxy", "gpulab.ilabt.imec.be")
    GpulabClient("https://gpulab.ilabt.imec.be/api/gpulab/v3.1/", api_version="3.1").close()


def test_proxy_variables_do_not_affect_loopback(emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{free_port()}")
    with make_client(emulator) as client:
        assert client.list_jobs() == ()


# --- 429 Too Many Requests ---------------------------------------------------------------------------


@pytest.mark.slow
def test_429_is_retried_after_the_servers_delay(emulator: RunningEmulator,
                                                retries_logged: pytest.LogCaptureFixture) -> None:
    emulator.faults.set("GET jobs", error_rate=1.0, error_statuses=(429,), retry_after=1, times=1)
    with make_client(emulator) as client:
        started = time.monotonic()
        assert client.list_jobs() == ()
        assert time.monotonic() - started >= 1.0
    assert retry_lines(retries_logged) == [
        "GET jobs failed (429 Too Many Requests); retrying in 1.00 s (attempt 2 of 4)"]


def test_429_on_submit_is_retried_because_nothing_was_done(emulator: RunningEmulator) -> None:
    emulator.faults.set("POST jobs", error_rate=1.0, error_statuses=(429,), retry_after=0, times=2)
    with make_client(emulator) as client:
        uuid = client.submit(job())
        assert [j.uuid for j in client.list_jobs()] == [uuid]


def test_429_asking_for_too_long_a_wait_is_an_error(emulator: RunningEmulator) -> None:
    emulator.faults.set("GET jobs", error_rate=1.0, error_statuses=(429,), retry_after=600)
    retry = RetryPolicy(retries=3, backoff=0.01, max_retry_after=30)
    with make_client(emulator, retry=retry) as client, pytest.raises(ServerError) as caught:
        client.list_jobs()
    assert caught.value.status == 429
    assert caught.value.hint == "GPULab asks to wait 600 seconds; try again later."


def test_503_on_submit_is_ambiguous(emulator: RunningEmulator) -> None:
    emulator.faults.set("POST jobs", error_rate=1.0, error_statuses=(503,), retry_after=0, times=1)
    with make_client(emulator) as client, pytest.raises(AmbiguousSubmitError):
        client.submit(job())


def test_abandon_ends_a_listing_in_flight_at_once_and_retries_nothing() -> None:
    """A listing whose answer trickles in (the client would wait its 30 s, then retry 3 times): abandon() ends it
    now, page threads included, in a ConnectionFailedError, and no request is sent after it."""
    with hostile(listing=TRICKLE) as server, GpulabClient(server.endpoint, api_version="4.0", retry=RetryPolicy(
            retries=3), timeouts=Timeouts(read=30)) as client:
        failures: list[BaseException] = []

        def listing() -> None:
            try:
                client.list_jobs()
            except BaseException as exc:  # noqa: BLE001 - the test reads it
                failures.append(exc)

        reader = threading.Thread(target=listing)
        reader.start()
        deadline = time.monotonic() + 10
        while not server.behaviour.seen and time.monotonic() < deadline:  # the listing is on its way
            time.sleep(0.01)
        asked = len(server.behaviour.seen)
        client.abandon()
        reader.join(timeout=10)
        assert not reader.is_alive(), "abandon() did not end the listing"
        assert [type(failure) for failure in failures] == [ConnectionFailedError]
        assert len(server.behaviour.seen) <= max(asked, 2), server.behaviour.seen  # pages 1 and 2, never again
        with pytest.raises(ConnectionFailedError, match="abandoned"):
            client.list_jobs()
        assert len(server.behaviour.seen) <= max(asked, 2)
