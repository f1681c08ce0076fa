"""A hostile GPULab stand-in: its own small HTTP server on loopback, NOT the emulator.

It answers GPULab's routes (listing, job, submit, status change, log) as a broken or malicious server
would: hostile values in every field of every job (wrong types, escape sequences, GitHub workflow
commands, lone surrogates, huge names), and answers cut off mid-body, trickled a byte at a time,
declared or streamed huge, nested absurdly deep, not JSON, corruptly compressed, or paging in a loop.
Each route's behaviour is one of :data:`FAULTS` (or a paging mode for the listing), chosen per test.

A change (POST, PUT) is committed before its answer is spoiled, as a real server would have made it:
the tool must then treat the change as unsure and confirm it by reading GPULab.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import struct
import threading
import time
import uuid as uuid_module
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from gpulab_apply.emulator import TLSSettings
from gpulab_apply.gpulab.local import LOCAL_PROJECT_URN, LOCAL_USER_URN

#: how a route answers
OK = "ok"
CUT = "cut"  # Content-Length promises more than is sent, then the connection closes
CUT_CHUNKED = "cut-chunked"  # chunked, one chunk, then the connection closes
TRICKLE = "trickle"  # one byte every TRICKLE_SECONDS, for as long as the client listens
HUGE_DECLARED = "huge-declared"  # Content-Length: 300 MB, then a trickle
HUGE_STREAMED = "huge-streamed"  # chunked, megabytes without end
DEEP = "deep"  # JSON nested 200,000 deep
NOT_JSON = "not-json"  # an HTML page whose title holds escape sequences
BAD_GZIP = "bad-gzip"  # Content-Encoding: gzip over bytes that are not gzip
SURROGATE = "surrogate"  # valid JSON holding a lone surrogate
RESET = "reset"  # the connection is reset without an answer
DEEP_ERROR = "deep-error"  # 500 whose JSON body is nested 100,000 deep
EVIL_REDIRECT = "evil-redirect"  # 302 to a Location full of escape sequences and a workflow command
EVIL_STATUS = "evil-status"  # 503 with escape sequences in the reason phrase, a 5,000-digit Retry-After and Date
EVIL_LENGTH = "evil-length"  # a Content-Length of 5,000 digits
FAULTS = (OK, CUT, CUT_CHUNKED, TRICKLE, HUGE_DECLARED, DEEP, NOT_JSON, BAD_GZIP, SURROGATE, RESET, DEEP_ERROR,
          EVIL_REDIRECT, EVIL_STATUS, EVIL_LENGTH)
#: the escape sequences and workflow command that evil headers carry
EVIL_TEXT = "\x1b]52;c;cHduZWQ=\x07\x1b[2J\x9b::error::INJECTED"
#: extra listing modes (v4.0 paging)
LOOP_PAGES = "loop-pages"  # pages 1, 2, 1, 2, ... each full
ENDLESS_PAGES = "endless-pages"  # every page two new jobs, never a short page

TRICKLE_SECONDS = 0.05
#: how long a trickle or stream goes on at most when the client never gives up (the test then fails on time)
GIVE_UP_SECONDS = 60.0
V4_ROOT = "/api/gpulab/v4.0/"


def marker(set_name: str = "lab", *, spec: str = "0123456789abcdef") -> str:
    return f"[gpulab-apply v2 set={set_name} spec={spec} run=r1]"


def job(name: object, *, uuid: object = None, description: object = None, status: object = "RUNNING",
        request: object = None, owner: object = None, created: object = "2026-11-23T10:00:00Z",
        **extra: Any) -> dict[str, Any]:
    """A job object as GPULab answers it, owned by this tool's set ``lab`` unless told otherwise."""
    return {
        "uuid": str(uuid_module.uuid4()) if uuid is None else uuid,
        "name": name,
        "description": marker() if description is None else description,
        "request": {"resources": {"cpus": 1, "gpus": 1, "cpuMemoryGb": 2},
                    "docker": {"image": "debian:stable", "command": "nvidia-smi"}} if request is None else request,
        "owner": {"projectUrn": LOCAL_PROJECT_URN, "userUrn": LOCAL_USER_URN} if owner is None else owner,
        "state": {"status": status, "eventTimes": {"created": created}},
        **extra,
    }


@dataclass
class Behaviour:
    """How each route answers; ``jobs`` are listed and read back; ``log`` is every job's log."""

    jobs: list[dict[str, Any]] = field(default_factory=list)
    listing: str = OK
    job: str = OK
    submit: str = OK
    status: str = OK
    log: str = OK
    log_text: bytes = b"step 1\nstep 2\n"
    #: routes ("listing", "job", "submit", "status", "log") whose fault spoils only their first answer
    once: frozenset[str] = frozenset()
    #: whom a submitted job belongs to (the certificate's user over TLS)
    user_urn: str = LOCAL_USER_URN
    #: every request, as "METHOD path"
    seen: list[str] = field(default_factory=list)
    #: the page each listing request asked for (1 without ``page``), in order of arrival
    pages: list[int] = field(default_factory=list)


class HostileGpulab:
    """``with HostileGpulab(Behaviour(...)) as server: server.endpoint``."""

    def __init__(self, behaviour: Behaviour, *, tls: TLSSettings | None = None) -> None:
        """Plain HTTP, or with ``tls`` HTTPS asking for a client certificate (a cut then ends a TLS record
        mid-way, without close_notify)."""
        self.behaviour = behaviour
        self._scheme = "https" if tls else "http"
        self._lock = threading.Lock()
        self._used: set[str] = set()
        handler = type("Handler", (_Handler,), {"server_state": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(tls.cert_file, tls.key_file)
            context.load_verify_locations(tls.client_ca_file)
            context.verify_mode = ssl.CERT_OPTIONAL
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        # a short poll: every test stops a server, and the default 0.5 s would be paid at each stop
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01},
                                        name="hostile-gpulab", daemon=True)

    @property
    def endpoint(self) -> str:
        return f"{self._scheme}://127.0.0.1:{self._server.server_address[1]}{V4_ROOT}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- state -------------------------------------------------------------------------------------

    def find(self, uuid: str) -> dict[str, Any] | None:
        with self._lock:
            return next((j for j in self.behaviour.jobs if isinstance(j, Mapping) and j.get("uuid") == uuid), None)

    def store(self, body: Mapping[str, Any]) -> str:
        given = body.get("owner")
        owner: dict[str, Any] = given if isinstance(given, dict) else {}
        new = job(body.get("name"), description=body.get("description"), request=body.get("request"),
                  owner={**owner, "userUrn": self.behaviour.user_urn}, status="QUEUED")
        with self._lock:
            self.behaviour.jobs.insert(0, new)
        return str(new["uuid"])

    def fault(self, route: str) -> str:
        """How ``route`` answers this time (a fault given ``once`` spoils only the first answer)."""
        with self._lock:
            fault: str = getattr(self.behaviour, route)
            if route in self.behaviour.once:
                if route in self._used:
                    return OK
                self._used.add(route)
            return fault

    def set_status(self, uuid: str, status: str) -> bool:
        with self._lock:
            found = next((j for j in self.behaviour.jobs if isinstance(j, Mapping) and j.get("uuid") == uuid), None)
            if found is None or not isinstance(found.get("state"), dict):
                return False
            found["state"]["status"] = status
            return True


class _Handler(BaseHTTPRequestHandler):
    server_state: HostileGpulab
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_PUT(self) -> None:
        self._route("PUT")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    def _route(self, method: str) -> None:
        state = self.server_state
        behaviour = state.behaviour
        url = urlsplit(self.path)
        path = url.path.removeprefix(V4_ROOT).removeprefix("/api/gpulab/v3.1/")
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        behaviour.seen.append(f"{method} {path}")
        parts = path.strip("/").split("/")
        if method == "GET" and parts == ["jobs"]:
            self._listing(behaviour, query)
        elif method == "GET" and len(parts) == 2 and parts[0] == "jobs":
            found = state.find(parts[1])
            if found is None:
                self._send(OK, 404, b'{"message": "no such job"}')
            else:
                self._send(state.fault("job"), 200, json.dumps(found).encode())
        elif method == "GET" and parts[-1:] == ["log"]:
            self._send(state.fault("log"), 200, behaviour.log_text, content_type="text/plain")
        elif method == "POST" and parts == ["jobs"]:
            try:
                submitted = json.loads(body)
            except ValueError:
                self._send(OK, 400, b'{"message": "not JSON"}')
                return
            uuid = state.store(submitted)
            self._send(state.fault("submit"), 201, uuid.encode(), content_type="text/plain")
        elif method == "PUT" and parts[-2:] == ["state", "status"]:
            changed = state.set_status(parts[1], body.decode(errors="replace").strip())
            if changed:  # a body, so that there is something to cut
                self._send(state.fault("status"), 200, json.dumps({"status": body.decode(errors="replace")}).encode())
            else:
                self._send(OK, 404, b'{"message": "no such job"}')
        elif method == "GET" and parts == ["version"]:
            self._send(OK, 200, b'{"version": "4.0"}')
        else:
            self._send(OK, 404, b'{"message": "no such route"}')

    def _listing(self, behaviour: Behaviour, query: Mapping[str, str]) -> None:
        page = int(query.get("page", "1") or 1)
        behaviour.pages.append(page)
        size = int(query.get("page_size", "500") or 500)
        jobs = behaviour.jobs
        if behaviour.listing == LOOP_PAGES:
            start = 0 if page % 2 else size
            items = [job(f"loop-{i}", uuid=f"loop-{i}", description="other") for i in range(start, start + size)]
        elif behaviour.listing == ENDLESS_PAGES:
            items = [job(f"n-{page}-{i}", uuid=f"n-{page}-{i}", description="other") for i in range(2)]
        else:
            items = jobs[(page - 1) * size:page * size]
        fault = OK if behaviour.listing in (LOOP_PAGES, ENDLESS_PAGES) else self.server_state.fault("listing")
        self._send(fault, 200, json.dumps({"items": items}).encode())

    # --- answering, well or badly ------------------------------------------------------------------

    def _send(self, fault: str, status: int, body: bytes, *, content_type: str = "application/json") -> None:
        if fault == RESET:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        if fault == DEEP:
            body = b"[" * 200_000 + b"]" * 200_000
        elif fault == NOT_JSON:
            body, content_type = b"<html><title>\x1b]52;c;cHduZWQ=\x07Oops \x1b[2J::error::x</title></html>", "text/html"
        elif fault == SURROGATE:
            body = b'{"items": [{"uuid": "a", "name": "\\ud800"}], "uuid": "\\udfff"}'
        elif fault == DEEP_ERROR:
            status, body = 500, b'{"message":' * 100_000 + b"1" + b"}" * 100_000
        if fault in (EVIL_REDIRECT, EVIL_STATUS, EVIL_LENGTH):
            self._evil(fault)
            return
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.close_connection = fault != OK
        try:
            if fault == CUT:
                whole = body if len(body) > 8 else body + b" " * 64
                self.send_header("Content-Length", str(len(whole) * 2))
                self.end_headers()
                self.wfile.write(whole[: len(whole) // 2])
            elif fault == CUT_CHUNKED:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                half = body[: max(1, len(body) // 2)]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(half), half))
            elif fault in (TRICKLE, HUGE_DECLARED):
                self.send_header("Content-Length", str(300_000_000 if fault == HUGE_DECLARED else len(body) + 10**6))
                self.end_headers()
                self._trickle(body)
            elif fault == HUGE_STREAMED:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                self._stream()
            elif fault == BAD_GZIP:
                self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(body) + 16))
                self.end_headers()
                self.wfile.write(b"\x1f\x8b\x08\x00not gzip at all" + body[:1])
            else:
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            self.wfile.flush()
        except OSError:  # the client gave up, as it should
            self.close_connection = True

    def _evil(self, fault: str) -> None:
        """Answers whose status line or headers carry what a terminal or CI would obey, or absurd numbers."""
        if fault == EVIL_REDIRECT:
            self.send_response_only(302)
            self.send_header("Location", "https://evil.example/" + EVIL_TEXT)
        elif fault == EVIL_STATUS:
            self.send_response_only(503, EVIL_TEXT)
            self.send_header("Retry-After", "9" * 5000)
            self.send_header("Date", "Mon, 01 Jan 99999999 00:00:00 GMT")
        else:
            self.send_response_only(200)
            self.send_header("Content-Length", "9" * 5000)
        self.send_header("Content-Type", "text/plain; charset=" + EVIL_TEXT[:8])
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.wfile.write(b"x" * 16)
            self.wfile.flush()

    def _trickle(self, body: bytes) -> None:
        ends = time.monotonic() + GIVE_UP_SECONDS
        for index in range(len(body) + 10**6):
            if time.monotonic() > ends:
                return
            self.wfile.write(body[index:index + 1] or b" ")
            self.wfile.flush()
            time.sleep(TRICKLE_SECONDS)

    def _stream(self) -> None:
        chunk = b"[" + b" " * (1024 * 1024 - 1)
        ends = time.monotonic() + GIVE_UP_SECONDS
        while time.monotonic() < ends:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))


@contextmanager
def hostile(behaviour: Behaviour | None = None, *, tls: TLSSettings | None = None,
            **changes: Any) -> Iterator[HostileGpulab]:
    """A running stand-in for one test."""
    with HostileGpulab(behaviour or Behaviour(**changes), tls=tls) as server:
        yield server
