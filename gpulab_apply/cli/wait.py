"""``gpulab-apply wait [NAME...]``: wait until jobs run or end (docs/logs-wait.md); the waiting and its display
are shared with ``apply --wait`` (:mod:`gpulab_apply.cli.shared`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gpulab_apply.app.connection import open_client
from gpulab_apply.app.planning import list_remote
from gpulab_apply.cli.names import complete_job_names, job_names
from gpulab_apply.cli.options import connection_options
from gpulab_apply.cli.output import masking_errors
from gpulab_apply.cli.shared import (
    current_candidates,
    job_file_facts,
    jobs_option,
    wait_options,
    wait_until,
)
from gpulab_apply.errors import ExitStatus, JobNotFoundError
from gpulab_apply.reconcile.waiting import WaitFor
from gpulab_apply.selectors import resolve_names
from gpulab_apply.settings import Settings


@click.command(short_help="Wait until jobs run or end; exit 1 if one failed.")
@click.argument("names", nargs=-1, metavar="[SELECTOR...]", shell_complete=complete_job_names)
@wait_options
@jobs_option
@connection_options(job_files=False)
def wait(names: tuple[str, ...], *, wait_for: str, wait_timeout: float | None, interval: float,
         paths: tuple[Path, ...], settings: Settings) -> int:
    """Wait until the current jobs of this set that SELECTOR... name (names, globs, sweep names, UUIDs) are
    running, or done with --wait-for done.

    Without selectors: every job named in the job files that has been submitted. Exits 0 when all got there,
    1 when all have settled and one of them failed (FAILED, CANCELLED, deleted), exit 4 on --wait-timeout.

    \b
    Example:
      gpulab-apply wait train-resnet50 --wait-timeout 30m
      gpulab-apply wait --wait-for done
    """
    secrets, sweeps = job_file_facts(paths, settings.workspace)
    with masking_errors(secrets), open_client(settings) as client:
        current, candidates = current_candidates(list_remote(client), client, settings.set_name, sweeps)
        if names:  # the one selector grammar (docs/commands.md#selectors)
            names = tuple(resolve_names(names, candidates, what=f"job of set {settings.set_name!r}"))
        else:
            directories = list(settings.workspace.select(paths).paths)
            in_files = job_names(directories, job_root=settings.workspace.job_root)
            names = tuple(name for name in in_files if name in current)
            if not names:
                where = ", ".join(directories)
                raise JobNotFoundError(
                    f"set {settings.set_name!r} has no submitted job of the job files in {where} to wait for"
                    if in_files else f"no valid job files in {where}",
                    hint="apply first" if in_files else "pass --jobs PATH, or name the jobs: gpulab-apply wait SELECTOR...")
        wait_until(client, settings.set_name, names, wait_for=WaitFor(wait_for), timeout=wait_timeout,
                   interval=interval, result_stream=sys.stdout, secrets=secrets)
    return ExitStatus.OK
