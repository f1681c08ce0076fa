"""Listing every job: v3.x narrowing under its 200-job cap, v4.0 paging, and how far the result can be trusted.

A listing decides whether a job exists, so a listing that may be incomplete must never pass for a
complete one (a present job would look missing and be submitted again). The result is a
:class:`Listing`: the jobs, plus what it cannot see (docs/client.md#listings):

- v3.x looks back at most 744 hours (``max_hours``): jobs whose status last changed earlier are
  invisible, so ``complete_since`` is 31 days ago. v4.0 has no window (``complete_since`` None).
- v3.x answers at most 200 jobs per request and has no pages. A listing at the cap is split by
  state group, then by single status, then (for a status still at the cap) to the user's own jobs.
  GPULab offers no finer filter (no name, no time range: ``max_hours`` only says "since"), so a
  status still at the cap lists only its newest 200 jobs and is named in ``partial``.

What a set's listing asks for is :func:`set_filter`: this user's jobs in every project, as GPULab's own CLI
lists them (``user_urn``), since a job file may name any project (docs/plan-apply.md#projects).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Self, TypedDict

from gpulab_apply.errors import TruncatedListingError
from gpulab_apply.gpulab.api import V3_MAX_COUNT, V3_MAX_HOURS
from gpulab_apply.gpulab.policy import AnswerLimits
from gpulab_apply.jobmodel.status import JobStatus
from gpulab_apply.model import RemoteJob

#: one ``GET jobs`` with these query parameters, answering the raw job objects
Fetch = Callable[[Mapping[str, Any]], list[dict[str, Any]]]

V4_PAGE_SIZE = 500
#: v4.0 pages fetched at once once a listing is known to be long
V4_PARALLEL_PAGES = 4
#: what the listing asks for: every status except DELETED, ASSIGNED included (in no state group, yet
#: active: missing it would make a job look absent). CANCELLING exists only from API v4.0 on.
V3_STATES = tuple(s for s in JobStatus if s not in (JobStatus.DELETED, JobStatus.UNKNOWN, JobStatus.CANCELLING))
V4_STATES = (*V3_STATES, JobStatus.CANCELLING)
#: how a capped v3.x listing is split: state groups first, then single statuses
_NARROWING: Sequence[tuple[JobStatus, ...]] = (
    (JobStatus.ONHOLD, JobStatus.QUEUED),
    (JobStatus.ASSIGNED, JobStatus.STARTING, JobStatus.RUNNING, JobStatus.MUSTHALT, JobStatus.HALTING),
    (JobStatus.FINISHED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.HALTED),
)


class Listing(tuple[RemoteJob, ...]):
    """The listed jobs, newest first (a tuple of :class:`RemoteJob`), and the limits of what was seen.

    ``complete_since``: jobs whose status last changed before this moment may be missing (v3.x's
    744-hour window); None when the listing has no time window (v4.0).
    ``partial``: statuses of which only some jobs are listed (the newest 200), even of this user's own.
    ``others_partial``: statuses of which this user's jobs are all listed but other users' may not be.
    """

    complete_since: datetime | None
    partial: frozenset[JobStatus]
    others_partial: frozenset[JobStatus]

    def __new__(cls, jobs: Iterable[RemoteJob] = (), *, complete_since: datetime | None = None,
                partial: Iterable[JobStatus] = (), others_partial: Iterable[JobStatus] = ()) -> Self:
        listing = super().__new__(cls, jobs)
        listing.complete_since = complete_since
        listing.partial = frozenset(partial)
        listing.others_partial = frozenset(others_partial)
        return listing

    @property
    def window(self) -> timedelta | None:
        """How far back the listing sees (744 hours on v3.x); None: no limit."""
        return None if self.complete_since is None else timedelta(hours=V3_MAX_HOURS)

    @property
    def may_miss_own_jobs(self) -> bool:
        """True when a job of this user may exist without being listed (a window, or a status at the cap)."""
        return self.complete_since is not None or bool(self.partial)

    def __repr__(self) -> str:
        return (f"Listing({len(self)} jobs, complete_since={self.complete_since}, "
                f"partial={sorted(s.name for s in self.partial)})")


def newest_first(jobs: Iterable[RemoteJob], **limits: Any) -> Listing:
    """A :class:`Listing` of the non-deleted jobs, each once, newest first."""
    unique: dict[str, RemoteJob] = {}
    for job in jobs:
        if job.status is not JobStatus.DELETED:
            unique.setdefault(job.uuid, job)
    epoch = datetime.min.replace(tzinfo=UTC)
    return Listing(sorted(unique.values(), key=lambda job: (job.created or epoch, job.uuid), reverse=True), **limits)


class SetFilter(TypedDict, total=False):
    """Keyword arguments of ``GpulabClient.list_jobs`` that choose whose jobs are listed."""

    user_urn: str
    project_urn: str


def set_filter(*, user_urn: str | None, project_urn: str | None) -> SetFilter:
    """The listing filter of the jobs a set may hold: every job of this user, whatever project it runs in.

    A job file may name its project (``owner.projectUrn``), so narrowing to the configured project would make a
    job of another project look missing (created again on every apply) and hide a removed one from its cancel.
    GPULab filters by user as well as by project, on v3.x and v4.0 alike. Only a client that does not know its
    user (built without a certificate's identity) falls back to the configured project.
    """
    if user_urn:
        return SetFilter(user_urn=user_urn)
    return SetFilter(project_urn=project_urn) if project_urn else SetFilter()


# --- v3.x ---------------------------------------------------------------------------------------------


def list_v3(fetch: Fetch, base: Mapping[str, Any], *,
            user_urn: str | None) -> tuple[list[dict[str, Any]], set[JobStatus], set[JobStatus]]:
    """All jobs of the window in as few requests as the cap allows: (items, partial, others_partial)."""
    base = {**base, "max_hours": V3_MAX_HOURS}
    everything, full = _capped(fetch, base, V3_STATES)
    if not full:
        return everything, set(), set()
    items: list[dict[str, Any]] = []
    partial: set[JobStatus] = set()
    others_partial: set[JobStatus] = set()
    for group in _NARROWING:
        part, full = _capped(fetch, base, group)
        if not full:
            items.extend(part)
            continue
        # Still at the cap: one status at a time, then only this user's jobs of that status.
        for status in group:
            single, full = _capped(fetch, base, (status,))
            items.extend(single)  # at the cap, still the newest jobs of that status: all real
            if not full:
                continue
            if base.get("user_urn"):  # already only this user's jobs: nothing finer to ask for
                partial.add(status)
                continue
            own, full = _capped(fetch, {**base, "user_urn": user_urn}, (status,)) if user_urn else ([], True)
            items.extend(own)
            (partial if full else others_partial).add(status)
    return items, partial, others_partial


def truncated_error(partial: Iterable[JobStatus]) -> TruncatedListingError:
    names = ", ".join(sorted(status.name for status in partial))
    return TruncatedListingError(
        f"GPULab lists at most {V3_MAX_COUNT} jobs per request and there are at least that many {names} jobs "
        f"in the last {V3_MAX_HOURS} hours, so the listing may be incomplete (a present job could look missing "
        "and be submitted again)",
        hint="Use API v4.0 (--api-version 4.0), which pages, or delete old jobs (GPULab's web site or "
        "`gpulab-cli rm`).",
    )


def _capped(fetch: Fetch, base: Mapping[str, Any],
            states: Sequence[JobStatus]) -> tuple[list[dict[str, Any]], bool]:
    """One v3.x listing of some statuses, and whether it is as long as the cap (so maybe cut off)."""
    batch = fetch(_states({**base, "max_count": V3_MAX_COUNT}, states))
    return batch, len(batch) >= V3_MAX_COUNT


def _states(params: Mapping[str, Any], states: Sequence[JobStatus]) -> dict[str, Any]:
    return {**params, "allowed_states": ",".join(s.name for s in states)}


# --- v4.0 ---------------------------------------------------------------------------------------------


def list_v4(fetch: Fetch, base: Mapping[str, Any], *, page_size: int = V4_PAGE_SIZE,
            parallel: int = V4_PARALLEL_PAGES, limits: AnswerLimits | None = None) -> list[dict[str, Any]]:
    """Every page, without a time window.

    A page shorter than the first ends the listing. The first two pages are asked for together: a
    short first page is not proof of the end (a server that caps ``page_size`` below ours answers
    short pages that are not the last), and asking for page 2 at once costs no extra round trip.
    Once both are full, pages are fetched ``parallel`` at a time. A server that loops or never ends is
    stopped by :class:`PageGuard`.
    """
    from concurrent.futures import ThreadPoolExecutor  # ~10 ms to import: only when listing on v4.0

    params = _states({**base, "page_size": page_size}, V4_STATES)
    guard = PageGuard(limits or AnswerLimits())

    def page(number: int) -> list[dict[str, Any]]:
        return fetch({**params, "page": number})

    with ThreadPoolExecutor(max_workers=max(2, parallel), thread_name_prefix="gpulab-page") as pool:
        first, second = pool.map(page, (1, 2))
        if second and first and second[0].get("uuid") == first[0].get("uuid"):
            return _ignored_paging(first, page_size)
        items = [*guard.take(1, first), *guard.take(2, second)]
        if not first or len(second) < len(first):
            return items
        number = 3
        while True:
            batch = list(pool.map(page, range(number, number + parallel)))
            for offset, found in enumerate(batch):
                items.extend(guard.take(number + offset, found))
                if len(found) < len(first):
                    return items
            number += len(batch)


class PageGuard:
    """Stops a listing that loops or never ends, long before it fills memory (docs/client.md#limits).

    A page whose jobs were all on earlier pages means the server loops (jobs created meanwhile shift a
    few onto the next page, never a whole page); past ``max_pages`` pages or ``max_jobs`` jobs the
    listing is refused, as no real one is that long.
    """

    def __init__(self, limits: AnswerLimits) -> None:
        self._limits = limits
        self._seen: set[str] = set()
        self._jobs = 0

    def take(self, number: int, page: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``page`` (page ``number``), once it is known not to repeat an earlier one or pass a limit."""
        uuids = {uuid for item in page if isinstance(uuid := item.get("uuid"), str)}
        if number > 1 and uuids and uuids <= self._seen:
            raise TruncatedListingError(
                f"GPULab answered page {number} of the listing with jobs of earlier pages: its paging loops",
                hint="Report this to the gpulab-apply maintainers; nothing was changed.",
            )
        self._seen |= uuids
        self._jobs += len(page)
        limits = self._limits
        if number > limits.max_pages or self._jobs > limits.max_jobs:
            what = (f"did not end after {limits.max_pages:,} pages" if number > limits.max_pages
                    else f"holds more than {limits.max_jobs:,} jobs")
            raise TruncatedListingError(
                f"The listing {what}, the most this tool reads ({limits.max_pages:,} pages, at most "
                f"{limits.max_jobs:,} jobs): GPULab's paging does not end",
                hint="Delete old jobs, or report this to the gpulab-apply maintainers; nothing was changed.",
            )
        return page


def _ignored_paging(first: list[dict[str, Any]], page_size: int) -> list[dict[str, Any]]:
    """The server answers the same jobs for every page. Fewer than we asked for are all there is; a
    full page may be cut off."""
    if len(first) < page_size:
        return first
    raise TruncatedListingError(
        "GPULab answers the same jobs for every page (it does not page with `page`), so the listing "
        f"may hold only the first {len(first)} jobs",
        hint="Use API v3.1 (--api-version 3.1), or report this to the gpulab-apply maintainers.",
    )
