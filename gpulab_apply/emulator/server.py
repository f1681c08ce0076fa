"""GPULab's HTTP API on the standard library's threading HTTP server: routing, identity, faults, TLS.

Paths are GPULab's: ``/api/gpulab/v{3.0,3.1,4.0}/...``. Answers are JSON, except the UUID a POST
returns and error messages, which are plain text (GPULab has no error schema).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import selectors
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from gpulab_apply.emulator.config import TLSSettings
from gpulab_apply.emulator.faults import Faults
from gpulab_apply.emulator.http_error import HttpError
from gpulab_apply.emulator.listing import flag, parse_listing
from gpulab_apply.emulator.service import Emulator
from gpulab_apply.gpulab.answers import deeper_than
from gpulab_apply.gpulab.api import API_VERSIONS, ApiVersion
from gpulab_apply.gpulab.identity import Identity

logger = logging.getLogger("gpulab_apply.emulator")

#: larger request bodies are refused (413); a Job2 body is a few kilobytes
MAX_BODY_BYTES = 1 << 20
#: deeper JSON is refused (400): a Job2 nests 5 levels, and deeper ones exhaust recursive code (500s)
MAX_JSON_DEPTH = 64
_PREFIX = re.compile(r"^/api/gpulab/v(?P<version>\d+\.\d+)/(?P<rest>.*?)/?$")
_UUID = r"(?P<uuid>[^/]+)"


@dataclass(frozen=True)
class _Route:
    pattern: re.Pattern[str]
    template: str
    methods: dict[str, str]  # HTTP method -> handler method name


_ROUTES = tuple(
    _Route(re.compile(f"^{pattern}$"), template, methods)
    for pattern, template, methods in (
        ("version", "version", {"GET": "_version"}),
        ("clusters", "clusters", {"GET": "_clusters"}),
        ("slaves", "slaves", {"GET": "_slaves"}),
        ("jobs", "jobs", {"GET": "_list_jobs", "POST": "_submit_job"}),
        (f"jobs/{_UUID}", "jobs/{uuid}", {"GET": "_get_job", "DELETE": "_delete_job"}),
        (f"jobs/{_UUID}/state/status", "jobs/{uuid}/state/status", {"PUT": "_set_status"}),
        (f"jobs/{_UUID}/log", "jobs/{uuid}/log", {"GET": "_get_log"}),
        (f"jobs/{_UUID}/debug", "jobs/{uuid}/debug", {"GET": "_get_debug"}),
    )
)


def server_ssl_context(tls: TLSSettings) -> ssl.SSLContext:
    """Mutual TLS as GPULab does it: the client must present a certificate from ``client_ca_file``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(tls.cert_file), str(tls.key_file))
    context.load_verify_locations(cafile=str(tls.client_ca_file))
    context.verify_mode = ssl.CERT_REQUIRED
    return context


class EmulatorServer(ThreadingHTTPServer):
    """One listening socket; a thread per connection; TLS handshakes happen in those threads.

    Served by :meth:`serve` until :meth:`stop`, which wakes the loop at once. socketserver's own loop
    (``serve_forever``) notices ``shutdown`` only at its next poll: a delay that every ``--local`` command, every
    test and every Ctrl-C of ``gpulab-apply emulator`` would wait out, or a loop waking up many times a second.
    """

    daemon_threads = True
    request_queue_size = 256
    #: handle_request() takes a connection that is already waiting, and never blocks the loop for another
    timeout = 0

    def __init__(self, address: tuple[str, int], *, emulator: Emulator, faults: Faults,
                 ssl_context: ssl.SSLContext | None) -> None:
        self.emulator = emulator
        self.faults = faults
        self.ssl_context = ssl_context
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        # stop() writes a byte here: the loop's select returns at once
        self._wake, self._waker = socket.socketpair()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def serve(self) -> None:
        """Accept connections (each served in its own thread) until :meth:`stop`."""
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(self, selectors.EVENT_READ)
                selector.register(self._wake, selectors.EVENT_READ)
                while not self._stopping.is_set():
                    ready = selector.select()
                    if not self._stopping.is_set() and any(key.fileobj is self for key, _ in ready):
                        self.handle_request()  # accepts the waiting connection and hands it to a thread
        finally:
            self._stopped.set()

    def stop(self) -> None:
        """End :meth:`serve` and wait until it has returned (it must have been started)."""
        self._stopping.set()
        with contextlib.suppress(OSError):  # the wake-up byte is already there
            self._waker.send(b"\0")
        self._stopped.wait()

    def server_close(self) -> None:
        super().server_close()
        self._wake.close()
        self._waker.close()

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        if self.ssl_context is not None:
            sock = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        with self._connections_lock:
            self._connections.add(sock)
        return sock, address

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Drop every open (keep-alive) connection, so no handler outlives the server."""
        with self._connections_lock:
            connections = list(self._connections)
        for sock in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, OSError):  # a failed TLS handshake, a client that hung up: routine
            logger.debug("connection from %s ended: %s", client_address, error)
        else:
            logger.error("connection from %s failed", client_address, exc_info=error)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "gpulab-apply-emulator"
    #: idle keep-alive connections are closed after this many seconds
    timeout = 30
    # An answer's headers and body go out in one write (the server flushes after each request), so an
    # answer up to 64 KiB is one TCP segment (and one TLS record), not a header segment whose ACK the
    # client delays ~40 ms before the body may follow. And no Nagle: the answers that are longer, or a
    # next answer on the same connection, never wait for an ACK either.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    server: EmulatorServer

    def setup(self) -> None:
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()

    def date_time_string(self, timestamp: float | None = None) -> str:
        # the Date header follows the simulated clock, as a real server's follows its own
        return super().date_time_string(self.server.emulator.clock.now() if timestamp is None else timestamp)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    # --- dispatch -----------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        self.query = parse_qs(url.query, keep_blank_values=True)
        fault_headers: dict[str, str] = {}
        try:
            self.body = self._read_body()
            handler, self.version, self.uuid, template = self._route(method, url.path)
            decision = self.server.faults.decide(f"{method} {template}")
            if decision.latency:
                time.sleep(decision.latency)
            if decision.error_status is not None:
                if decision.retry_after is not None:
                    fault_headers["Retry-After"] = str(decision.retry_after)
                phrase = HTTPStatus(decision.error_status).phrase
                raise HttpError(decision.error_status, f"Emulated fault: {decision.error_status} {phrase}")
            status, content_type, payload, headers = handler()
        except HttpError as error:
            status, content_type, payload, headers = error.status, "text/plain; charset=utf-8", \
                (error.message + "\n").encode(), fault_headers
            if error.status == 405:
                headers = {"Allow": self._allowed}
        except Exception:
            # A bug in the emulator: answer like a server would instead of dropping the connection.
            logger.exception("%s %s failed", method, self.path)
            status, content_type, payload, headers = 500, "text/plain; charset=utf-8", \
                b"Internal error in the GPULab emulator (see its log)\n", {}
        else:
            if decision.drop_after_commit:
                logger.info("fault: dropping the connection after %s %s", method, url.path)
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
        self._send(status, content_type, payload, headers)

    def _route(self, method: str, path: str) -> tuple[Callable[[], Any], str, str | None, str]:
        match = _PREFIX.match(path)
        if match is None:
            raise HttpError(404, f"No such path: {path} (the API lives under /api/gpulab/v4.0/ and v3.x)")
        version = match["version"]
        if version not in API_VERSIONS:
            raise HttpError(404, f"API version v{version} is not served; use one of "
                                 f"{', '.join('v' + v for v in API_VERSIONS)}")
        for route in _ROUTES:
            found = route.pattern.match(match["rest"])
            if found is None:
                continue
            if method not in route.methods:
                self._allowed = ", ".join(route.methods)
                raise HttpError(405, f"{method} is not allowed on {route.template}; allowed: {self._allowed}")
            return getattr(self, route.methods[method]), version, found.groupdict().get("uuid"), route.template
        raise HttpError(404, f"No such endpoint: {path}")

    def _read_body(self) -> bytes:
        text = self.headers.get("Content-Length")
        if text is None:
            return b""
        try:
            length = int(text)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            self.close_connection = True  # the unread body would be taken for the next request
            raise HttpError(413 if length > 0 else 400, f"Content-Length must be 0..{MAX_BODY_BYTES}, not {text}")
        return self.rfile.read(length)

    def _send(self, status: int, content_type: str | None, payload: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()  # into the write buffer (wbufsize): sent with the body when the answer is flushed
        if payload and self.command != "HEAD":
            self.wfile.write(payload)

    # --- identity -----------------------------------------------------------------------------------

    def _identity(self) -> Identity:
        config = self.server.emulator.config
        if not isinstance(self.connection, ssl.SSLSocket):
            return Identity(config.default_user_urn, config.default_user_email)
        certificate = self.connection.getpeercert() or {}
        names: Any = certificate.get("subjectAltName", ())  # ((kind, value), ...)
        urns = [str(value) for kind, value in names if kind == "URI"]
        emails = [str(value) for kind, value in names if kind == "email"]
        if not urns or not emails:
            raise HttpError(403, "The client certificate has no user URN and e-mail in its subjectAltName")
        return Identity(urns[0], emails[0])

    # --- endpoints ----------------------------------------------------------------------------------

    def _json(self, value: Any) -> tuple[int, str, bytes, dict[str, str]]:
        return 200, "application/json", json.dumps(value, separators=(",", ":")).encode(), {}

    def _version(self) -> tuple[int, str, bytes, dict[str, str]]:
        config = self.server.emulator.config
        return self._json({"latest_client_version": config.latest_client_version,
                           "server": "gpulab-apply emulator", "api_version": self.version})

    def _clusters(self) -> tuple[int, str, bytes, dict[str, str]]:
        return self._json(self.server.emulator.clusters())

    def _slaves(self) -> tuple[int, str, bytes, dict[str, str]]:
        return self._json(self.server.emulator.slaves())

    def _list_jobs(self) -> tuple[int, str, bytes, dict[str, str]]:
        emulator = self.server.emulator
        query = parse_listing(self.query, version=self.version, now=emulator.clock.now())
        texts = emulator.list_texts(query, self.version)
        items = "[" + ",".join(texts) + "]"
        payload = '{"items":' + items + "}" if ApiVersion(self.version).is_v4 else items
        return 200, "application/json", payload.encode(), {}

    def _submit_job(self) -> tuple[int, str, bytes, dict[str, str]]:
        job = parse_json(self.body)
        hold = bool(flag(self.query, "hold"))
        job_uuid = self.server.emulator.submit(job, version=self.version, identity=self._identity(), hold=hold)
        return 200, "text/plain; charset=utf-8", job_uuid.encode(), {}

    def _get_job(self) -> tuple[int, str, bytes, dict[str, str]]:
        assert self.uuid is not None
        return 200, "application/json", self.server.emulator.job_text(self.uuid, self.version).encode(), {}

    def _delete_job(self) -> tuple[int, str, bytes, dict[str, str]]:
        assert self.uuid is not None
        self.server.emulator.delete(self.uuid, finished=bool(flag(self.query, "finished")), identity=self._identity())
        return 200, "text/plain; charset=utf-8", b"", {}

    def _set_status(self) -> tuple[int, str, bytes, dict[str, str]]:
        assert self.uuid is not None
        try:
            requested = self.body.decode()
        except UnicodeDecodeError:
            raise HttpError(400, "The status must be UTF-8 text") from None
        self.server.emulator.set_status(self.uuid, requested, identity=self._identity())
        return 200, "text/plain; charset=utf-8", b"", {}

    def _get_log(self) -> tuple[int, str | None, bytes, dict[str, str]]:
        assert self.uuid is not None
        log = self.server.emulator.log(self.uuid).encode()
        start, end = _byte_range(self.headers.get("Range"), len(log))
        if start >= len(log):
            return 204, None, b"", {}
        if self.headers.get("Range") is None:
            return 200, "text/plain; charset=utf-8", log, {}
        return 206, "text/plain; charset=utf-8", log[start:end + 1], \
            {"Content-Range": f"bytes {start}-{end}/{len(log)}"}

    def _get_debug(self) -> tuple[int, str, bytes, dict[str, str]]:
        assert self.uuid is not None
        return self._json(self.server.emulator.debug_events(self.uuid, self.version))


def parse_json(body: bytes) -> Any:
    """A request body as JSON, or a 400 that says why not (also for what Python's parser cannot take)."""
    try:
        value = json.loads(body)
    except RecursionError:
        raise HttpError(400, f"The request body nests JSON more than {MAX_JSON_DEPTH} levels deep") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HttpError(400, f"The request body is not valid JSON: {exc}") from None
    except ValueError:  # Python reads integers of at most 4,300 digits
        raise HttpError(400, "The request body holds a number too long to read (more than 4300 digits)") from None
    if deeper_than(value, MAX_JSON_DEPTH):
        raise HttpError(400, f"The request body nests JSON more than {MAX_JSON_DEPTH} levels deep")
    return value


def _byte_range(header: str | None, size: int) -> tuple[int, int]:
    """``bytes=N-`` or ``bytes=N-M`` -> (first, last) byte; the whole log without a header."""
    if header is None:
        return 0, size - 1
    match = re.fullmatch(r"\s*bytes=(\d+)-(\d*)\s*", header)
    if match is None:
        raise HttpError(416, f"Unsupported Range header {header!r}; use bytes=N- or bytes=N-M")
    start = int(match[1])
    end = min(int(match[2]), size - 1) if match[2] else size - 1
    if match[2] and end < start:
        raise HttpError(416, f"Empty byte range {header!r}")
    return start, end
