"""``status`` for the command line: the set's managed jobs and their GPULab state, once or refreshed."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from gpulab_apply.app.connection import open_client
from gpulab_apply.app.planning import list_remote, load_desired, select
from gpulab_apply.gpulab.client import GpulabClient
from gpulab_apply.masking import Secrets
from gpulab_apply.model import JobSpec
from gpulab_apply.reconcile.status import status_rows
from gpulab_apply.reporters.status import StatusReport
from gpulab_apply.settings import Settings
from gpulab_apply.workspace import Selection


def status_of(settings: Settings, paths: Sequence[str | Path], *, every_run: bool,
              hide: Callable[[Secrets], None]) -> StatusReport:
    """The jobs the job files under ``paths`` select, with their state; the files are read (and ``hide`` told their
    secrets) before anything goes to GPULab."""
    selection = select(paths, settings)
    desired = load_desired(selection, settings)
    hide(desired.secrets)
    with open_client(settings) as client:
        return _report(client, desired.jobs, settings, every_run=every_run, narrowed=selection.narrowed)


def watch_status(settings: Settings, paths: Sequence[str | Path], *, every_run: bool, interval: float,
                 count: int | None, hide: Callable[[Secrets], None]) -> Iterator[StatusReport]:
    """A report every ``interval`` seconds (``count`` of them, or until the caller stops), over one client; the job
    files are read again each time, so a refresh shows edits made meanwhile."""
    selection = select(paths, settings)
    with open_client(settings) as client:
        refreshes = 0
        while count is None or refreshes < count:
            if refreshes:
                time.sleep(interval)
            yield _one(client, selection, settings, every_run=every_run, hide=hide)
            refreshes += 1


def _one(client: GpulabClient, selection: Selection, settings: Settings, *, every_run: bool,
         hide: Callable[[Secrets], None]) -> StatusReport:
    desired = load_desired(selection, settings)
    hide(desired.secrets)
    return _report(client, desired.jobs, settings, every_run=every_run, narrowed=selection.narrowed)


def _report(client: GpulabClient, desired: Sequence[JobSpec], settings: Settings, *,
            every_run: bool, narrowed: bool) -> StatusReport:
    remote = list_remote(client)
    # GPULab's clock, as plan's: ages and the GPU-hours of running jobs are measured where the event times are
    now = client.server_time or datetime.now(UTC)
    rows = status_rows(desired, remote, set_name=settings.set_name, project_urn=client.project_urn, now=now,
                       user_urn=client.identity.user_urn if client.identity else None, every_run=every_run)
    if narrowed:  # a part of the job root: its jobs only, not the rest of the set as if no longer desired
        names = {spec.name for spec in desired}
        rows = tuple(row for row in rows if row.name in names)
    return StatusReport.of(rows, set_name=settings.set_name, now=now)
