"""``gpulab-apply logs NAME [--follow]``: the log of the current job of a name (docs/logs-wait.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gpulab_apply.cli.options import connection_options
from gpulab_apply.cli.shared import complete_job_names, jobs_option, user_urn
from gpulab_apply.errors import ExitStatus, JobNotFoundError
from gpulab_apply.gpulab.connection import open_client
from gpulab_apply.jobmodel.status import JobStatus
from gpulab_apply.masking import safe
from gpulab_apply.model import RemoteJob
from gpulab_apply.reconcile.waiting import LogTail, current_jobs
from gpulab_apply.settings import Settings

if TYPE_CHECKING:
    from gpulab_apply.gpulab.client import GpulabClient

#: how often ``--follow`` asks for more, as GPULab's own ``gpulab-cli log --follow`` does
FOLLOW_INTERVAL = 1.0

@click.command(short_help="Print a job's log; --follow until the job ends.")
@click.argument("name", shell_complete=complete_job_names)
@click.option("-f", "--follow", is_flag=True,
              help="Keep printing new output until the job ends; a halted job's restart is followed too.")
@click.option("--interval", type=click.FloatRange(min=0.01), default=FOLLOW_INTERVAL, show_default=True,
              metavar="SECONDS", help="Seconds between two reads with --follow.")
@jobs_option
@connection_options
def logs(name: str, *, follow: bool, interval: float, paths: tuple[Path, ...], settings: Settings) -> int:
    """Print the log (the container's stdout and stderr) of job NAME: the newest job of this set with that
    name, so after a restart it is the restart's log.

    \b
    Example:
      gpulab-apply logs train-resnet50
      gpulab-apply logs train-resnet50 --follow
    """
    out = sys.stdout.buffer
    with open_client(settings) as client:
        job = current_job(client, settings.set_name, name)
        while True:
            tail = LogTail(client, job.uuid)
            if not follow:
                chunk = tail.poll()
                out.write(chunk)
                out.flush()
                if not chunk:
                    _note(f"{safe(name)} ({job.uuid}) is {tail.status.name if tail.status else '?'} "
                          "and has no log yet")
                return ExitStatus.OK
            _note(f"following the log of {safe(name)} ({job.uuid}); Ctrl-C stops")
            for chunk in tail.follow(interval=interval):
                out.write(chunk)
                out.flush()
            successor = _restart_of(client, settings.set_name, job) if tail.status is JobStatus.HALTED else None
            if successor is None:
                _note(f"{safe(name)} ended: {tail.status.name if tail.status else '?'}")
                return ExitStatus.OK
            _note(f"{safe(name)} was halted; GPULab restarted it as {successor.uuid}")
            job = successor


def current_job(client: GpulabClient, set_name: str, name: str) -> RemoteJob:
    """The newest job of ``set_name`` named ``name``; a clear error when there is none."""
    from gpulab_apply.cli.planning import list_remote

    remote = list_remote(client)
    job = current_jobs(remote, set_name=set_name, user_urn=user_urn(client), names={name}).get(name)
    if job is not None:
        return job
    others = sum(1 for candidate in remote if candidate.name == name)
    hint = (f"{others} job(s) have that name, of another set (pass --set to name it) or another user"
            if others else "check the name (`gpulab-apply status` lists the set's jobs), or apply first")
    raise JobNotFoundError(f"set {set_name!r} has no job named '{safe(name)}'", hint=hint)


def _restart_of(client: GpulabClient, set_name: str, halted: RemoteJob) -> RemoteJob | None:
    """The job that continues a HALTED one: the name's current job, if it is newer."""
    current = current_job(client, set_name, halted.name)
    return current if current.uuid != halted.uuid else None


def _note(message: str) -> None:
    click.echo(f"gpulab-apply: {message}", err=True)
