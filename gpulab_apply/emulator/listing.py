"""``GET jobs`` query parameters -> a :class:`JobQuery`, with GPULab's defaults and caps per API version.

v3.x: ``max_count`` (default 10, at most 200) and ``max_hours`` (default 12, at most 744), no pages.
v4.0: ``page_size`` (default 50, at most 1000) and ``page`` (1-based, an emulator choice: GPULab's own
paging parameter is not known); ``max_hours`` only when given.

Pages are served from keyset cursors (:class:`PageCursors`) while no job changes, so reading all 50
pages of 50,000 jobs costs 50 times reading one, not 1,275 times as with SQL ``OFFSET``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from gpulab_apply.emulator.http_error import HttpError
from gpulab_apply.emulator.store import JobQuery, ListingKey
from gpulab_apply.gpulab.api import ApiVersion
from gpulab_apply.jobmodel.status import STATE_GROUPS, JobStatus

V3_MAX_COUNT_DEFAULT, V3_MAX_COUNT_CAP = 10, 200
MAX_HOURS_DEFAULT, MAX_HOURS_CAP = 12, 744
V4_PAGE_SIZE_DEFAULT, V4_PAGE_SIZE_CAP = 50, 1000
#: without a state filter GPULab lists these groups (so neither ASSIGNED, CANCELLING nor DELETED)
DEFAULT_GROUPS = ("pending", "running", "finished")

_TRUE = ("", "true", "t", "1", "yes", "y")
_FALSE = ("false", "f", "0", "no", "n")


def flag(query: Mapping[str, Sequence[str]], name: str) -> bool | None:
    """A boolean query parameter (``true/t/1/yes``, or empty = true); None when absent."""
    values = query.get(name)
    if not values:
        return None
    value = values[-1].strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise HttpError(400, f"Query parameter {name} must be true or false, not {values[-1]!r}")


def parse_listing(query: Mapping[str, Sequence[str]], *, version: str, now: float) -> JobQuery:
    """Check and cap the filters of one listing request."""
    limit, page = _paging(query, version)
    max_hours = _integer(query, "max_hours", 1)
    if max_hours is None and not ApiVersion(version).is_v4:
        max_hours = MAX_HOURS_DEFAULT
    if max_hours is not None:
        max_hours = min(max_hours, MAX_HOURS_CAP)
    return JobQuery(
        statuses=_statuses(query),
        user_urn=_text(query, "user_urn", "userurn"),
        user_name=_text(query, "user_name", "username"),
        project_urn=_text(query, "project_urn", "projecturn"),
        project_name=_text(query, "project_name", "projectname"),
        cluster_ids=_cluster_ids(query),
        updated_since=None if max_hours is None else now - max_hours * 3600,
        max_hours=max_hours,
        limit=limit,
        page=page,
    )


def _paging(query: Mapping[str, Sequence[str]], version: str) -> tuple[int, int]:
    if ApiVersion(version).is_v4:
        size = min(_integer(query, "page_size", 1) or V4_PAGE_SIZE_DEFAULT, V4_PAGE_SIZE_CAP)
        return size, _integer(query, "page", 1) or 1
    return min(_integer(query, "max_count", 1) or V3_MAX_COUNT_DEFAULT, V3_MAX_COUNT_CAP), 1


def _statuses(query: Mapping[str, Sequence[str]]) -> frozenset[str]:
    allowed = _text(query, "allowed_states")
    if allowed is not None:
        statuses = set()
        for item in filter(None, (part.strip() for part in allowed.split(","))):
            status = JobStatus.parse(item)
            if status is JobStatus.UNKNOWN:
                raise HttpError(400, f"allowed_states: unknown status {item!r}")
            statuses.add(status.name)
        return frozenset(statuses)
    flags = {group: flag(query, group) for group in STATE_GROUPS}
    chosen: tuple[str, ...] = DEFAULT_GROUPS
    if any(value is not None for value in flags.values()):
        chosen = tuple(group for group, value in flags.items() if value)
    return frozenset(status.name for group in chosen for status in STATE_GROUPS[group])


def _text(query: Mapping[str, Sequence[str]], *names: str) -> str | None:
    for name in names:
        values = query.get(name)
        if values and values[-1]:
            return values[-1]
    return None


def _integer(query: Mapping[str, Sequence[str]], name: str, minimum: int) -> int | None:
    text = _text(query, name)
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        raise HttpError(400, f"Query parameter {name} must be an integer, not {text!r}") from None
    if value < minimum:
        raise HttpError(400, f"Query parameter {name} must be at least {minimum}, not {value}")
    return value


def _cluster_ids(query: Mapping[str, Sequence[str]]) -> tuple[int, ...]:
    ids = []
    for value in query.get("cluster_id", ()):
        for part in filter(None, (p.strip() for p in value.split(","))):
            try:
                ids.append(int(part))
            except ValueError:
                raise HttpError(400, f"Query parameter cluster_id must be integers, not {part!r}") from None
    return tuple(ids)


@dataclass
class _Chain:
    """Where the pages of one listing ended, valid while the jobs stay as they were (``version``)."""

    version: int
    ends: dict[int, ListingKey] = field(default_factory=dict)


class PageCursors:
    """Where the pages of recent listings ended, so that page N starts with an index seek.

    A page is always what SQL ``OFFSET (N - 1) * size`` answers at the moment it is asked for; the
    cursors only make that cheap. While no job changes (the store's data version stays the same),
    page N of a listing (same filters, page size and window) continues after the last job of page
    N - 1, or, asked for out of order (pages fetched concurrently), from the nearest earlier page end
    known, skipping the pages between. Once anything changed, the chain is dropped and the page is
    read with the offset: a cursor from before a change could skip jobs that a new listing, which
    fetches page 2 before page 1 has answered, must see.
    """

    def __init__(self, listings: int = 64) -> None:
        self._chains: OrderedDict[Hashable, _Chain] = OrderedDict()
        self._listings = listings
        self._lock = threading.Lock()

    def start(self, query: JobQuery, version: int) -> tuple[_Chain, ListingKey | None, int]:
        """The chain ``query`` belongs to, the cursor to continue after, and the jobs to skip after it."""
        key = _chain_key(query)
        with self._lock:
            chain = self._chains.get(key)
            if chain is None or chain.version != version:
                chain = self._chains[key] = _Chain(version)
            self._chains.move_to_end(key)
            while len(self._chains) > self._listings:
                self._chains.popitem(last=False)
            ends = chain.ends
            # the page before, usually; a few back when pages are fetched concurrently
            earlier = next((page for page in range(query.page - 1, max(0, query.page - 65), -1) if page in ends),
                           None)
            if earlier is None:
                earlier = max((page for page in ends if page < query.page), default=None)
            if earlier is None:
                return chain, None, (query.page - 1) * query.limit
            return chain, ends[earlier], (query.page - 1 - earlier) * query.limit

    def record(self, chain: _Chain, page: int, last: ListingKey | None) -> None:
        """Remember where ``page`` ended (in the chain :meth:`start` gave, even if a newer one replaced it)."""
        if last is not None:
            with self._lock:
                chain.ends[page] = last


def _chain_key(query: JobQuery) -> Hashable:
    # with a window (resolved against the clock on every request) no two requests share a chain
    return replace(query, page=1)
