"""The GPULab API client: every request to GPULab (or the emulator) goes through :class:`GpulabClient`.

One ``requests.Session`` with a client-certificate TLS context, timeouts on every call, retries with
exponential backoff and jitter for idempotent requests (GET/PUT/DELETE) on connection errors and
429/500/502/503/504, and never a blind retry of a POST: a submission that may have reached the server
raises :class:`AmbiguousSubmitError`, so the caller can look for its marker (docs/plan-apply.md#apply).

Thread safety: one client may be shared by threads. Requests only read the session's settings, and
urllib3's pool hands each thread its own connection; ``max_connections`` connections are kept per
host, so make it at least the number of threads (more threads still work, the extra connections are
just not reused).

This is the only module that imports ``requests``.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import logging
import re
import ssl
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote, unquote, urlsplit

import requests
import requests.adapters
import requests.utils
import urllib3.exceptions

from gpulab_apply import __version__
from gpulab_apply.errors import (
    AmbiguousSubmitError,
    CertificateError,
    ConfigError,
    ConnectionFailedError,
    GpulabApplyError,
    ServerError,
    TruncatedListingError,
)
from gpulab_apply.gpulab.api import V3_MAX_COUNT, V3_MAX_HOURS, ApiVersion
from gpulab_apply.gpulab.identity import Identity
from gpulab_apply.gpulab.local import is_loopback
from gpulab_apply.gpulab.tls import ssl_reason, tls_failure
from gpulab_apply.model import JobStatus, RemoteJob
from gpulab_apply.settings import RetryPolicy, Timeouts

log = logging.getLogger(__name__)

V4_PAGE_SIZE = 500
#: a bound on paging, so a server that ignores ``page`` cannot keep us looping
V4_MAX_PAGES = 1000
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
#: TLS alerts by which a server says it does not accept our client certificate
_REJECTION_ALERTS = ("BAD_CERTIFICATE", "UNKNOWN_CA", "CERTIFICATE_UNKNOWN", "CERTIFICATE_REQUIRED",
                     "CERTIFICATE_EXPIRED", "CERTIFICATE_REVOKED", "ACCESS_DENIED", "UNSUPPORTED_CERTIFICATE")
#: what the listing asks for: every status except DELETED, ASSIGNED included (in no state group, yet
#: active: missing it would make a job look absent). CANCELLING exists only from API v4.0 on.
_V3_STATES = tuple(s for s in JobStatus if s not in (JobStatus.DELETED, JobStatus.UNKNOWN, JobStatus.CANCELLING))
_V4_STATES = (*_V3_STATES, JobStatus.CANCELLING)
#: how a capped v3.x listing is split: state groups first, then single statuses
_NARROWING: Sequence[tuple[JobStatus, ...]] = (
    (JobStatus.ONHOLD, JobStatus.QUEUED),
    (JobStatus.ASSIGNED, JobStatus.STARTING, JobStatus.RUNNING, JobStatus.MUSTHALT, JobStatus.HALTING),
    (JobStatus.FINISHED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.HALTED),
)

_DEFAULT_TIMEOUTS = Timeouts()
_DEFAULT_RETRY = RetryPolicy()


class _ClientCertAdapter(requests.adapters.HTTPAdapter):
    """Mounts our own SSLContext, as GPULab's CLI does: ``requests``' ``cert=`` cannot take a password.

    It also keeps ``requests`` from adding certifi's bundle on top of the trust chosen in the context
    (a given CA bundle means *only* that CA).
    """

    def __init__(self, ssl_context: ssl.SSLContext | None, *, max_connections: int) -> None:
        self._ssl_context = ssl_context
        # max_retries=0: retries are decided in GpulabClient, where POST is known to be special.
        super().__init__(pool_connections=4, pool_maxsize=max_connections, max_retries=0)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        if self._ssl_context is not None:
            pool_kwargs["ssl_context"] = self._ssl_context
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        if self._ssl_context is None:
            super().cert_verify(conn, url, verify, cert)
            return
        conn.cert_reqs = "CERT_REQUIRED"
        conn.ca_certs = None
        conn.ca_cert_dir = None


class GpulabClient:
    """Authenticated, robust access to one GPULab API root (``.../api/gpulab/v3.1/``)."""

    def __init__(
        self,
        api_root: str,
        *,
        api_version: str,
        ssl_context: ssl.SSLContext | None = None,
        timeouts: Timeouts = _DEFAULT_TIMEOUTS,
        retry: RetryPolicy = _DEFAULT_RETRY,
        max_connections: int = 16,
        identity: Identity | None = None,
        project_urn: str | None = None,
    ) -> None:
        self.api_root = api_root if api_root.endswith("/") else api_root + "/"
        version = ApiVersion.parse(api_version)
        if version is None:
            raise ConfigError(f"API version {api_version!r} is not supported")
        self.api_version = version
        #: who the certificate says we are (None without a certificate, e.g. the local emulator)
        self.identity = identity
        #: ``owner.projectUrn`` for jobs that do not name one (None: not configured)
        self.project_urn = project_urn
        #: GPULab's clock, from the ``Date`` header of its last answer (None before any answer): the listing
        #: window (v3.x) is measured on it, not on ours (docs/plan-apply.md#limits-per-api-version)
        self.server_time: datetime | None = None
        self._timeouts = timeouts
        self._retry = retry
        self._host = urlsplit(self.api_root).hostname or ""
        self._client_certificate = ssl_context is not None
        #: set once GPULab has answered anything over TLS, i.e. accepted the client certificate
        self._answered = False
        _refuse_proxy(self.api_root, self._host)
        session = requests.Session()
        # We decide trust (the SSLContext) and proxies ourselves; netrc and REQUESTS_CA_BUNDLE stay out.
        session.trust_env = False
        session.headers["User-Agent"] = f"gpulab-apply/{__version__} {requests.utils.default_user_agent()}"
        adapter = _ClientCertAdapter(ssl_context, max_connections=max_connections)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        self._session = session

    # --- context manager --------------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    # --- the API ----------------------------------------------------------------------------------

    def version(self) -> dict[str, Any]:
        """``GET version``: GPULab's version information (``latest_client_version``, ...)."""
        data = self._json(self._request("GET", "version", what="read GPULab's version"), "version")
        if not isinstance(data, dict):
            raise ServerError("GPULab's version answer is not a JSON object", status=200)
        return data

    def check_access(self) -> None:
        """A cheap authenticated call (a one-job listing): raises if GPULab does not accept us."""
        params = {"page_size": 1} if self.api_version.is_v4 else {"max_count": 1, "max_hours": 1}
        self._json(self._request("GET", "jobs", params=params, what="list jobs"), "jobs")

    def list_jobs(self, *, project_urn: str | None = None) -> tuple[RemoteJob, ...]:
        """All non-deleted jobs of the look-back window (744 hours), newest first.

        v4.0 reads every page. v3.x has no pages and answers at most 200 jobs: when the answer is
        that long, the listing is split by state group, then by single status, and only if a part is
        still at the cap does it raise :class:`TruncatedListingError`.
        """
        base: dict[str, Any] = {"max_hours": V3_MAX_HOURS}
        if project_urn:
            base["project_urn"] = project_urn
        raw = self._list_v4(base) if self.api_version.is_v4 else self._list_v3(base)
        jobs: dict[str, RemoteJob] = {}
        for item in raw:
            job = self._remote_job(item)
            if job.status is not JobStatus.DELETED:
                jobs.setdefault(job.uuid, job)
        epoch = datetime.min.replace(tzinfo=UTC)
        return tuple(sorted(jobs.values(), key=lambda job: (job.created or epoch, job.uuid), reverse=True))

    def get_job(self, uuid: str) -> RemoteJob:
        """``GET jobs/{uuid}``; a missing job is a :class:`ServerError` with status 404."""
        response = self._request("GET", f"jobs/{_segment(uuid)}", what=f"read job {uuid}")
        data = self._json(response, f"jobs/{uuid}")
        if not isinstance(data, dict):
            raise ServerError(f"GPULab's answer for job {uuid} is not a JSON object", status=response.status_code)
        return self._remote_job(data)

    def submit(self, job: Mapping[str, Any], *, hold: bool = False) -> str:
        """``POST jobs``: submit a Job2 body, return the new job's UUID. Never retried blindly.

        Retried only when the request provably did not reach GPULab (no connection could be made,
        or 429 Too Many Requests). Raises :class:`AmbiguousSubmitError` when it may have created a
        job (read timeout, connection lost after sending, 5xx, an unreadable success answer), and
        :class:`ServerError` for a clean refusal (4xx). API v4.0 requires ``owner.projectUrn``; a job
        without it is refused here, without a round trip.
        """
        owner = job.get("owner")
        if self.api_version.is_v4 and not (isinstance(owner, Mapping) and owner.get("projectUrn")):
            raise ConfigError(
                f"Job {job.get('name')!r} has no owner.projectUrn, which API v{self.api_version} requires",
                hint="Set the project with --project / GPULAB_PROJECT, or owner.projectUrn in the job file.",
            )
        if self._client_certificate and not self._answered:
            # With TLS 1.3 a server refuses a client certificate only after we have sent the request,
            # and the refusal can arrive as a bare hang-up, indistinguishable from a dropped POST.
            # One cheap GET first means a hang-up during the POST really is ambiguous.
            self.check_access()
        response = self._request(
            "POST", "jobs", params={"hold": "true"} if hold else None, json_body=job, idempotent=False,
            what=f"submit job {job.get('name')!r}",
        )
        uuid = uuid_from_answer(response.text)
        if uuid is None:
            raise AmbiguousSubmitError(
                f"GPULab accepted job {job.get('name')!r} (HTTP {response.status_code}) but its answer "
                f"holds no job UUID: {_body(response)}",
                hint="The job may exist; list the jobs before submitting it again.",
            )
        return uuid

    def set_status(self, uuid: str, status: JobStatus) -> None:
        """``PUT jobs/{uuid}/state/status``: CANCELLED, ONHOLD (hold), QUEUED (release), MUSTHALT (halt)."""
        self._request(
            "PUT", f"jobs/{_segment(uuid)}/state/status", data=status.name.encode(),
            headers={"Content-Type": "text/plain"}, what=f"set job {uuid} to {status.name}",
        )

    def cancel(self, uuid: str) -> None:
        """Cancel a job (any active status)."""
        self.set_status(uuid, JobStatus.CANCELLED)

    def delete(self, uuid: str, *, finished: bool = False) -> None:
        """``DELETE jobs/{uuid}``: mark a job deleted; ``finished=True`` allows finished jobs."""
        self._request("DELETE", f"jobs/{_segment(uuid)}", params={"finished": "true"} if finished else None,
                      what=f"delete job {uuid}")

    def read_log(self, uuid: str, *, start: int = 0) -> bytes:
        """``GET jobs/{uuid}/log`` from byte ``start`` on; empty when there is no log (yet)."""
        headers = {"Range": f"bytes={start}-"} if start > 0 else None
        response = self._request("GET", f"jobs/{_segment(uuid)}/log", headers=headers,
                                 what=f"read the log of job {uuid}", ok=(416,))
        return b"" if response.status_code in (204, 416) else response.content

    # --- listing ----------------------------------------------------------------------------------

    def _list_v4(self, base: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Every page. A page shorter than the first ends the listing; a short *first* page is followed
        by one more request, because a server that caps ``page_size`` below ours answers short pages
        that are not the last."""
        states = ",".join(s.name for s in _V4_STATES)
        items: list[dict[str, Any]] = []
        first: list[dict[str, Any]] = []
        for page in range(1, V4_MAX_PAGES + 1):
            batch = self._list_request({**base, "allowed_states": states, "page_size": V4_PAGE_SIZE, "page": page})
            if page == 1:
                first = batch
            elif batch and first and batch[0].get("uuid") == first[0].get("uuid"):
                # The server ignores `page`. Fewer jobs than we asked for are all there is; a full page
                # may be cut off.
                if len(first) < V4_PAGE_SIZE:
                    return first
                raise TruncatedListingError(
                    "GPULab answers the same jobs for every page (it does not page with `page`), so the listing "
                    f"may hold only the first {len(first)} jobs",
                    hint="Use API v3.1 (--api-version 3.1), or report this to the gpulab-apply maintainers.",
                )
            items.extend(batch)
            if not batch or (page > 1 and len(batch) < len(first)):
                return items
        raise TruncatedListingError(
            f"The listing did not end after {V4_MAX_PAGES} pages of {V4_PAGE_SIZE} jobs",
            hint="Delete old jobs, or report this to the gpulab-apply maintainers.",
        )

    def _list_v3(self, base: Mapping[str, Any]) -> list[dict[str, Any]]:
        everything = self._list_capped(base, _V3_STATES)
        if everything is not None:
            return everything
        items: list[dict[str, Any]] = []
        for group in _NARROWING:
            part = self._list_capped(base, group)
            if part is None:
                # Still at the cap: one status at a time is the narrowest this API allows.
                for status in group:
                    single = self._list_capped(base, (status,))
                    if single is None:
                        raise TruncatedListingError(
                            f"GPULab lists at most {V3_MAX_COUNT} jobs per request and there are at least that "
                            f"many {status.name} jobs in the last {V3_MAX_HOURS} hours, so the listing may be "
                            "incomplete (a present job could look missing and be submitted again)",
                            hint="Use API v4.0 (--api-version 4.0), which pages, or delete old jobs "
                            "(GPULab's web site or `gpulab-cli rm`).",
                        )
                    items.extend(single)
            else:
                items.extend(part)
        return items

    def _list_capped(self, base: Mapping[str, Any], states: Sequence[JobStatus]) -> list[dict[str, Any]] | None:
        """One v3.x listing of some statuses; None when it is as long as the cap (maybe cut off)."""
        params = {**base, "allowed_states": ",".join(s.name for s in states), "max_count": V3_MAX_COUNT}
        batch = self._list_request(params)
        return None if len(batch) >= V3_MAX_COUNT else batch

    def _list_request(self, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        response = self._request("GET", "jobs", params=params, what="list jobs")
        data = self._json(response, "jobs")
        # v3.x answers a bare array, v4.0 {"items": [...]}; accept either from either.
        items = data.get("items") if isinstance(data, dict) else data
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise ServerError(
                f"GPULab's job listing has an unexpected shape: {_body(response)}",
                status=response.status_code,
                hint=self._other_version_hint(),
            )
        return items

    def _remote_job(self, data: Mapping[str, Any]) -> RemoteJob:
        try:
            if not data.get("uuid"):
                raise KeyError("uuid")
            return RemoteJob.from_json(data)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ServerError(
                f"GPULab returned a job this tool cannot read ({type(exc).__name__}: {exc}); "
                f"its keys: {', '.join(sorted(map(str, data))[:12]) or '(none)'}",
                status=200,
            ) from None

    # --- transport --------------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: Mapping[str, Any] | None = None,
        json_body: Mapping[str, Any] | None = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = True,
        ok: Sequence[int] = (),
    ) -> requests.Response:
        """Send one request with timeouts, retrying what is safe to retry; return a 2xx response."""
        url = self.api_root + path
        attempts = self._retry.retries + 1
        for attempt in range(1, attempts + 1):
            started = time.monotonic()
            try:
                response = self._session.request(
                    method, url, params=params, json=json_body, data=data, headers=headers,
                    timeout=(self._timeouts.connect, self._timeouts.read), allow_redirects=False,
                )
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                tls_error = self._tls_error(exc)
                if tls_error is not None:
                    raise tls_error from None
                reason = _connection_reason(exc, self._timeouts)
                if not idempotent and _may_have_reached_server(exc):
                    raise AmbiguousSubmitError(
                        f"Could not {what}: {reason}, after the request was sent; GPULab may have created the job",
                        hint="Run apply again: it looks for this run's marker before submitting again.",
                    ) from None
                if attempt < attempts:
                    self._wait(method, path, reason, attempt, attempts, None)
                    continue
                if self._client_certificate and not self._answered and _is_hang_up(exc):
                    raise CertificateError(
                        f"Could not {what}: {self._host} closed every connection right after the TLS handshake "
                        f"without answering ({attempts} attempts); it probably does not accept the client "
                        "certificate",
                        hint="Check --cert / GPULAB_CERT: GPULab accepts iLab.t login certificates only.",
                    ) from None
                raise ConnectionFailedError(
                    f"Could not {what}: {reason} ({self._host}, {attempts} attempts)",
                    hint="Check the network and the endpoint (--endpoint / GPULAB_ENDPOINT).",
                ) from None
            self._answered = True
            elapsed = time.monotonic() - started
            log.debug("%s %s -> %s in %.2f s (attempt %d)", method, unquote(response.url), response.status_code,
                      elapsed, attempt)
            status = response.status_code
            self.server_time = _date_header(response) or self.server_time
            if status < 300 or status in ok:
                return response
            if status in RETRY_STATUSES and (idempotent or status == 429) and attempt < attempts:
                retry_after = _retry_after(response)
                if retry_after is not None and retry_after > self._retry.max_retry_after:
                    raise self._http_error(response, what, idempotent=idempotent)
                self._wait(method, path, _status_text(response), attempt, attempts, retry_after)
                continue
            raise self._http_error(response, what, idempotent=idempotent)
        raise AssertionError("unreachable: the loop returns or raises")

    def _wait(self, method: str, path: str, reason: str, attempt: int, attempts: int,
              retry_after: float | None) -> None:
        delay = retry_after if retry_after is not None else self._retry.delay(attempt)
        log.info("%s %s failed (%s); retrying in %.2f s (attempt %d of %d)", method, path, reason, delay,
                 attempt + 1, attempts)
        time.sleep(delay)

    def _http_error(self, response: requests.Response, what: str, *, idempotent: bool) -> Exception:
        status = response.status_code
        summary = _body(response)
        message = f"Could not {what}: GPULab answered {_status_text(response)}"
        if summary:
            message += f": {summary}"
        if 300 <= status < 400:
            return CertificateError(
                f"Could not {what}: GPULab redirected to {response.headers.get('Location', '?')}, "
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
        if not idempotent and status >= 500:
            return AmbiguousSubmitError(
                message + "; the job may or may not have been created",
                hint="Run apply again: it looks for this run's marker before submitting again.",
            )
        hint = None
        if status == 403 and not idempotent:
            hint = "No permission to submit the job: check the project (--project / GPULAB_PROJECT or owner.projectUrn)."
        elif status == 403:
            hint = "GPULab refused access: check the certificate and project."
        elif status == 404:
            hint = self._not_found_hint(response)
        elif status == 429:
            hint = f"GPULab asks to wait {response.headers.get('Retry-After', 'a while')} seconds; try again later."
        elif status >= 500:
            hint = "GPULab has a problem; try again later."
        return ServerError(message, status=status, hint=hint)

    def _not_found_hint(self, response: requests.Response) -> str | None:
        path = urlsplit(response.url).path
        if path.rstrip("/").endswith(("/jobs", "/version")):
            return self._other_version_hint()
        return None

    def _other_version_hint(self) -> str:
        other = self.api_version.other
        return (f"The API root {self.api_root} may not serve API v{self.api_version}; "
                f"try --api-version {other} (or an endpoint ending in /v{other}/).")

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
                f"The server certificate of {self._host} is not trusted: {detail}",
                hint="If the server uses a private CA, pass its certificate with --ca-bundle (GPULAB_CA_BUNDLE).",
            )
        if "ALERT" in upper and any(alert in upper for alert in _REJECTION_ALERTS):
            return CertificateError(
                f"{self._host} rejected the client certificate during the TLS handshake ({reason})",
                hint="Check --cert / GPULAB_CERT: GPULab accepts iLab.t login certificates only.",
            )
        return None

    def _json(self, response: requests.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise ServerError(
                f"GPULab's answer to {what} is not JSON: {_body(response) or '(empty)'}",
                status=response.status_code,
                hint=self._other_version_hint(),
            ) from None


# --- helpers ------------------------------------------------------------------------------------


def summarize(text: str, *, content_type: str = "", limit: int = 200) -> str:
    """One line describing an answer's body, never a dump: the message of a JSON error, the title
    (or first heading, or text) of an HTML page, or the text itself; at most ``limit`` characters."""
    if "html" in content_type.lower() or text.lstrip()[:15].lower().startswith(("<!doctype", "<html")):
        for pattern in (r"<title[^>]*>(.*?)</title>", r"<h1[^>]*>(.*?)</h1>"):
            match = re.search(pattern, text, re.IGNORECASE | re.DOTALL)
            if match and match.group(1).strip():
                return _one_line(re.sub(r"<[^>]+>", " ", match.group(1)), limit)
        text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.IGNORECASE | re.DOTALL)
        return _one_line(re.sub(r"<[^>]+>", " ", text), limit)
    try:
        message = _json_message(json.loads(text))
    except ValueError:
        message = None
    return _one_line(message or text, limit)


def _body(response: requests.Response) -> str:
    return summarize(response.text, content_type=response.headers.get("Content-Type", ""))


def _one_line(text: str, limit: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _json_message(data: Any) -> str | None:
    if isinstance(data, str):
        return data
    if isinstance(data, dict):
        for key in ("message", "detail", "error", "description", "msg", "title", "reason"):
            if key in data:
                found = _json_message(data[key])
                if found:
                    return found
        return None
    if isinstance(data, list) and data:
        messages = [m for m in (_json_message(item) for item in data[:3]) if m]
        if messages:
            more = f" (+{len(data) - 3} more)" if len(data) > 3 else ""
            return "; ".join(messages) + more
    return None


def uuid_from_answer(text: str) -> str | None:
    """The job UUID in a submit answer: plain text (GPULab's), tolerating quotes, whitespace and a
    JSON object with ``uuid``; None when there is no UUID."""
    candidate = text.strip()
    if candidate.startswith("{"):
        try:
            data = json.loads(candidate)
        except ValueError:
            return None
        candidate = str(data.get("uuid") or data.get("id") or "") if isinstance(data, dict) else ""
    candidate = candidate.strip().strip("\"'").strip()
    return candidate if _UUID.match(candidate) else None


def _segment(value: str) -> str:
    return quote(value, safe="")


def _status_text(response: requests.Response) -> str:
    return f"{response.status_code} {response.reason or ''}".strip()


def _date_header(response: requests.Response) -> datetime | None:
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


def _refuse_proxy(api_root: str, host: str) -> None:
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


def _may_have_reached_server(exc: BaseException) -> bool:
    """False only when no connection was made, so the request cannot have been seen by the server."""
    if isinstance(exc, requests.exceptions.ConnectTimeout | requests.exceptions.ProxyError):
        return False
    cause = exc.args[0] if exc.args else None
    reason = getattr(cause, "reason", None)
    return not isinstance(reason, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError)


def _connection_reason(exc: BaseException, timeouts: Timeouts) -> str:
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"no connection within {timeouts.connect:g} s"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return f"no answer within {timeouts.read:g} s"
    cause = exc.args[0] if exc.args else None
    reason = getattr(cause, "reason", None) or cause
    if isinstance(reason, urllib3.exceptions.NameResolutionError):
        return "the host name does not resolve"
    if isinstance(reason, urllib3.exceptions.NewConnectionError):
        return "connection refused" if "refused" in str(reason).lower() else "cannot connect"
    if isinstance(reason, urllib3.exceptions.ProtocolError):
        inner = reason.args[1] if len(reason.args) > 1 else reason
        return f"the connection was dropped ({type(inner).__name__})"
    failure = tls_failure(exc)
    if failure is not None:
        return f"the TLS connection failed ({ssl_reason(failure)})"
    return f"connection failed ({type(reason).__name__})"


def _is_hang_up(exc: BaseException) -> bool:
    """The server closed the connection (TLS EOF, reset, no status line) rather than refusing or timing out."""
    if isinstance(tls_failure(exc), ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return True
    cause = exc.args[0] if exc.args else None
    reason = getattr(cause, "reason", None) or cause
    if isinstance(reason, urllib3.exceptions.ProtocolError):
        inner = reason.args[1] if len(reason.args) > 1 else None
        return isinstance(inner, ConnectionResetError | http.client.RemoteDisconnected)
    return False
