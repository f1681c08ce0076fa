"""``status`` for the command line: the set's managed jobs and their GPULab state, once or refreshed; with
``results``, how the ended jobs ended (docs/results.md)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from gpulab_apply.app.connection import open_client
from gpulab_apply.app.planning import list_remote, load_desired, select
from gpulab_apply.app.prefetch import ListingAhead
from gpulab_apply.errors import ServerError
from gpulab_apply.gpulab.client import GpulabClient
from gpulab_apply.gpulab.listing import Listing
from gpulab_apply.masking import Secrets
from gpulab_apply.model import JobSpec
from gpulab_apply.reconcile.results import (
    LOG_BYTES,
    FailureDetails,
    failure_details,
    failures_to_read,
    results_of,
)
from gpulab_apply.reconcile.status import StatusRow, status_rows
from gpulab_apply.reporters.status import StatusReport
from gpulab_apply.selectors import Candidate, resolve
from gpulab_apply.settings import Settings


def status_of(settings: Settings, paths: Sequence[str | Path], *, every_run: bool, targets: Sequence[str] = (),
              results: bool = False, hide: Callable[[Secrets], None]) -> StatusReport:
    """The jobs the job files under ``paths`` and the ``targets`` select, with their state (and, with ``results``,
    the results report); the files are read (and ``hide`` told their secrets) before anything of GPULab's is shown
    (a large set's listing is read meanwhile: :class:`ListingAhead`)."""
    selection = select(paths, settings)
    with ListingAhead(settings, list_remote) as ahead:
        desired = load_desired(selection, settings, meanwhile=ahead.read)
        hide(desired.secrets)
        client, remote = ahead.client()
        return _report(client, desired.jobs, settings, every_run=every_run, narrowed=selection.narrowed,
                       targets=targets, read={} if results else None, remote=remote)


def watch_status(settings: Settings, paths: Sequence[str | Path], *, every_run: bool, interval: float,
                 count: int | None, targets: Sequence[str] = (), results: bool = False,
                 hide: Callable[[Secrets], None]) -> Iterator[StatusReport]:
    """A report every ``interval`` seconds (``count`` of them, or until the caller stops), over one client; the job
    files are read again each time, so a refresh shows edits made meanwhile."""
    selection = select(paths, settings)
    # a failed job's log and exit code never change: read once per watch
    read: dict[str, FailureDetails] | None = {} if results else None
    with open_client(settings) as client:
        refreshes = 0
        while count is None or refreshes < count:
            if refreshes:
                time.sleep(interval)
            desired = load_desired(selection, settings)
            hide(desired.secrets)
            yield _report(client, desired.jobs, settings, every_run=every_run, narrowed=selection.narrowed,
                          targets=targets, read=read)
            refreshes += 1


def _report(client: GpulabClient, desired: Sequence[JobSpec], settings: Settings, *, every_run: bool,
            narrowed: bool, targets: Sequence[str], read: dict[str, FailureDetails] | None,
            remote: Listing | None = None) -> StatusReport:
    """The report; ``read``: the failed jobs' details read so far, to fill in the results report (None: none);
    ``remote``: the listing, when it was read already."""
    remote = remote if remote is not None else list_remote(client)
    # GPULab's clock, as plan's: ages and the GPU-hours of running jobs are measured where the event times are
    now = client.server_time or datetime.now(UTC)
    rows = status_rows(desired, remote, set_name=settings.set_name, project_urn=client.project_urn, now=now,
                       user_urn=client.identity.user_urn if client.identity else None, every_run=every_run)
    if narrowed:  # a part of the job root: its jobs only, not the rest of the set as if no longer desired
        names = {spec.name for spec in desired}
        rows = tuple(row for row in rows if row.name in names)
    if targets:  # the one selector grammar; a selector that matches no row is an error (docs/commands.md#selectors)
        chosen = {(c.name, c.uuid) for c in resolve(targets, map(_candidate, rows), what=f"job of set "
                                                                              f"{settings.set_name!r}")}
        rows = tuple(row for row in rows if (row.name, row.job.uuid if row.job else None) in chosen)
    report = StatusReport.of(rows, set_name=settings.set_name, now=now)
    if read is None:
        return report
    for uuid in failures_to_read(report.rows):
        if uuid not in read:
            read[uuid] = _failure(client, uuid)
    return report.with_results(results_of(report.rows, read, now))


def _failure(client: GpulabClient, uuid: str) -> FailureDetails:
    """What GPULab says about a failed job (docs/results.md); a job it will not tell about (deleted meanwhile, an
    error answer) leaves the report standing, saying so where its log would be."""
    try:
        tail, cut = client.read_log_tail(uuid, LOG_BYTES)
        return failure_details(client.read_events(uuid), tail.decode("utf-8", "replace"), cut=cut)
    except ServerError as exc:
        return FailureDetails(exit_code=None, log_tail=(f"(GPULab did not give this job's log: {exc})",))


def _candidate(row: StatusRow) -> Candidate:
    return Candidate(row.name, row.sweep, row.job.uuid if row.job else None)
