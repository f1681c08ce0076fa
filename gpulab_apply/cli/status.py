"""``gpulab-apply status``: the managed jobs of the set and their GPULab state."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from gpulab_apply.cli.options import connection_options
from gpulab_apply.cli.output import render
from gpulab_apply.cli.planning import DEFAULT_PATHS, load_desired
from gpulab_apply.errors import ExitStatus
from gpulab_apply.gpulab.connection import open_client
from gpulab_apply.reconcile.status import status_rows
from gpulab_apply.reporters.status import REPORTERS
from gpulab_apply.settings import Settings


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(list(REPORTERS)), default="text", show_default=True)
@connection_options
def status(paths: tuple[Path, ...], *, fmt: str, settings: Settings) -> int:
    """List the jobs of this set: status, age, GPUs, and the job file each comes from.

    PATHS are job directories or files (default: jobs.d).
    """
    desired = load_desired(paths or DEFAULT_PATHS, settings, fmt=fmt)
    with open_client(settings) as client:
        remote = client.list_jobs(project_urn=client.project_urn)
        rows = status_rows(desired, remote, set_name=settings.set_name, project_urn=client.project_urn,
                           now=datetime.now(UTC), user_urn=client.identity.user_urn if client.identity else None)
    render(lambda stream, color: REPORTERS[fmt](rows, stream, set_name=settings.set_name, color=color))
    return ExitStatus.OK
