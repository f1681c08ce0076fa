"""``gpulab-apply status``: the managed jobs of the set and their GPULab state."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from gpulab_apply.cli.options import connection_options
from gpulab_apply.cli.output import emit, format_option
from gpulab_apply.cli.planning import DEFAULT_PATHS, load_desired
from gpulab_apply.errors import ExitStatus
from gpulab_apply.gpulab.connection import open_client
from gpulab_apply.reconcile.status import status_rows
from gpulab_apply.reporters.status import StatusReport
from gpulab_apply.settings import Settings


@click.command(short_help="List the jobs of this set and their state.",
               epilog="\b\nExample:\n  gpulab-apply status\n  gpulab-apply status --watch --interval 10\n  gpulab-apply status --format json")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@format_option("status", "text (a table), json (versioned), markdown (a pull-request comment).")
@connection_options
def status(paths: tuple[Path, ...], *, fmt: str, settings: Settings) -> int:
    """List the jobs of this set: status, age, GPUs, and the job file each comes from.

    PATHS are job directories or files (default: jobs.d).
    """
    desired = load_desired(paths or DEFAULT_PATHS, settings)
    with open_client(settings) as client:
        remote = client.list_jobs(project_urn=client.project_urn)
        now = datetime.now(UTC)
        rows = status_rows(desired, remote, set_name=settings.set_name, project_urn=client.project_urn, now=now,
                           user_urn=client.identity.user_urn if client.identity else None)
    emit(StatusReport.of(rows, set_name=settings.set_name, now=now))
    return ExitStatus.OK
