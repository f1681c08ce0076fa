"""``gpulab-apply logs NAME [--follow]``: the log of the current job of a name (docs/logs-wait.md).

A job's output is whatever its program printed, so it is printed safely (docs/logs-wait.md#printed-safely):
colour codes dropped, other control characters escaped, the job files' secrets masked, and under GitHub
Actions inside ``::stop-commands::`` so that no line of it is read as a workflow command. ``--raw`` gives
the bytes as GPULab has them.
"""

from __future__ import annotations

import codecs
import os
import secrets as tokens
import sys
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Self

import click

from gpulab_apply.app.connection import open_client
from gpulab_apply.app.planning import list_remote
from gpulab_apply.cli.names import complete_single_job_names
from gpulab_apply.cli.options import connection_options
from gpulab_apply.cli.output import masking_errors
from gpulab_apply.cli.shared import (
    current_candidates,
    job_file_facts,
    jobs_option,
    user_urn,
)
from gpulab_apply.errors import ExitStatus, JobNotFoundError
from gpulab_apply.jobmodel.status import JobStatus
from gpulab_apply.masking import Secrets, safe, safe_log
from gpulab_apply.model import RemoteJob
from gpulab_apply.reconcile.waiting import LogTail, current_jobs
from gpulab_apply.selectors import Candidate, check, is_uuid_prefix, matches, names_match, resolve
from gpulab_apply.settings import Settings

if TYPE_CHECKING:
    from gpulab_apply.gpulab.client import GpulabClient

#: how often ``--follow`` asks for more, as GPULab's own ``gpulab-cli log --follow`` does
FOLLOW_INTERVAL = 1.0

@click.command(short_help="Print a job's log; --follow until the job ends.")
@click.argument("name", metavar="SELECTOR", shell_complete=complete_single_job_names)
@click.option("-f", "--follow", is_flag=True,
              help="Keep printing new output until the job ends; a halted job's restart is followed too.")
@click.option("--interval", type=click.FloatRange(min=0.01), default=FOLLOW_INTERVAL, show_default=True,
              metavar="SECONDS", help="Seconds between two reads with --follow.")
@click.option("--raw", is_flag=True, help="The log's bytes as GPULab has them: escape sequences, workflow "
              "commands and secrets included. Only for a file or a program, never for a terminal or a CI log.")
@jobs_option
@connection_options(job_files=False)
def logs(name: str, *, follow: bool, interval: float, raw: bool, paths: tuple[Path, ...], settings: Settings) -> int:
    """Print the log (the container's stdout and stderr) of one job: SELECTOR is its name (the current run of
    this set with that name, so after a restart it is the restart's log), a glob or sweep name that matches
    one job, or its UUID (prefix).

    \b
    Example:
      gpulab-apply logs train-resnet50
      gpulab-apply logs train-resnet50 --follow
    """
    secrets, sweeps = job_file_facts(paths, settings.workspace)
    note = Notes(secrets)
    with masking_errors(secrets), open_client(settings) as client, LogWriter(sys.stdout.buffer, secrets, raw=raw,
                                                    github=os.environ.get("GITHUB_ACTIONS") == "true") as out:
        job = selected_job(client, settings.set_name, name, sweeps)
        name = job.name
        while True:
            tail = LogTail(client, job.uuid)
            if not follow:
                chunk = tail.poll()
                out.write(chunk)
                if not chunk:
                    note(f"{name} ({job.uuid}) is {tail.status.name if tail.status else '?'} and has no log yet")
                return ExitStatus.OK
            note(f"following the log of {name} ({job.uuid}); Ctrl-C stops")
            for chunk in tail.follow(interval=interval):
                out.write(chunk)
            successor = _restart_of(client, settings.set_name, job) if tail.status is JobStatus.HALTED else None
            if successor is None:
                out.close()
                note(f"{name} ended: {tail.status.name if tail.status else '?'}")
                return ExitStatus.OK
            out.close()
            note(f"{name} was halted; GPULab restarted it as {successor.uuid}")
            job = successor


class LogWriter:
    """Writes a job's log as it comes: decoded as UTF-8, a line at a time once complete (a secret or an escape
    sequence split across two reads is still seen whole), made safe (:func:`~gpulab_apply.masking.safe_log`)
    and masked. Under GitHub Actions the runner stops reading workflow commands around it: ``::stop-commands::``
    with a random token that the log cannot know, and ``::TOKEN::`` after it."""

    #: a line longer than this is written without waiting for its end
    MAX_PENDING = 64 * 1024

    def __init__(self, stream: BinaryIO, secrets: Secrets, *, raw: bool, github: bool) -> None:
        self.stream = stream
        self.secrets = secrets
        self.raw = raw
        self.token = tokens.token_hex(16) if github and not raw else None
        self.started = False
        self.line_ended = True
        self.pending = ""
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, chunk: bytes) -> None:
        if self.raw:
            self.stream.write(chunk)
        else:
            text = self.pending + self.decoder.decode(chunk)
            if text.endswith("\r"):  # its line feed may be in the next read
                text, self.pending = text[:-1], "\r"
            else:
                self.pending = ""
            complete, newline, rest = text.rpartition("\n")
            if len(rest) > self.MAX_PENDING:
                complete, newline, rest = text, "", ""
            self.pending = rest + self.pending
            self._emit(complete + newline)
        self.stream.flush()

    def close(self) -> None:
        """Write what is left of the last line; end the stretch without workflow commands."""
        if not self.raw:
            self._emit(self.pending + self.decoder.decode(b"", final=True))
            self.pending = ""
        if self.started and self.token is not None:  # on a line of its own
            self.stream.write(f"{'' if self.line_ended else chr(10)}::{self.token}::\n".encode())
            self.started = False
        self.stream.flush()

    def _emit(self, text: str) -> None:
        if not text:
            return
        if not self.started and self.token is not None:
            self.stream.write(f"::stop-commands::{self.token}\n".encode())
        self.started = True
        self.line_ended = text.endswith(("\n", "\r"))
        self.stream.write(self.secrets.mask(safe_log(text)).encode("utf-8", "replace"))


class Notes:
    """``gpulab-apply: …`` lines on stderr: names and uuids (GPULab's strings) escaped, secrets masked."""

    def __init__(self, secrets: Secrets) -> None:
        self.secrets = secrets

    def __call__(self, message: str) -> None:
        click.echo(f"gpulab-apply: {self.secrets.mask(safe(message))}", err=True)


def selected_job(client: GpulabClient, set_name: str, selector: str, sweeps: dict[str, str]) -> RemoteJob:
    """The one job ``selector`` names (docs/commands.md#selectors): a current run of this set by its name, glob
    or sweep, or any listed job of this user by its UUID (prefix), so an earlier run's log can be read too."""
    check((selector,))
    remote = list_remote(client)
    current, candidates = current_candidates(remote, client, set_name, sweeps)
    found = matches((selector,), candidates)[selector]
    if not found and is_uuid_prefix(selector):
        chosen = resolve((selector,), [Candidate(job.name, uuid=job.uuid) for job in remote], what="job")
        return next(job for job in remote if job.uuid == chosen[0].uuid)
    if not found:
        try:
            resolve((selector,), candidates, what=f"job of set {safe(set_name)!r}")
        except JobNotFoundError as exc:
            others = sum(1 for job in remote if names_match(selector, job.name))
            raise JobNotFoundError(exc.message, hint=f"{others} job(s) have that name, of another set (pass --set to "
                                   "name it) or another user" if others else exc.hint) from None
    if len(found) > 1:
        names = ", ".join(safe(candidate.name) for candidate in resolve((selector,), found)[:5])
        raise JobNotFoundError(f"{safe(selector)!r} matches {len(found)} jobs ({names}{', …' if len(found) > 5 else ''})"
                               ": logs prints one job's log", hint="name one of them")
    return current[found[0].name]


def current_job(client: GpulabClient, set_name: str, name: str) -> RemoteJob:
    """The newest job of ``set_name`` named ``name``; a clear error when there is none."""
    remote = list_remote(client)
    job = current_jobs(remote, set_name=set_name, user_urn=user_urn(client), names={name}).get(name)
    if job is not None:
        return job
    others = sum(1 for candidate in remote if candidate.name == name)
    hint = (f"{others} job(s) have that name, of another set (pass --set to name it) or another user"
            if others else "check the name (`gpulab-apply status` lists the set's jobs), or apply first")
    raise JobNotFoundError(f"set {safe(set_name)!r} has no job named '{safe(name)}'", hint=hint)


def _restart_of(client: GpulabClient, set_name: str, halted: RemoteJob) -> RemoteJob | None:
    """The job that continues a HALTED one: the name's current job, if it is newer."""
    current = current_job(client, set_name, halted.name)
    return current if current.uuid != halted.uuid else None

