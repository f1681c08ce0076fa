"""Every endpoint of the emulated GPULab API, over real HTTP on loopback."""

from __future__ import annotations

import http.client
import json
import selectors
import socket
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from gpulab_apply.emulator import RunningEmulator, serve_in_thread
from tests.fixtures.emulator import MANUAL
from tests.fixtures.jobs import MINIMAL_JOB, PROJECT_URN, make_job

TIMEOUT = 10


def submit(emulator: RunningEmulator, job: dict[str, object] | None = None, *, version: str = "3.1",
           hold: bool = False) -> str:
    response = requests.post(emulator.api_root(version) + "jobs", json=job or MINIMAL_JOB,
                             params={"hold": "true"} if hold else None, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    return response.text


def get_job(emulator: RunningEmulator, uuid: str, version: str = "3.1") -> dict[str, object]:
    response = requests.get(emulator.api_root(version) + f"jobs/{uuid}", timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    return response.json()


def status_of(emulator: RunningEmulator, uuid: str, version: str = "3.1") -> str:
    return get_job(emulator, uuid, version)["state"]["status"]  # type: ignore[index]


def put_status(emulator: RunningEmulator, uuid: str, status: str) -> requests.Response:
    return requests.put(emulator.api_root() + f"jobs/{uuid}/state/status", data=status,
                        headers={"Content-Type": "text/plain"}, timeout=TIMEOUT)


def test_post_answers_the_uuid_as_plain_text(emulator: RunningEmulator) -> None:
    response = requests.post(emulator.api_root() + "jobs", json=MINIMAL_JOB, timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert len(response.text) == 36 and response.text.count("-") == 4
    job = get_job(emulator, response.text)
    assert job["uuid"] == response.text
    assert job["name"] == "hello"


def test_returned_job_has_the_server_filled_shape(emulator: RunningEmulator) -> None:
    body = make_job(resources={"gpuModel": ["1080"]})
    body["request"]["docker"]["storage"] = ["/project_ghent", {"hostPath": "tmpfs", "containerPath": "/ram",  # type: ignore[index]
                                                               "sizeGb": 2}]
    uuid = submit(emulator, body)
    job = get_job(emulator, uuid)
    assert job["owner"] == {"projectUrn": PROJECT_URN, "userUrn": "urn:publicid:IDN+ilabt.imec.be+user+local",
                            "userEmail": "local@example.com", "userDetails": None, "userId": None,
                            "projectId": None, "experimentId": None}
    request = job["request"]
    assert request["resources"] == {"cpus": 1, "gpus": 1, "cpuMemoryGb": 2, "gpuMemoryGb": None, "features": [],
                                    "gpuModel": ["1080"], "minCudaVersion": None, "clusterId": None,
                                    "slaveName": None, "slaveInstanceId": None}
    assert request["docker"]["storage"] == [{"containerPath": "/project_ghent/", "hostPath": "/project_ghent/"},
                                            {"hostPath": "tmpfs", "containerPath": "/ram/", "sizeGb": 2}]
    assert request["scheduling"] == {"interactive": False, "minDuration": "1 week", "restartable": False,
                                     "allowHaltWithoutSignal": False, "reservationIds": [], "maxDuration": "2 weeks",
                                     "maxSimultaneousJobs": None, "notBefore": None, "notAfter": None}
    assert request["extra"] == {key: [] for key in ("sshPubKeys", "emailOnQueue", "emailOnRun", "emailOnEnd",
                                                    "emailOnHalt", "emailOnRestart")}
    assert job["restartInfo"] == {"initialJobUuid": uuid, "restartCount": 0}
    state = job["state"]
    assert state["status"] == "QUEUED"
    assert state["resources"] is None
    assert state["eventTimes"]["created"] == "2026-01-05T09:00:00Z"
    assert state["eventTimes"]["QUEUED"] == "2026-01-05T09:00:00Z"
    assert state["eventTimes"]["RUNNING"] is None


def test_v4_post_requires_a_project(emulator: RunningEmulator) -> None:
    response = requests.post(emulator.api_root("4.0") + "jobs", json=MINIMAL_JOB, timeout=TIMEOUT)
    assert response.status_code == 400
    assert response.text == ("Invalid job: owner.projectUrn is required in API v4.0 "
                             "(e.g. urn:publicid:IDN+ilabt.imec.be+project+myproject)\n")
    uuid = submit(emulator, make_job(project_urn="urn:publicid:IDN+ilabt.imec.be+project+other"), version="4.0")
    assert get_job(emulator, uuid, "4.0")["owner"]["projectUrn"] == "urn:publicid:IDN+ilabt.imec.be+project+other"  # type: ignore[index]


@pytest.mark.parametrize(("body", "message"), [
    (b"{not json", ("The request body is not valid JSON: Expecting property name enclosed in double quotes: "
                    "line 1 column 2 (char 1)\n")),
    (json.dumps({**MINIMAL_JOB, "colour": "red"}).encode(),
     "Invalid job: colour: unknown key (allowed here: name, description, request, owner, deploymentEnvironment)\n"),
    (json.dumps([1]).encode(), "Invalid job: the job must be an object\n"),
    # deeper than Python's parser can recurse, and deep enough for the recursive checks after it
    (b'{"name": ' + b"[" * 5000 + b"]" * 5000 + b"}", "The request body nests JSON more than 64 levels deep\n"),
    (json.dumps({**MINIMAL_JOB, "owner": {"userDetails": json.loads("[" * 100 + "]" * 100)}}).encode(),
     "The request body nests JSON more than 64 levels deep\n"),
    (b'{"name": 1' + b"0" * 5000 + b"}",
     "The request body holds a number too long to read (more than 4300 digits)\n"),
])
def test_post_rejects_bad_bodies_with_a_readable_400(emulator: RunningEmulator, body: bytes, message: str) -> None:
    response = requests.post(emulator.api_root() + "jobs", data=body, timeout=TIMEOUT,
                             headers={"Content-Type": "application/json"})
    assert (response.status_code, response.text) == (400, message)


def test_schema_violation_names_the_field(emulator: RunningEmulator) -> None:
    response = requests.post(emulator.api_root() + "jobs", json=make_job(gpus=-1), timeout=TIMEOUT)
    assert response.status_code == 400
    assert response.text.startswith("Invalid job: request.resources.gpus: ")


def test_hold_then_release(emulator: RunningEmulator) -> None:
    uuid = submit(emulator, hold=True)
    assert status_of(emulator, uuid) == "ONHOLD"
    assert status_of(emulator, uuid, "4.0") == "ON HOLD"
    emulator.advance(60)
    assert status_of(emulator, uuid) == "ONHOLD"
    assert put_status(emulator, uuid, "QUEUED").status_code == 200
    assert status_of(emulator, uuid) == "QUEUED"
    assert put_status(emulator, uuid, "ONHOLD").status_code == 200
    assert status_of(emulator, uuid) == "ONHOLD"


def test_cancel_queued_and_running_jobs(emulator: RunningEmulator) -> None:
    queued = submit(emulator)
    assert put_status(emulator, queued, "CANCELLED").status_code == 200
    job = get_job(emulator, queued)
    assert job["state"]["status"] == "CANCELLED"  # type: ignore[index]
    assert job["state"]["eventTimes"]["CANCELLED"] == "2026-01-05T09:00:00Z"  # type: ignore[index]
    running = submit(emulator)
    emulator.advance(15)
    assert status_of(emulator, running) == "RUNNING"
    assert put_status(emulator, running, "CANCELLED").status_code == 200
    assert status_of(emulator, running) == "CANCELLED"
    # cancelling twice is harmless; a final job cannot change any more
    assert put_status(emulator, running, "CANCELLED").status_code == 200
    response = put_status(emulator, running, "QUEUED")
    assert (response.status_code, response.text) == (409, f"Job {running} is CANCELLED: it cannot become QUEUED\n")


def test_illegal_transitions_get_409(emulator: RunningEmulator) -> None:
    uuid = submit(emulator)
    response = put_status(emulator, uuid, "MUSTHALT")
    assert (response.status_code, response.text) == (409, f"Job {uuid} is QUEUED: it cannot become MUSTHALT\n")
    emulator.advance(15)
    response = put_status(emulator, uuid, "MUSTHALT")
    assert response.status_code == 409
    assert response.text == f"Job {uuid} is not restartable, so it cannot be halted; cancel it instead\n"
    response = put_status(emulator, uuid, "FINISHED")
    assert response.status_code == 400
    assert response.text == ("Unsupported status 'FINISHED': send one of CANCELLED, ONHOLD, QUEUED, MUSTHALT "
                             "as text/plain\n")


def test_delete_marks_deleted_and_finished_jobs_need_the_flag(emulator: RunningEmulator) -> None:
    uuid = submit(emulator, make_job(runtime="10 s"))
    emulator.advance(15)
    response = requests.delete(emulator.api_root() + f"jobs/{uuid}", timeout=TIMEOUT)
    assert (response.status_code, response.text) == (409, f"Job {uuid} is RUNNING: cancel it before deleting it\n")
    emulator.advance(10)
    assert status_of(emulator, uuid) == "FINISHED"
    response = requests.delete(emulator.api_root() + f"jobs/{uuid}", timeout=TIMEOUT)
    assert response.status_code == 409
    assert response.text == f"Job {uuid} is FINISHED: deleting a finished job needs ?finished=true\n"
    response = requests.delete(emulator.api_root() + f"jobs/{uuid}", params={"finished": "true"}, timeout=TIMEOUT)
    assert response.status_code == 200
    assert status_of(emulator, uuid) == "DELETED"
    queued = submit(emulator)
    assert requests.delete(emulator.api_root() + f"jobs/{queued}", timeout=TIMEOUT).status_code == 200
    assert status_of(emulator, queued) == "DELETED"


def test_unknown_job_path_and_method(emulator: RunningEmulator) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    for method, path in (("GET", f"jobs/{missing}"), ("GET", f"jobs/{missing}/log"),
                         ("GET", f"jobs/{missing}/debug"), ("DELETE", f"jobs/{missing}")):
        response = requests.request(method, emulator.api_root() + path, timeout=TIMEOUT)
        assert (response.status_code, response.text) == (404, f"Job {missing} not found\n")
    response = put_status(emulator, missing, "CANCELLED")
    assert response.status_code == 404
    response = requests.get(emulator.api_root() + "nothing", timeout=TIMEOUT)
    assert response.status_code == 404
    response = requests.get(emulator.base_url + "gpulab/v2.0/jobs", timeout=TIMEOUT)
    assert (response.status_code, response.text) == (404, ("API version v2.0 is not served; use one of v3.0, "
                                                           "v3.1, v4.0\n"))
    response = requests.delete(emulator.api_root() + "jobs", timeout=TIMEOUT)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, POST"
    assert response.text == "DELETE is not allowed on jobs; allowed: GET, POST\n"


def test_log_supports_ranges(emulator: RunningEmulator) -> None:
    uuid = submit(emulator, make_job(runtime="100 s"))
    url = emulator.api_root() + f"jobs/{uuid}/log"
    assert requests.get(url, timeout=TIMEOUT).status_code == 204  # no log before it runs
    emulator.advance(15 + 25)
    response = requests.get(url, timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.text == ("[gpulab-emulator] progress 10% (10 s of 100 s)\n"
                             "[gpulab-emulator] progress 20% (20 s of 100 s)\n")
    size = len(response.content)
    assert requests.get(url, headers={"Range": f"bytes={size}-"}, timeout=TIMEOUT).status_code == 204
    emulator.advance(100)
    response = requests.get(url, headers={"Range": f"bytes={size}-"}, timeout=TIMEOUT)
    assert response.status_code == 206
    assert response.text.startswith("[gpulab-emulator] progress 30% (30 s of 100 s)\n")
    assert response.text.endswith("[gpulab-emulator] progress 100% (100 s of 100 s)\n[gpulab-emulator] exit code 0\n")
    total = size + len(response.content)
    assert response.headers["Content-Range"] == f"bytes {size}-{total - 1}/{total}"


def test_debug_lists_status_events(emulator: RunningEmulator) -> None:
    uuid = submit(emulator, hold=True)
    put_status(emulator, uuid, "QUEUED")
    events = requests.get(emulator.api_root("4.0") + f"jobs/{uuid}/debug", timeout=TIMEOUT).json()
    assert events == [
        {"jobId": uuid, "type": "Status Change", "time": "2026-01-05T09:00:00Z", "newState": "ON HOLD",
         "msg": "Job submitted on hold"},
        {"jobId": uuid, "type": "Status Change", "time": "2026-01-05T09:00:00Z", "newState": "QUEUED",
         "msg": "Job released from hold"},
    ]


def test_version_clusters_and_slaves(emulator: RunningEmulator) -> None:
    version = requests.get(emulator.api_root("4.0") + "version", timeout=TIMEOUT).json()
    assert version["latest_client_version"] == "3.11.12"
    submit(emulator, make_job(gpus=2))
    emulator.advance(2)
    slaves = requests.get(emulator.api_root() + "slaves", timeout=TIMEOUT).json()
    assert [(s["name"], s["gpu"]["used"], s["gpu"]["available"]) for s in slaves] == [("gpu1", 2, 2),
                                                                                         ("gpu2", 0, 4)]
    assert slaves[0]["activeJobsCounts"]["assigned"] == 1
    clusters = requests.get(emulator.api_root() + "clusters", timeout=TIMEOUT).json()
    assert len(clusters) == 1
    assert clusters[0]["gpu"] == {"systemTotal": 8, "acquired": 8, "used": 2, "available": 6}
    assert clusters[0]["slaveCount"] == 2


def test_oversized_bodies_are_refused(emulator: RunningEmulator) -> None:
    url = urlsplit(emulator.api_root())
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=TIMEOUT)
    # announce a body too large and send none: the answer must not wait for it
    connection.request("POST", url.path + "jobs", headers={"Content-Length": str(1024 * 1024 + 1)})
    response = connection.getresponse()
    assert (response.status, response.read()) == (413, b"Content-Length must be 0..1048576, not 1048577\n")
    connection.close()
    assert submit(emulator)  # the server is fine afterwards


@pytest.mark.parametrize("field", ["gpus", "cpus", "cpuMemoryGb"])
def test_a_job_asking_for_more_than_sqlite_counts_waits_for_a_node_that_never_comes(
        emulator: RunningEmulator, field: str) -> None:
    job = make_job()
    job["request"]["resources"][field] = 10 ** 4000  # type: ignore[index]
    uuid = submit(emulator, job)
    emulator.advance(5)
    assert get_job(emulator, uuid)["state"]["scheduling"]["queuedExplanations"] == [  # type: ignore[index]
        "No GPULab node matches the requested resources"]


def test_an_answer_is_one_write(emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    # headers and body apart, the body may wait ~40 ms for the client's delayed ACK of the headers
    uuid = submit(emulator)
    writes: list[bytes] = []
    send, sendall = socket.socket.send, socket.socket.sendall

    def recording_send(self: socket.socket, data: bytes, *args: Any) -> int:
        writes.append(bytes(data))
        return send(self, data, *args)

    def recording_sendall(self: socket.socket, data: bytes, *args: Any) -> None:
        writes.append(bytes(data))
        sendall(self, data, *args)

    monkeypatch.setattr(socket.socket, "send", recording_send)
    monkeypatch.setattr(socket.socket, "sendall", recording_sendall)
    with requests.Session() as session:
        for _ in range(3):  # keep-alive: each answer on the same connection
            assert session.get(emulator.api_root() + f"jobs/{uuid}", timeout=TIMEOUT).status_code == 200
    answers = [data for data in writes if data.startswith(b"HTTP/1.1 ")]
    assert len(answers) == 3
    assert all(data.endswith(b"}") for data in answers)


def test_the_server_loop_sleeps_until_woken_and_stopping_wakes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # socketserver's loop polls for its shutdown: every stop (each test, each --local command, each Ctrl-C of
    # `gpulab-apply emulator`) waited out a poll. The loop waits without a timeout, and stop() wakes it.
    timeouts: list[float | None] = []
    select = selectors.DefaultSelector.select

    def recording_select(self: selectors.DefaultSelector, timeout: float | None = None) -> Any:
        timeouts.append(timeout)
        return select(self, timeout)

    monkeypatch.setattr(selectors.DefaultSelector, "select", recording_select)
    with serve_in_thread(config=MANUAL) as emulator:
        assert requests.get(emulator.api_root() + "version", timeout=TIMEOUT).status_code == 200
    assert timeouts, "the server loop waits in a selector"
    assert set(timeouts) == {None}, "and never polls"
