"""The GPULab API client: every request to GPULab (or the emulator) goes through :class:`GpulabClient`.

This module knows GPULab's endpoints and what their answers mean; how requests travel (TLS,
retries, what a failure means) is :mod:`gpulab.transport`, and how a complete listing is gathered
is :mod:`gpulab.listing`. A submission is never retried blindly: one that may have reached GPULab
raises :class:`AmbiguousSubmitError`, so the caller can look for its marker (docs/plan-apply.md#apply).

Thread safety: one client may be shared by threads (see :class:`Transport`).
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

from gpulab_apply.errors import AmbiguousSubmitError, ConfigError, ServerError
from gpulab_apply.gpulab.answers import job_problem, shown, uuid_from_answer
from gpulab_apply.gpulab.api import V3_MAX_HOURS, ApiVersion
from gpulab_apply.gpulab.identity import Identity
from gpulab_apply.gpulab.listing import Listing, list_v3, list_v4, newest_first, truncated_error
from gpulab_apply.gpulab.policy import RetryPolicy, Timeouts
from gpulab_apply.gpulab.transport import Transport, body_summary
from gpulab_apply.jobmodel.status import FINAL_STATUSES, JobStatus
from gpulab_apply.model import RemoteJob

#: the statuses in which a status change has taken effect (a cancelled job may be CANCELLING first, or
#: have ended by itself meanwhile: either way it is stopped)
_REACHED: Mapping[JobStatus, frozenset[JobStatus]] = {
    JobStatus.CANCELLED: frozenset({JobStatus.CANCELLING, *FINAL_STATUSES}),
    JobStatus.MUSTHALT: frozenset({JobStatus.MUSTHALT, JobStatus.HALTING, JobStatus.HALTED}),
    JobStatus.QUEUED: frozenset(s for s in JobStatus if s not in (JobStatus.ONHOLD, JobStatus.UNKNOWN)),
}
_DEFAULT_TIMEOUTS = Timeouts()
_DEFAULT_RETRY = RetryPolicy()


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
        on_retry: Callable[[str], None] | None = None,
    ) -> None:
        version = ApiVersion.parse(api_version)
        if version is None:
            raise ConfigError(f"API version {api_version!r} is not supported")
        self.api_root = api_root if api_root.endswith("/") else api_root + "/"
        self.api_version = version
        #: who the certificate says we are (None without a certificate, e.g. the local emulator)
        self.identity = identity
        #: ``owner.projectUrn`` for jobs that do not name one (None: not configured)
        self.project_urn = project_urn
        self._transport = Transport(self.api_root, api_version=version, ssl_context=ssl_context,
                                    timeouts=timeouts, retry=retry, max_connections=max_connections,
                                    on_retry=on_retry)

    # --- context manager --------------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._transport.close()

    def abandon(self) -> None:
        """End this client's requests in flight and refuse further ones (:meth:`Transport.abandon`); safe from any
        thread."""
        self._transport.abandon()

    # --- the API ----------------------------------------------------------------------------------

    def version(self) -> dict[str, Any]:
        """``GET version``: GPULab's version information (``latest_client_version``, ...)."""
        data = self._transport.json(self._transport.request("GET", "version", what="read GPULab's version"), "version")
        if not isinstance(data, dict):
            raise ServerError("GPULab's version answer is not a JSON object", status=200)
        return data

    def read_json(self, path: str, *, what: str) -> Any:
        """``GET path`` (relative to the API root) as JSON, e.g. the inventory (:mod:`gpulab.inventory`)."""
        return self._transport.json(self._transport.request("GET", path, what=what), path)

    def check_access(self) -> None:
        """A cheap authenticated call (a one-job listing): raises if GPULab does not accept us."""
        params = {"page_size": 1} if self.api_version.is_v4 else {"max_count": 1, "max_hours": 1}
        self._list_request(params)

    def list_jobs(self, *, project_urn: str | None = None, user_urn: str | None = None,
                  allow_partial: bool = False) -> Listing:
        """Every non-deleted job GPULab can list, newest first, with what the listing cannot see.

        v4.0 reads every page, without a time window. v3.x sees 744 hours back
        (:attr:`Listing.complete_since`) and at most 200 jobs per request: a listing that long is
        narrowed (:mod:`gpulab.listing`). When a status is still at the cap even for this user's
        own jobs, this raises :class:`TruncatedListingError`, unless ``allow_partial``: then the
        listing holds what could be seen and names those statuses in :attr:`Listing.partial`.
        ``user_urn`` and ``project_urn`` filter (a set's jobs: :func:`gpulab.listing.set_filter`).
        """
        base: dict[str, Any] = {key: value for key, value in (("user_urn", user_urn), ("project_urn", project_urn))
                                if value}
        if self.api_version.is_v4:
            return newest_first(map(self._remote_job, list_v4(self._list_request, base, limits=self._transport.limits)))
        user_urn = self.identity.user_urn if self.identity else None
        raw, partial, others_partial = list_v3(self._list_request, base, user_urn=user_urn)
        if partial and not allow_partial:
            raise truncated_error(partial)
        return newest_first(map(self._remote_job, raw), complete_since=self.listing_window_start(),
                            partial=partial, others_partial=others_partial)

    @property
    def server_time(self) -> datetime | None:
        """GPULab's clock at its last answer (its ``Date`` header); None before any answer."""
        return self._transport.server_time

    def listing_window_start(self, now: datetime | None = None) -> datetime | None:
        """The moment before which a job may be missing from a listing (v3.x: 744 hours ago); None on v4.0."""
        hours = self.api_version.max_hours
        if now is None:
            # GPULab measures the window on its own clock; ours only if it is ahead (the safe side)
            now = max(datetime.now(UTC), self._transport.server_time or datetime.now(UTC))
        return None if hours is None else now - timedelta(hours=hours)

    def get_job(self, uuid: str) -> RemoteJob:
        """``GET jobs/{uuid}``; a missing job is a :class:`ServerError` with status 404."""
        response = self._transport.request("GET", f"jobs/{_segment(uuid)}", what=f"read job {uuid}")
        data = self._transport.json(response, f"jobs/{uuid}")
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
        if self._transport.client_certificate and not self._transport.answered:
            # With TLS 1.3 a server refuses a client certificate only after we have sent the request,
            # and the refusal can arrive as a bare hang-up, indistinguishable from a dropped POST.
            # One cheap GET first means a hang-up during the POST really is ambiguous.
            self.check_access()
        response = self._transport.request(
            "POST", "jobs", params={"hold": "true"} if hold else None, json_body=job, idempotent=False,
            what=f"submit job {job.get('name')!r}",
        )
        uuid = uuid_from_answer(response.text)
        if uuid is None:
            raise AmbiguousSubmitError(
                f"GPULab accepted job {job.get('name')!r} (HTTP {response.status_code}) but its answer "
                f"holds no job UUID: {body_summary(response)}",
                hint="The job may exist; list the jobs before submitting it again.",
            )
        return uuid

    def set_status(self, uuid: str, status: JobStatus) -> None:
        """``PUT jobs/{uuid}/state/status``: CANCELLED, ONHOLD (hold), QUEUED (release), MUSTHALT (halt)."""
        self._transport.change(
            "PUT", f"jobs/{_segment(uuid)}/state/status", data=status.name.encode(),
            headers={"Content-Type": "text/plain"}, what=f"set job {uuid} to {status.name}",
            confirm=lambda: self._status_reached(uuid, status),
        )

    def cancel(self, uuid: str) -> None:
        """Cancel a job (any active status)."""
        self.set_status(uuid, JobStatus.CANCELLED)

    def delete(self, uuid: str, *, finished: bool = False) -> None:
        """``DELETE jobs/{uuid}``: mark a job deleted; ``finished=True`` allows finished jobs."""
        self._transport.change("DELETE", f"jobs/{_segment(uuid)}", params={"finished": "true"} if finished else None,
                               what=f"delete job {uuid}", confirm=lambda: self._status_reached(uuid, JobStatus.DELETED))

    def read_log(self, uuid: str, *, start: int = 0) -> bytes:
        """``GET jobs/{uuid}/log`` from byte ``start`` on (``Range: bytes=start-``, as ``gpulab-cli log
        --follow`` reads it); empty when there is nothing new (204, or 416 past the end).

        The bytes returned always begin at ``start``: a server that ignores ``Range`` (200, the whole log)
        or answers a range that begins earlier is cut to size, so a follower never prints a part twice.
        """
        headers = {"Range": f"bytes={start}-"} if start > 0 else None
        response = self._transport.request("GET", f"jobs/{_segment(uuid)}/log", headers=headers,
                                           what=f"read the log of job {uuid}", ok=(416,))
        if response.status_code in (204, 416):
            return b""
        begins = _range_start(response.headers.get("Content-Range")) if response.status_code == 206 else 0
        if begins is None:
            raise ServerError(f"GPULab answered part of the log of job {uuid} without saying which part "
                              f"(Content-Range: {shown(response.headers.get('Content-Range') or '')})", status=206)
        if begins > start:
            raise ServerError(f"GPULab answered the log of job {uuid} from byte {begins}, not {start} as asked",
                              status=206)
        return response.content[start - begins:]

    def read_log_tail(self, uuid: str, size: int) -> tuple[bytes, bool]:
        """The last ``size`` bytes of a job's log, and whether that is not the whole log. Its length is asked first
        (``Range: bytes=0-0``, answered with ``Content-Range: bytes 0-0/LENGTH``), so a log of gigabytes costs
        two small answers, not the whole; a server that ignores ``Range`` sends it all, and the tail is cut here."""
        response = self._transport.request("GET", f"jobs/{_segment(uuid)}/log", headers={"Range": "bytes=0-0"},
                                           what=f"read the log of job {uuid}", ok=(416,))
        if response.status_code in (204, 416):
            return b"", False
        total = _range_total(response.headers.get("Content-Range")) if response.status_code == 206 else None
        if total is None:
            whole = response.content if response.status_code != 206 else self.read_log(uuid)
            return whole[-size:], len(whole) > size
        if total <= 1:
            return response.content, False
        start = max(0, total - size)
        return self.read_log(uuid, start=start), start > 0

    def read_events(self, uuid: str) -> list[dict[str, Any]]:
        """``GET jobs/{uuid}/debug``: the job's event log (``{type, time, newState, msg}`` per event; GPULab calls
        it "not stable between versions", so an answer of another shape is no events rather than an error)."""
        response = self._transport.request("GET", f"jobs/{_segment(uuid)}/debug",
                                           what=f"read the event log of job {uuid}")
        try:
            data = response.json()
        except ValueError:
            return []
        return [event for event in data if isinstance(event, dict)] if isinstance(data, list) else []

    def _status_reached(self, uuid: str, wanted: JobStatus) -> bool:
        """Whether job ``uuid`` is where a status change to ``wanted`` leads (read back after a lost answer)."""
        try:
            status = self.get_job(uuid).status
        except ServerError as exc:
            if exc.status == 404:  # gone: deleted, which also ends whatever else was asked
                return wanted in (JobStatus.DELETED, JobStatus.CANCELLED)
            raise
        return status in _REACHED.get(wanted, frozenset({wanted}))

    # --- answers ----------------------------------------------------------------------------------

    def _list_request(self, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        response = self._transport.request("GET", "jobs", params=params, what="list jobs")
        data = self._transport.json(response, "jobs")
        # v3.x answers a bare array, v4.0 {"items": [...]}; accept either from either.
        items = data.get("items") if isinstance(data, dict) else data
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise ServerError(
                f"GPULab's job listing has an unexpected shape: {body_summary(response)}",
                status=response.status_code,
                hint=self._transport.other_version_hint(),
            )
        return items

    def _remote_job(self, data: Mapping[str, Any]) -> RemoteJob:
        """A job as this tool reads it; a job it cannot read stops the command before anything acts on it."""
        problem = job_problem(data, max_name=self._transport.limits.max_name)
        if problem is not None:
            raise ServerError(f"GPULab answered something unexpected: {problem}", status=200,
                              hint="Nothing was changed. Check the job on GPULab's web site, or report this to "
                              "the gpulab-apply maintainers.")
        try:
            return RemoteJob.from_json(data)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ServerError(
                f"GPULab returned a job this tool cannot read ({type(exc).__name__}); "
                f"its keys: {', '.join(shown(str(key), 30) for key in sorted(map(str, data))[:12]) or '(none)'}",
                status=200,
            ) from None


def _range_start(content_range: str | None) -> int | None:
    """The first byte of ``Content-Range: bytes FIRST-LAST/TOTAL``; None when absent or unreadable."""
    match = re.fullmatch(r"\s*bytes\s+([0-9]{1,18})-[0-9]+/(?:[0-9]+|\*)\s*", content_range or "")
    return int(match.group(1)) if match else None


def _range_total(content_range: str | None) -> int | None:
    """The total length in ``Content-Range: bytes FIRST-LAST/TOTAL``; None when absent, unknown (``*``) or
    unreadable."""
    match = re.fullmatch(r"\s*bytes\s+\d+-\d+/(\d+)\s*", content_range or "")
    return int(match.group(1)) if match else None


def _segment(value: str) -> str:
    return quote(value, safe="")


__all__ = ["V3_MAX_HOURS", "GpulabClient", "Listing"]
