"""``gpulab-apply status``: the managed jobs of the set and their GPULab state, once or refreshed (``--watch``)."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import click

from gpulab_apply.cli.group import JobPaths
from gpulab_apply.cli.names import complete_job_names
from gpulab_apply.cli.options import connection_options
from gpulab_apply.cli.output import emit, format_option, is_terminal
from gpulab_apply.cli.planning import list_remote, load_desired, select
from gpulab_apply.errors import ExitStatus, ServerError
from gpulab_apply.gpulab.client import GpulabClient
from gpulab_apply.gpulab.connection import open_client
from gpulab_apply.model import JobSpec
from gpulab_apply.reconcile.results import (
    LOG_BYTES,
    FailureDetails,
    failure_details,
    failures_to_read,
    results_of,
)
from gpulab_apply.reconcile.status import StatusRow, status_rows
from gpulab_apply.reporters.status import RESULTS_FORMATS, StatusReport
from gpulab_apply.selectors import Candidate, resolve
from gpulab_apply.settings import Settings

#: moves the cursor home and clears the screen, so a refresh replaces the previous table on a terminal
_CLEAR = "\x1b[H\x1b[2J"


@click.command(short_help="List the jobs of this set and their state.",
               epilog="\b\nExample:\n  gpulab-apply status\n  gpulab-apply status --all\n  gpulab-apply status --watch --interval 10\n"
                      "  gpulab-apply status --format markdown > status.md")
@click.argument("paths", nargs=-1, type=JobPaths())
@format_option("status", "text (a table), json (versioned), markdown (a pull-request comment).")
@click.option("--watch", is_flag=True, help="Refresh every --interval seconds until Ctrl-C.")
@click.option("--interval", type=click.FloatRange(min=0.1), default=5.0, show_default=True, metavar="SECONDS",
              help="Seconds between refreshes with --watch.")
@click.option("--count", type=click.IntRange(min=1), metavar="N", help="With --watch: stop after N refreshes.")
@click.option("--target", "targets", multiple=True, metavar="SELECTOR", shell_complete=complete_job_names,
              help="Only these jobs: a name, glob, sweep name or UUID (prefix) (repeatable; docs/commands.md).")
@click.option("--all", "every_run", is_flag=True,
              help="Every job of each name (earlier runs, cancelled duplicates), not only the current run.")
@connection_options
def status(paths: tuple[Path, ...], *, fmt: str, watch: bool, interval: float, count: int | None, targets: tuple[str, ...],
           every_run: bool, settings: Settings) -> int:
    """List the jobs of this set: status, age, GPUs, the job file each comes from, and why a queued job waits.

    One row per name, its current run; --all lists every run. PATHS (default: the job root, jobs.d) select job
    directories or files inside it, and --target selects jobs: only those are listed. A line per sweep ends it.
    """
    selection = select(paths, settings)
    narrowed = selection.narrowed
    if not watch:
        desired = load_desired(selection, settings).jobs
        with open_client(settings) as client:
            emit(_report(client, desired, settings, every_run=every_run, narrowed=narrowed, fmt=fmt, targets=targets))
        return ExitStatus.OK
    clear = is_terminal(sys.stdout)
    refreshes = 0
    read: dict[str, FailureDetails] = {}  # a failed job's log and exit code never change: read once per watch
    try:
        with open_client(settings) as client:
            while count is None or refreshes < count:
                if refreshes:
                    time.sleep(interval)
                # the job files are read again too: a refresh shows edits made meanwhile
                report = _report(client, load_desired(selection, settings).jobs, settings, every_run=every_run,
                                 narrowed=narrowed, fmt=fmt, read=read, targets=targets)
                if clear:
                    click.echo(_CLEAR, nl=False)
                elif refreshes and fmt == "text":
                    click.echo()
                emit(report)
                refreshes += 1
    except KeyboardInterrupt:  # the way to stop watching: not an error
        pass
    return ExitStatus.OK


def _report(client: GpulabClient, desired: Sequence[JobSpec], settings: Settings, *,
            every_run: bool, narrowed: bool, fmt: str, read: dict[str, FailureDetails] | None = None,
            targets: Sequence[str] = ()) -> StatusReport:
    remote = list_remote(client)
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
    if fmt not in RESULTS_FORMATS:
        return report
    read = {} if read is None else read
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
