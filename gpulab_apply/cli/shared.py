"""What several commands share, so that no command module imports another: the ``--jobs`` option, what the job
files say and the current runs as selector candidates (logs, wait), and waiting (``wait`` and ``apply --wait``,
docs/logs-wait.md).

Not a command. A wait shows a live block on a terminal, one line per change elsewhere (CI logs); the waiting
itself is :func:`gpulab_apply.reconcile.waiting.wait_for_jobs`.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import click

from gpulab_apply.app.connection import open_client
from gpulab_apply.cli.options import job_directory_option
from gpulab_apply.cli.output import is_terminal
from gpulab_apply.errors import JobsFailedError, WaitTimeoutError
from gpulab_apply.gpulab.listing import set_filter
from gpulab_apply.jobfiles.validation import validate_paths
from gpulab_apply.jobmodel.durations import parse_duration as gpulab_duration
from gpulab_apply.jobmodel.status import JobStatus
from gpulab_apply.masking import NO_SECRETS, Secrets, safe
from gpulab_apply.order import natural_key
from gpulab_apply.reconcile.waiting import Phase, WaitFor, WaitState, current_jobs, wait_for_jobs
from gpulab_apply.selectors import Candidate
from gpulab_apply.settings import Settings

if TYPE_CHECKING:
    from gpulab_apply.gpulab.client import GpulabClient
    from gpulab_apply.model import RemoteJob
    from gpulab_apply.workspace import Workspace

F = TypeVar("F", bound=Callable[..., Any])

#: seconds between two looks: each is one listing of the project's jobs
DEFAULT_INTERVAL = 5.0
#: more jobs than this, and a log gets counts instead of a line per job and change
MANY_JOBS = 20


def parse_duration(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """Seconds, or a GPULab duration: ``90``, ``90s``, ``30m``, ``2h``, ``1 day`` (one grammar: jobmodel.durations)."""
    if value is None:
        return None
    seconds = gpulab_duration(value.strip(), bare_seconds=True)
    if seconds is None:
        raise click.BadParameter(f"{value!r} is not a duration: give seconds, or a number with s, m or h (30m)")
    return seconds


# --- job names: the --jobs option, the job files, the current runs --------------------------------------

jobs_option = job_directory_option(
    help="Job directory or file (repeatable; default: the job root, jobs.d): where the names, sweeps and values "
         "from the environment come from (for wait without SELECTOR, the jobs to wait for).")


def job_file_secrets(paths: Sequence[Path], workspace: Workspace) -> Secrets:
    """What the job files (``--jobs``, default the job root) take from the environment: a name built from
    ``${VAR}`` is masked wherever this command prints it. Problems in them are not this command's."""
    return job_file_facts(paths, workspace)[0]


def job_file_facts(paths: Sequence[Path], workspace: Workspace) -> tuple[Secrets, dict[str, str]]:
    """:func:`job_file_secrets`, and job name -> sweep for the jobs that are sweep members: a selector names a
    sweep by them (docs/commands.md#selectors)."""
    selection = workspace.select(paths)
    if not any(Path(path).exists() for path in selection.paths):
        return NO_SECRETS, {}
    result = validate_paths(selection.paths, job_root=workspace.job_root)
    return result.secrets, {spec.name: spec.sweep for spec in result.jobs if spec.sweep}


def current_candidates(remote: Sequence[RemoteJob], client: GpulabClient, set_name: str, sweeps: dict[str, str]
                       ) -> tuple[dict[str, RemoteJob], list[Candidate]]:
    """The current run of each name of ``set_name`` in the listing ``remote`` (as ``logs`` and ``wait`` see
    them), and those runs as selector candidates, sweeps from the job files."""
    current = current_jobs(remote, set_name=set_name, user_urn=user_urn(client))
    return current, [Candidate(name, sweeps.get(name), job.uuid) for name, job in current.items()]


def user_urn(client: GpulabClient) -> str | None:
    """Whose jobs these are: the certificate's user (the emulator's default user without one)."""
    return client.identity.user_urn if client.identity else None


# --- waiting: the options, and the wait with its display (wait, apply --wait) ------------------------

def wait_options(function: F) -> F:
    """--wait-for, --wait-timeout and --interval, shared by ``wait`` and ``apply --wait``."""
    for option in reversed((
        click.option("--wait-for", type=click.Choice([w.value for w in WaitFor]), default=WaitFor.RUNNING.value,
                     show_default=True, help="running: until each job runs (or already ran); done: until each "
                     "job has ended."),
        click.option("--wait-timeout", callback=parse_duration, metavar="DURATION",
                     help="Give up after this long (90s, 30m, 2h) with exit 4 [default: no limit]."),
        click.option("--interval", type=click.FloatRange(min=0.01), default=DEFAULT_INTERVAL, show_default=True,
                     metavar="SECONDS", help="Seconds between two looks at the jobs (one listing each)."),
    )):
        function = option(function)
    return function


def wait_until(client: GpulabClient, set_name: str, names: Sequence[str], *, wait_for: WaitFor,
               timeout: float | None, interval: float, result_stream: TextIO, secrets: Secrets = NO_SECRETS) -> None:
    """Wait with a display on stderr, write one result line per job to ``result_stream``, and raise
    :class:`JobsFailedError` or :class:`WaitTimeoutError` when the wait did not succeed. Names and uuids
    are GPULab's strings: escaped, and masked with ``secrets`` (a name built from ``${VAR}``)."""
    display: Display = (LiveBlock(sys.stderr, secrets) if is_terminal(sys.stderr)
                        else ChangeLines(sys.stderr, secrets))
    scope = set_filter(user_urn=user_urn(client), project_urn=client.project_urn)
    state = wait_for_jobs(lambda: client.list_jobs(**scope), names=names,
                          set_name=set_name, user_urn=user_urn(client), wait_for=wait_for, timeout=timeout,
                          interval=interval, on_update=display.update)
    display.close()
    result_stream.writelines(secrets.mask(line) for line in job_lines(state))
    result_stream.flush()
    failed = state.failed
    if failed:
        raise JobsFailedError(f"{len(failed)} of {len(state.jobs)} job(s) failed: {_listing(state, failed)}",
                              hint="`gpulab-apply logs NAME` shows a job's output")
    if not state.settled:
        waiting = [name for name in state.jobs if state.phase(name) is Phase.WAITING]
        raise WaitTimeoutError(f"{len(waiting)} of {len(state.jobs)} job(s) not {_goal(wait_for)} after "
                               f"{clock_text(state.elapsed)}: {_listing(state, waiting)}",
                               hint="`gpulab-apply status` shows why a job waits; give more --wait-timeout")
    finished = sum(1 for job in state.jobs.values() if job is not None and job.status is JobStatus.FINISHED)
    already = f", {finished} of them already done" if wait_for is WaitFor.RUNNING and finished else ""
    click.echo(f"gpulab-apply: all {len(state.jobs)} job(s) {_goal(wait_for)}{already} "
               f"({clock_text(state.elapsed)})", err=True)


def job_lines(state: WaitState) -> list[str]:
    """``name  STATUS  uuid`` per job, aligned."""
    width = max(len(safe(name)) for name in state.jobs)
    return [f"{safe(name).ljust(width)}  {_status(state, name):<10}  {safe(job.uuid) if job else '-'}\n"
            for name, job in state.jobs.items()]


def clock_text(seconds: float) -> str:
    """``0:42``, ``12:05``, ``1:02:03``."""
    whole = int(seconds)
    hours, minutes, secs = whole // 3600, whole // 60 % 60, whole % 60
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def summary(state: WaitState) -> str:
    """``Waiting for 3 job(s) to be running: 1 running, 2 waiting, 0 failed [0:42]``."""
    goal = _goal(state.wait_for)
    return (f"Waiting for {len(state.jobs)} job(s) to be {goal}: "
            f"{state.count(Phase.REACHED)} {goal}, {state.count(Phase.WAITING)} waiting, "
            f"{state.count(Phase.FAILED)} failed [{clock_text(state.elapsed)}]")


class Display:
    def update(self, state: WaitState) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Leave the display as it is."""


class ChangeLines(Display):
    """For logs: every job's status once, then a line for each change. Past :data:`MANY_JOBS` jobs a CI log
    would drown in them: then a summary line whenever the counts change, and a line per failed job."""

    def __init__(self, stream: TextIO, secrets: Secrets = NO_SECRETS) -> None:
        self.stream = stream
        self.secrets = secrets
        self.seen: dict[str, str] = {}
        self.counts: tuple[int, int, int] | None = None

    def update(self, state: WaitState) -> None:
        many = len(state.jobs) > MANY_JOBS
        counts = (state.count(Phase.REACHED), state.count(Phase.WAITING), state.count(Phase.FAILED))
        if self.counts is None or (many and counts != self.counts):
            self.stream.write(f"gpulab-apply: {summary(state)}\n")
        self.counts = counts
        for name in state.jobs:
            status = _status(state, name)
            if self.seen.get(name) != status:
                self.seen[name] = status
                if not many or state.phase(name) is Phase.FAILED:
                    self.stream.write(self.secrets.mask(
                        f"gpulab-apply: [{clock_text(state.elapsed)}] {safe(name)}: {status}\n"))
        self.stream.flush()


class LiveBlock(Display):
    """For a terminal: one block redrawn in place, the summary and the jobs still waiting first."""

    def __init__(self, stream: TextIO, secrets: Secrets = NO_SECRETS) -> None:
        self.stream = stream
        self.secrets = secrets
        self.drawn = 0

    def update(self, state: WaitState) -> None:
        size = shutil.get_terminal_size()
        room = max(3, size.lines - 3)
        order = sorted(state.jobs, key=lambda name: (state.phase(name) is not Phase.WAITING, natural_key(name)))
        lines = [summary(state), *(f"  {self.secrets.mask(line).rstrip()}"
                                   for line in job_lines(_only(state, order[:room])))]
        if len(order) > room:
            lines.append(f"  … and {len(order) - room} more")
        # a line longer than the terminal would wrap, and the erase below would count it as one
        lines = [line if len(line) < size.columns else line[:size.columns - 2] + "…" for line in lines]
        erase = f"\x1b[{self.drawn}F\x1b[J" if self.drawn else ""
        self.stream.write(erase + "\n".join(lines) + "\n")
        self.stream.flush()
        self.drawn = len(lines)


def _only(state: WaitState, names: Sequence[str]) -> WaitState:
    return WaitState(jobs={name: state.jobs[name] for name in names}, wait_for=state.wait_for,
                     elapsed=state.elapsed)


def _status(state: WaitState, name: str) -> str:
    job = state.jobs[name]
    return job.status.name if job is not None else "GONE"


def _goal(wait_for: WaitFor) -> str:
    return "running" if wait_for is WaitFor.RUNNING else "done"


def _listing(state: WaitState, names: Sequence[str], limit: int = 10) -> str:
    shown_names = [f"{safe(name)} ({_status(state, name)})" for name in names[:limit]]
    return ", ".join(shown_names) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def wait_after_apply(submitted: Sequence[str], settings: Settings, *, wait_for: str, wait_timeout: float | None,
                     interval: float, secrets: Secrets = NO_SECRETS) -> None:
    """``apply --wait``: wait for the jobs apply submitted (by name, so restarts count); results on stderr,
    keeping stdout to apply's own report (``--format json`` stays one document)."""
    if not submitted:
        return
    with open_client(settings) as client:
        wait_until(client, settings.set_name, submitted, wait_for=WaitFor(wait_for), timeout=wait_timeout,
                   interval=interval, result_stream=sys.stderr, secrets=secrets)


