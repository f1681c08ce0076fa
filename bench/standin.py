"""A bench-only GPULab stand-in: HTTPS with client certificates, jobs read and written with GPULab's own models.

It is NOT the project's emulator: jobs are parsed with ``imecilabt-gpulab-common``'s ``NewJobV4`` and
served as its ``Job``, kept in memory, with no simulation. Benchmarks that compare gpulab-apply with
GPULab's official CLI run against it, so the figure does not depend on the emulator's speed.

``imecilabt-gpulab-common`` is GPL and a test-only oracle: this file lives in ``bench/`` and is never
part of the package. Serves ``GET version``, ``GET jobs`` (v4.0 pages, v3.x ``max_count``),
``POST jobs``, ``GET jobs/{uuid}`` and ``PUT jobs/{uuid}/state/status`` under ``/api/gpulab/vX.Y/``.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
import uuid as uuid_module
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from imecilabt.gpulab.schemas.job2 import Job, JobStatus, NewJobV4

_PATH = re.compile(r"^/api/gpulab/v(?P<version>[34]\.\d)/(?P<rest>[^?]*?)/?$")


class StandIn(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.context = context
        self.lock = threading.Lock()
        self.jobs: dict[str, dict[str, Any]] = {}  # uuid -> the Job as JSON, in submission order

    def get_request(self) -> tuple[Any, Any]:
        sock, address = super().get_request()
        # the handshake happens in the connection's thread (setup), not in the one that accepts
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def reset(self) -> None:
        with self.lock:
            self.jobs.clear()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16  # headers and body in one write
    disable_nagle_algorithm = True
    server: StandIn

    def setup(self) -> None:
        super().setup()
        self.connection.do_handshake()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        match = _PATH.match(url.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if match is None:
            return self._answer(404, "text/plain", b"no such path\n")
        query = parse_qs(url.query)
        rest, version = match["rest"], match["version"]
        try:
            if (method, rest) == ("GET", "version"):
                return self._answer(200, "application/json", b'{"api_version": "%s"}' % version.encode())
            if (method, rest) == ("GET", "jobs"):
                return self._answer(200, "application/json", self._list(query, version).encode())
            if (method, rest) == ("POST", "jobs"):
                return self._answer(200, "text/plain", self._submit(json.loads(body)).encode())
            if method == "GET" and rest.startswith("jobs/"):
                job = self.server.jobs.get(rest.removeprefix("jobs/"))
                return self._answer(200, "application/json", json.dumps(job).encode()) if job else \
                    self._answer(404, "text/plain", b"no such job\n")
            if method == "PUT" and rest.endswith("/state/status"):
                with self.server.lock:
                    job = self.server.jobs[rest.split("/")[1]]
                    job["state"]["status"] = JobStatus[body.decode().strip().strip('"')].value.upper()
                return self._answer(200, "text/plain", b"")
        except (ValueError, KeyError) as exc:
            return self._answer(400, "text/plain", f"{exc}\n".encode())
        return self._answer(404, "text/plain", b"no such endpoint\n")

    def _user(self) -> tuple[str, str]:
        certificate: Any = self.connection.getpeercert()
        names = dict(certificate["subjectAltName"])
        return names["URI"], names["email"]

    def _submit(self, body: dict[str, Any]) -> str:
        scheduling = body.setdefault("request", {}).setdefault("scheduling", {})
        scheduling.setdefault("minDuration", "1 week")  # the server's defaults
        scheduling.setdefault("maxDuration", "2 weeks")
        new = NewJobV4.model_validate(body).model_dump(mode="json", by_alias=True)
        user_urn, email = self._user()
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        job_uuid = str(uuid_module.uuid4())
        new.update({"uuid": job_uuid, "deploymentEnvironment": "production",
                    "owner": {**new["owner"], "userUrn": user_urn, "userEmail": email},
                    "state": {"status": "QUEUED", "scheduling": {},
                              "eventTimes": {"created": now, "statusUpdated": now, "QUEUED": now}}})
        job = json.loads(Job.model_validate(new).model_dump_json(by_alias=True))
        with self.server.lock:
            self.server.jobs[job_uuid] = job
        return job_uuid

    def _list(self, query: dict[str, list[str]], version: str) -> str:
        allowed = {JobStatus[name.strip()].value.upper()
                   for name in (query.get("allowed_states") or [",".join(s.name for s in JobStatus)])[0].split(",")}
        project = query["project_urn"][0] if query.get("project_urn") else None
        with self.server.lock:
            jobs = [job for job in reversed(self.server.jobs.values())
                    if job["state"]["status"] in allowed and (project is None or job["owner"]["projectUrn"] == project)]
        if version == "4.0":
            size = int((query.get("page_size") or ["50"])[0])
            page = int((query.get("page") or ["1"])[0])
            return json.dumps({"items": jobs[(page - 1) * size:page * size]})
        return json.dumps(jobs[:min(200, int((query.get("max_count") or ["10"])[0]))])

    def _answer(self, status: int, content_type: str, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@contextmanager
def serve(cert_file: Path, key_file: Path, client_ca_file: Path) -> Iterator[tuple[StandIn, str]]:
    """The stand-in on a free loopback port: (server, base URL ``https://127.0.0.1:PORT/api/``)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert_file), str(key_file))
    context.load_verify_locations(cafile=str(client_ca_file))
    context.verify_mode = ssl.CERT_REQUIRED
    server = StandIn(context)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server, f"https://127.0.0.1:{server.server_address[1]}/api/"
    finally:
        server.shutdown()
        server.server_close()
