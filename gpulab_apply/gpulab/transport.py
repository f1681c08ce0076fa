"""One GPULab API root over HTTP(S): the session, timeouts, retries, and what each failure means.

One ``requests.Session`` with a client-certificate TLS context, timeouts on every call, retries with
exponential backoff and jitter for idempotent requests (GET/PUT/DELETE) on connection errors and
429/500/502/503/504 (``Retry-After`` honoured), and never a blind retry of a POST: a request that
may have reached the server raises :class:`AmbiguousSubmitError` (docs/plan-apply.md#apply).
Answers that are not 2xx become this tool's errors here, with a hint of what to do.

Every answer is bounded (docs/client.md#limits): it is read whole here, in pieces, and given up when it is
not complete within ``Timeouts.read`` (a watchdog shuts the connection down, so a server that trickles a
byte now and then cannot hold a command) or grows past ``AnswerLimits.max_bytes``. An answer cut off
mid-way (mid-body, mid-TLS record, corrupt compression) is a lost answer like a dropped connection: a GET
is retried, a POST is ambiguous, a PUT or DELETE is confirmed by reading the job back.

Thread safety: one transport may be shared by threads. Requests only read the session's settings,
and urllib3's pool hands each thread its own connection; ``max_connections`` connections are kept,
so make it at least the number of threads.

With :mod:`gpulab.failures`, the only place that imports ``requests``.
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Self
from urllib.parse import unquote, urlsplit

import requests
import requests.adapters
import requests.utils
import urllib3.connectionpool

from gpulab_apply import __version__
from gpulab_apply.errors import (
    AmbiguousSubmitError,
    CertificateError,
    ConfigError,
    ConnectionFailedError,
    GpulabApplyError,
    ServerError,
)
from gpulab_apply.gpulab.answers import UnexpectedAnswer, one_line, parse_json, summarize
from gpulab_apply.gpulab.api import ApiVersion
from gpulab_apply.gpulab.failures import (
    TRANSPORT_ERRORS,
    AnswerTimedOut,
    connection_reason,
    is_hang_up,
    is_unresolvable,
    may_have_reached_server,
)
from gpulab_apply.gpulab.local import has_userinfo, is_loopback, request_host
from gpulab_apply.gpulab.policy import DEFAULT_ENDPOINT, AnswerLimits, RetryPolicy, Timeouts
from gpulab_apply.gpulab.tls import ssl_reason, tls_failure

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: how every GPULab API root's path ends (the version part is judged separately)
_GPULAB_ROOT_PATH = re.compile(r"/api/gpulab/v[^/]*/$")
#: TLS alerts by which a server says it does not accept our client certificate
_REJECTION_ALERTS = ("BAD_CERTIFICATE", "UNKNOWN_CA", "CERTIFICATE_UNKNOWN", "CERTIFICATE_REQUIRED",
                     "CERTIFICATE_EXPIRED", "CERTIFICATE_REVOKED", "ACCESS_DENIED", "UNSUPPORTED_CERTIFICATE")
_CERT_HINT = "Check --cert / GPULAB_CERT: GPULab accepts iLab.t login certificates only."
_AMBIGUOUS_HINT = "Run apply again: it looks for this run's marker before submitting again."


class _ClientCertAdapter(requests.adapters.HTTPAdapter):
    """Mounts our own SSLContext, as GPULab's CLI does: ``requests``' ``cert=`` cannot take a password.

    It also keeps ``requests`` from adding certifi's bundle on top of the trust chosen in the context
    (a given CA bundle means *only* that CA).
    """

    def __init__(self, ssl_context: ssl.SSLContext | None, *, max_connections: int) -> None:
        self._ssl_context = ssl_context
        # max_retries=0: retries are decided in Transport, where POST is known to be special.
        super().__init__(pool_connections=4, pool_maxsize=max_connections, max_retries=0)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        if self._ssl_context is not None:
            pool_kwargs["ssl_context"] = self._ssl_context
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        # pools that tell the running request's watchdog which connection it uses
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        if self._ssl_context is None:
            super().cert_verify(conn, url, verify, cert)
            return
        conn.cert_reqs = "CERT_REQUIRED"
        conn.ca_certs = None
        conn.ca_cert_dir = None


#: the watchdog of the request this thread is making, if any (each request runs in one thread)
_running = threading.local()


class _Watchdog:
    """Ends an answer that is not complete by its deadline, by shutting its connection's socket down.

    A per-read timeout cannot bound an answer: a server that sends one byte every half second never lets
    a read time out. Shutting the socket down wakes whatever read is blocked, wherever it is (status
    line, headers, body, TLS record), with an end of stream; the transport then reports the time-out.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.fired = False
        self._done = False
        self._connection: Any = None
        #: the answer, as soon as its headers are in: closed here if ``requests`` fails after that point
        self.response: requests.Response | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> Self:
        _running.watchdog = self
        self._timer.start()
        return self

    def __exit__(self, *_: object) -> None:
        _running.watchdog = None
        with self._lock:
            self._done = True
        self._timer.cancel()

    def keep(self, response: requests.Response, *_: Any, **__: Any) -> requests.Response:
        """A ``requests`` response hook: remember the answer, so that it can be closed whatever happens next."""
        self.response = response
        return response

    def watch(self, connection: Any) -> None:
        with self._lock:
            self._connection = connection

    def fire(self) -> None:
        """End the answer now, as if its time were up."""
        self._fire()

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            sock = getattr(self._connection, "sock", None)
            if sock is None:  # still connecting: the connect timeout bounds that
                return
            # the plain socket's shutdown, not SSLSocket's (which would drop the TLS object under a reader)
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _watched(connection: Any) -> Any:
    watchdog: _Watchdog | None = getattr(_running, "watchdog", None)
    if watchdog is not None:
        watchdog.watch(connection)
    return connection


class _WatchedHTTPPool(urllib3.connectionpool.HTTPConnectionPool):
    def _get_conn(self, timeout: float | None = None) -> Any:
        return _watched(super()._get_conn(timeout))


class _WatchedHTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    def _get_conn(self, timeout: float | None = None) -> Any:
        return _watched(super()._get_conn(timeout))


class _Oversized(Exception):
    """An answer grew past the size limit; reading it stopped there."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the answer is larger than {_size(limit)}")
        self.limit = limit


def _size(count: int) -> str:
    return f"{count / 1024 / 1024:g} MiB" if count >= 1024 * 1024 else f"{count} bytes"


def _read_whole(response: requests.Response, limit: int) -> None:
    """Read the body of a streamed answer into it, stopping past ``limit`` bytes (after decompression)."""
    declared = response.headers.get("Content-Length", "").strip()
    if re.fullmatch(r"[0-9]+", declared) and (len(declared) > 18 or int(declared) > limit):
        response.close()
        raise _Oversized(limit)
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if size > limit:
            response.close()
            raise _Oversized(limit)
        chunks.append(chunk)
    # requests keeps a read body here; .content, .text and .json() then use it
    response._content = b"".join(chunks)
    if response.encoding is None:
        # GPULab speaks UTF-8; without this, .text would guess the encoding over the whole body (slow)
        response.encoding = "utf-8"


class Transport:
    """Requests to one versioned API root, retried where safe, failures turned into this tool's errors."""

    def __init__(self, api_root: str, *, api_version: ApiVersion, ssl_context: ssl.SSLContext | None,
                 timeouts: Timeouts, retry: RetryPolicy, max_connections: int,
                 on_retry: Callable[[str], None] | None = None, limits: AnswerLimits | None = None) -> None:
        self.api_root = api_root
        #: how large and deep an answer may be (docs/client.md#limits)
        self.limits = limits or AnswerLimits()
        self.api_version = api_version
        self.host = _judged_host(api_root)
        self.client_certificate = ssl_context is not None
        #: set once GPULab has answered anything, i.e. (over TLS) accepted the client certificate
        self.answered = False
        #: GPULab's clock, from the ``Date`` header of its last answer (None before any answer): the v3.x
        #: listing window is measured on it (docs/plan-apply.md#limits-per-api-version)
        self.server_time: datetime | None = None
        self._timeouts = timeouts
        self._retry = retry
        #: told each retry in words ("GET jobs failed (...); retrying in 1.2 s (attempt 2 of 6)"), e.g. to
        #: show it on a terminal instead of seconds of silence
        self._on_retry = on_retry
        #: set by :meth:`abandon`: requests in flight are ended, and no request is sent or retried any more
        self._abandoned = threading.Event()
        self._in_flight: set[_Watchdog] = set()
        self._in_flight_lock = threading.Lock()
        refuse_proxy(api_root, self.host)
        session = requests.Session()
        # We decide trust (the SSLContext) and proxies ourselves; netrc and REQUESTS_CA_BUNDLE stay out.
        session.trust_env = False
        session.headers["User-Agent"] = f"gpulab-apply/{__version__} {requests.utils.default_user_agent()}"
        adapter = _ClientCertAdapter(ssl_context, max_connections=max_connections)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        self._session = session

    def close(self) -> None:
        self._session.close()

    def abandon(self) -> None:
        """End every request in flight at once, and send or retry none any more: nobody waits for their answers
        (a listing read ahead of job files that turned out invalid, docs/plan-apply.md#speed). Each ends in a
        :class:`ConnectionFailedError`; the threads making them, page readers included, end with it, so the
        process can exit instead of waiting out a slow answer."""
        self._abandoned.set()
        with self._in_flight_lock:
            running = list(self._in_flight)
        for watchdog in running:
            watchdog.fire()

    def _refuse_if_abandoned(self, method: str, path: str) -> None:
        if self._abandoned.is_set():
            raise ConnectionFailedError(f"{method} {path} was abandoned: its answer is no longer wanted")

    def request(self, method: str, path: str, *, what: str, params: Mapping[str, Any] | None = None,
                json_body: Mapping[str, Any] | None = None, data: bytes | None = None,
                headers: Mapping[str, str] | None = None, idempotent: bool = True,
                ok: Sequence[int] = ()) -> requests.Response:
        """Send one request with timeouts, retrying what is safe to retry; return a 2xx (or ``ok``) answer."""
        response = self._exchange(method, path, what=what, params=params, json_body=json_body, data=data,
                                  headers=headers, idempotent=idempotent, ok=ok, confirm=None)
        assert response is not None  # only a confirmation ends the exchange without an answer
        return response

    def change(self, method: str, path: str, *, what: str, confirm: Callable[[], bool],
               params: Mapping[str, Any] | None = None, data: bytes | None = None,
               headers: Mapping[str, str] | None = None) -> None:
        """An idempotent change (PUT, DELETE) whose answer may be lost after GPULab made it.

        When the connection fails after the request was sent, ``confirm()`` (a read of the job) says
        whether the change took effect: if so, that is the answer; if not, the request is retried.
        Without this, a lost answer would be retried into a refusal or reported as a failure although
        GPULab did what was asked.
        """
        self._exchange(method, path, what=what, params=params, json_body=None, data=data, headers=headers,
                       idempotent=True, ok=(), confirm=confirm)

    def _exchange(self, method: str, path: str, *, what: str, params: Mapping[str, Any] | None,
                  json_body: Mapping[str, Any] | None, data: bytes | None, headers: Mapping[str, str] | None,
                  idempotent: bool, ok: Sequence[int], confirm: Callable[[], bool] | None) -> requests.Response | None:
        url = self.api_root + path
        attempts = self._retry.retries + 1
        for attempt in range(1, attempts + 1):
            self._refuse_if_abandoned(method, path)
            started = time.monotonic()
            try:
                response = self._answer(method, url, params=params, json_body=json_body, data=data, headers=headers)
            except _Oversized as exc:
                if confirm is not None and confirm():
                    return None
                raise self._oversized(exc, what, idempotent=idempotent) from None
            except TRANSPORT_ERRORS as exc:
                self._refuse_if_abandoned(method, path)
                if confirm is not None and self._confirmed(exc, confirm):
                    log.info("%s %s: the answer was lost, but GPULab made the change", method, path)
                    return None
                failure = self._connection_failure(exc, what, idempotent=idempotent, last=attempt == attempts,
                                                   attempts=attempts)
                if failure is not None:
                    raise failure from None
                self._wait(method, path, connection_reason(exc, self._timeouts), attempt, attempts, None)
                continue
            self.answered = True
            log.debug("%s %s -> %s in %.2f s (attempt %d)", method, unquote(response.url), response.status_code,
                      time.monotonic() - started, attempt)
            status = response.status_code
            self.server_time = _date_header(response) or self.server_time
            if status < 300 or status in ok:
                return response
            if status in RETRY_STATUSES and (idempotent or status == 429) and attempt < attempts:
                retry_after = _retry_after(response)
                if retry_after is None or retry_after <= self._retry.max_retry_after:
                    self._wait(method, path, _status_text(response), attempt, attempts, retry_after)
                    continue
            raise self.http_error(response, what, idempotent=idempotent)
        raise AssertionError("unreachable: the loop returns or raises")

    def _answer(self, method: str, url: str, *, params: Mapping[str, Any] | None, json_body: Mapping[str, Any] | None,
                data: bytes | None, headers: Mapping[str, str] | None) -> requests.Response:
        """One request and its whole answer, within the time and size an answer is allowed."""
        with _Watchdog(self._timeouts.read) as watchdog, self._tracked(watchdog):
            try:
                response = self._session.request(
                    method, url, params=params, json=json_body, data=data, headers=headers, stream=True,
                    timeout=(self._timeouts.connect, self._timeouts.read), allow_redirects=False,
                    hooks={"response": watchdog.keep},
                )
                try:
                    _read_whole(response, self.limits.max_bytes)
                finally:
                    response.close()  # the body is read (or abandoned): give the connection back, or drop it
            except TRANSPORT_ERRORS as exc:
                if watchdog.response is not None:  # e.g. an undecodable Location, after the headers came
                    watchdog.response.close()
                if watchdog.fired and not isinstance(exc, requests.exceptions.ConnectTimeout):
                    raise AnswerTimedOut(watchdog.seconds) from exc
                raise
        return response

    @contextlib.contextmanager
    def _tracked(self, watchdog: _Watchdog) -> Iterator[None]:
        """The request is in flight: :meth:`abandon` can end it (and ends it at once if it came first)."""
        with self._in_flight_lock:
            self._in_flight.add(watchdog)
        if self._abandoned.is_set():
            watchdog.fire()
        try:
            yield
        finally:
            with self._in_flight_lock:
                self._in_flight.discard(watchdog)

    def _oversized(self, exc: _Oversized, what: str, *, idempotent: bool) -> GpulabApplyError:
        message = f"Could not {what}: GPULab's answer is larger than {_size(exc.limit)}, the most this tool reads"
        if not idempotent:
            return AmbiguousSubmitError(message + "; the job may or may not have been created", hint=_AMBIGUOUS_HINT)
        return ServerError(message, status=200, hint="GPULab (or what answers at the endpoint) is not behaving; "
                           "check the endpoint, or report this to the gpulab-apply maintainers.")

    def json(self, response: requests.Response, what: str) -> Any:
        """The answer's JSON, no deeper than the limit and holding only valid text; else a located error."""
        try:
            return parse_json(response.text, max_depth=self.limits.max_depth)
        except UnexpectedAnswer as exc:
            raise ServerError(
                f"GPULab answered something unexpected to GET {what}: {exc}",
                status=response.status_code,
                hint=self.other_version_hint() if exc.not_json else None,
            ) from None

    def other_version_hint(self) -> str:
        path = urlsplit(self.api_root).path
        if not _GPULAB_ROOT_PATH.search(path):
            # a typo in the path (/api/gpulb/v3.1/) is far likelier than a version the server lacks
            return (f"GPULab's API lives under /api/gpulab/vX.Y/, but the endpoint's path is {path}: check it "
                    f"for a typo (GPULab's own: {DEFAULT_ENDPOINT}).")
        other = self.api_version.other
        return (f"The API root {self.api_root} may not serve API v{self.api_version}; "
                f"try --api-version {other} (or an endpoint ending in /v{other}/).")

    # --- failures -----------------------------------------------------------------------------------

    def _confirmed(self, exc: Exception, confirm: Callable[[], bool]) -> bool:
        """Whether a change whose answer was lost took effect (a TLS refusal is not a lost answer)."""
        return self._tls_error(exc) is None and may_have_reached_server(exc) and confirm()

    def _connection_failure(self, exc: Exception, what: str, *, idempotent: bool, last: bool,
                            attempts: int) -> GpulabApplyError | None:
        """The error to raise for a request that got no answer; None when it is worth another attempt."""
        tls_error = self._tls_error(exc)
        if tls_error is not None:
            return tls_error
        reason = connection_reason(exc, self._timeouts)
        if not idempotent and may_have_reached_server(exc):
            return AmbiguousSubmitError(
                f"Could not {what}: {reason}, after the request was sent; GPULab may have created the job",
                hint=_AMBIGUOUS_HINT,
            )
        if is_unresolvable(exc):  # fails fast: another attempt would get the same answer
            return ConnectionFailedError(f"Could not {what}: the host name {self.host} does not resolve",
                                         hint="Check the endpoint for a typo (--endpoint / GPULAB_ENDPOINT) and "
                                              "that this machine can resolve names (DNS).")
        if not last:
            return None
        if self.client_certificate and not self.answered and is_hang_up(exc):
            return CertificateError(
                f"Could not {what}: {self.host} closed every connection right after the TLS handshake "
                f"without answering ({attempts} attempts); it probably does not accept the client certificate",
                hint=_CERT_HINT,
            )
        return ConnectionFailedError(
            f"Could not {what}: {reason} ({self.host}, {attempts} attempts)",
            hint="Check the network and the endpoint (--endpoint / GPULAB_ENDPOINT).",
        )

    def _wait(self, method: str, path: str, reason: str, attempt: int, attempts: int,
              retry_after: float | None) -> None:
        delay = retry_after if retry_after is not None else self._retry.delay(attempt)
        notice = (f"{method} {path} failed ({reason}); retrying in {delay:.2f} s "
                  f"(attempt {attempt + 1} of {attempts})")
        log.info("%s", notice)
        if self._on_retry is not None:
            self._on_retry(notice)
        self._abandoned.wait(delay)  # a sleep that abandon() ends

    def http_error(self, response: requests.Response, what: str, *, idempotent: bool) -> GpulabApplyError:
        """This tool's error for a non-2xx answer."""
        status = response.status_code
        summary = body_summary(response)
        if 300 <= status < 400:
            return CertificateError(
                f"Could not {what}: GPULab redirected to {one_line(response.headers.get('Location', '?'), 120)}, "
                "which means it did not accept the client certificate (it sends unauthenticated users to "
                "its login page)",
                hint="Check --cert / GPULAB_CERT: use your own, valid iLab.t login certificate.",
            )
        if status == 401:
            return CertificateError(
                f"Could not {what}: GPULab rejected the client certificate (HTTP 401)"
                + (f": {summary}" if summary else ""),
                hint="Check --cert / GPULAB_CERT: use your own, valid iLab.t login certificate.",
            )
        message = f"Could not {what}: GPULab answered {_status_text(response)}" + (f": {summary}" if summary else "")
        if not idempotent and status >= 500:
            return AmbiguousSubmitError(message + "; the job may or may not have been created", hint=_AMBIGUOUS_HINT)
        return ServerError(message, status=status, hint=self._hint(response, idempotent=idempotent))

    def _hint(self, response: requests.Response, *, idempotent: bool) -> str | None:
        status = response.status_code
        if status == 403:
            if not idempotent:
                return ("No permission to submit the job: check the project (--project / GPULAB_PROJECT or "
                        "owner.projectUrn).")
            return "GPULab refused access: check the certificate and project."
        if status == 404:
            path = urlsplit(response.url).path
            return self.other_version_hint() if path.rstrip("/").endswith(("/jobs", "/version")) else None
        if status == 429:
            wait = one_line(response.headers.get("Retry-After", "a while"), 40)
            return f"GPULab asks to wait {wait} seconds; try again later."
        if status >= 500:
            return "GPULab has a problem; try again later."
        return None

    def _tls_error(self, exc: BaseException) -> GpulabApplyError | None:
        """A clear error for an untrusted server or a rejected client certificate; None otherwise.

        Other TLS failures (a connection dropped mid-stream) are left to the connection-error path, so
        a POST whose connection dropped after sending stays ambiguous.
        """
        failure = tls_failure(exc)
        if failure is None:
            return None
        reason = ssl_reason(failure)
        upper = reason.upper()
        if isinstance(failure, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in upper:
            detail = getattr(failure, "verify_message", None) or reason
            return ConnectionFailedError(
                f"The server certificate of {self.host} is not trusted: {detail}",
                hint="If the server uses a private CA, pass its certificate with --ca-bundle (GPULAB_CA_BUNDLE).",
            )
        if "ALERT" in upper and any(alert in upper for alert in _REJECTION_ALERTS):
            return CertificateError(f"{self.host} rejected the client certificate during the TLS handshake ({reason})",
                                    hint=_CERT_HINT)
        return None


def _judged_host(api_root: str) -> str:
    """The host requests go to; refuses an ambiguous URL, and plain HTTP anywhere but loopback.

    Settings check this first, with a located message; this is the last line for other callers.
    """
    if has_userinfo(api_root):
        raise ConfigError("The API root holds a user name or password: GPULab authenticates with the login "
                          "certificate only")
    try:
        https = urlsplit(api_root).scheme == "https"
        host = request_host(api_root)
    except ValueError as exc:
        raise ConfigError(f"The API root is ambiguous: {exc}") from None
    if not https and not is_loopback(host):
        raise ConfigError(f"Plain http:// is refused for {host}: only https://, or http:// to this machine")
    return host


# --- reading failures -------------------------------------------------------------------------------


def body_summary(response: requests.Response) -> str:
    return summarize(response.text, content_type=response.headers.get("Content-Type", ""))


def _status_text(response: requests.Response) -> str:
    return f"{response.status_code} {one_line(response.reason or '', 60)}".strip()


def _date_header(response: requests.Response) -> datetime | None:
    """The ``Date`` header as an aware time, or None."""
    try:
        moment = email.utils.parsedate_to_datetime(response.headers.get("Date") or "")
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo is not None else None


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def refuse_proxy(api_root: str, host: str) -> None:
    """A clear error when the environment asks for a proxy to GPULab: we never use one.

    A proxy that terminates TLS cannot pass a client certificate on, and ``requests`` drops the
    custom TLS context on proxied connections, which is why GPULab's own CLI refuses ``https_proxy``.
    Ignoring the variable silently would turn a proxy-only network into a confusing timeout.
    Loopback (the emulator) is never proxied, so the variables do not matter there.
    """
    if is_loopback(host):
        return
    proxies = requests.utils.get_environ_proxies(api_root)
    scheme = urlsplit(api_root).scheme
    proxy = proxies.get(scheme) or proxies.get("all")
    if proxy:
        variable = f"{scheme}_proxy"
        raise ConfigError(
            f"A proxy is configured for {host} ({variable} or ALL_PROXY); client-certificate authentication "
            "does not work through it",
            hint=f"Unset {variable.upper()}/{variable} for gpulab-apply, or add {host} to NO_PROXY.",
        )
