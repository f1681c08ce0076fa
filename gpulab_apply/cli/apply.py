"""``gpulab-apply apply``: submit missing jobs, cancel removed ones, then verify (docs/plan-apply.md#apply)."""

from __future__ import annotations

import dataclasses
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gpulab_apply.app.applying import apply_plan, plan_to_apply, run_commit
from gpulab_apply.app.planning import list_remote, load_desired, select
from gpulab_apply.app.prefetch import ListingAhead
from gpulab_apply.cli.group import JobPaths
from gpulab_apply.cli.names import complete_job_names, complete_protected_names
from gpulab_apply.cli.options import connection_options
from gpulab_apply.cli.output import Output, format_option, is_terminal
from gpulab_apply.cli.shared import wait_after_apply, wait_options
from gpulab_apply.cli.signals import settling
from gpulab_apply.cli.watch import watch as watch_rounds
from gpulab_apply.errors import ApplyFailedError, ExitStatus, InterruptedByUser
from gpulab_apply.gpulab.client import GpulabClient
from gpulab_apply.masking import mask_url
from gpulab_apply.reconcile.executor import (
    DEFAULT_PARALLELISM,
    ApplyReport,
    check_guards,
    planned_actions,
)
from gpulab_apply.reconcile.guards import DEFAULT_MAX_CANCEL, Guards
from gpulab_apply.reconcile.marker import RunCommit
from gpulab_apply.reconcile.planfile import (
    SavedPlan,
    is_plan_file,
    load_plan,
    without_credentials,
)
from gpulab_apply.reconcile.planner import Plan
from gpulab_apply.reporters.apply import ApplyResult
from gpulab_apply.settings import LOCAL_ENDPOINT, Settings, normalise_endpoint

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar


@click.command(short_help="Submit missing jobs, cancel removed ones, verify.",
               epilog="\b\nExample:\n  gpulab-apply apply jobs.d\n  gpulab-apply apply --yes --target 'sweep-*'\n  gpulab-apply apply plan.json")
@click.argument("paths", nargs=-1, type=JobPaths(), metavar="[PATHS...|PLANFILE]")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation (needed when not on a terminal).")
@click.option("--allow-empty", is_flag=True, help="Allow an empty desired set to cancel every managed job.")
@click.option("--max-cancel", type=click.IntRange(min=0), default=DEFAULT_MAX_CANCEL, show_default=True,
              help="Refuse (exit 3) a plan that cancels more jobs than this.")
@click.option("--max-gpu-hours", type=click.FloatRange(min=0), metavar="HOURS",
              help="Refuse (exit 3) a plan requesting more GPU-hours than this (config: max-gpu-hours).")
@click.option("--allow-unseen", is_flag=True,
              help="On API v3.x, create jobs with no evidence they are new (one may exist beyond the 744 h listing).")
@click.option("--cancel-protected", multiple=True, metavar="SELECTOR", shell_complete=complete_protected_names,
              help="Allow cancelling or replacing these protected jobs (repeatable).")
@click.option("--skip-impossible", is_flag=True,
              help="Leave out jobs no node may ever run and apply the rest (docs/capacity.md).")
@click.option("--parallelism", type=click.IntRange(1, 64), default=DEFAULT_PARALLELISM, show_default=True,
              help="Submissions and cancellations in flight at once.")
@click.option("--rerun-failed", is_flag=True, help="Submit failed and cancelled jobs again.")
@click.option("--target", "targets", multiple=True, metavar="SELECTOR", shell_complete=complete_job_names,
              help="Only these jobs: a name, glob, sweep name or UUID (prefix) (repeatable; docs/commands.md).")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when apply changed something, or kept protected drift.")
@format_option("apply", "text (the plan, then each action), json (one document at the end), github (annotations).")
@click.option("--wait", "wait_jobs", is_flag=True,
              help="Then wait until the submitted jobs run (--wait-for done: end); exit 1 if one failed.")
@click.option("--watch", is_flag=True,
              help="Plan and apply in rounds (every --interval seconds) until every job has ended and nothing is "
                   "left to submit: carries needs, retries and throttled sweeps through (docs/workflows.md).")
@click.option("--forever", is_flag=True, help="With --watch: keep going after the set settled, until stopped.")
@wait_options
@connection_options(workspace_paths=lambda paths: [] if _plan_file(paths) else paths)
def apply(paths: tuple[Path, ...], *, yes: bool, allow_empty: bool, max_cancel: int, allow_unseen: bool,
          max_gpu_hours: float | None, skip_impossible: bool,
          cancel_protected: tuple[str, ...], parallelism: int, rerun_failed: bool, targets: tuple[str, ...],
          detailed_exitcode: bool, output: Output, wait_jobs: bool, wait_for: str, wait_timeout: float | None,
          interval: float, settings: Settings, watch: bool = False, forever: bool = False) -> int:
    """Make GPULab match the job files: plan, show, confirm, act, verify.

    Give job directories (default: jobs.d) or one plan file from `plan --out`. Not on a terminal, apply needs
    --yes or a plan file; it never prompts in CI.
    """
    saved = load_plan(paths[0]) if _plan_file(paths) else None
    if saved is not None:
        settings, targets, rerun_failed, cancel_protected = _plan_file_options(
            saved, settings, given=bool(targets or rerun_failed or cancel_protected))
    # the job files first: a missing or invalid file is the mistake to report, not the missing --yes
    selection = select(settings.workspace.at_root(saved.paths) if saved else paths, settings)
    with ListingAhead(settings, list_remote) as ahead:
        # unattended (--yes or a plan file) and not --watch (whose rounds list afresh): a large set's listing is
        # read while its files are checked (docs/plan-apply.md#speed)
        read_ahead = ahead.read if (yes or saved is not None) and not watch else None
        desired = load_desired(selection, settings, submission=True,  # the one command that needs every ${VAR}
                               meanwhile=read_ahead)
        output.hide(desired.secrets)
        if saved is None and not yes and not is_terminal(sys.stdin):
            raise click.UsageError("not on a terminal: pass --yes to apply without confirmation, or apply a plan "
                                   "file made with `gpulab-apply plan --out FILE`")
        if (watch or forever) and (saved is not None or wait_jobs or not watch):
            raise click.UsageError("--watch plans afresh every round: it takes job directories, not a plan file, "
                                   "and no --wait; --forever needs --watch")
        client, remote = ahead.client()
        guards = Guards(allow_empty=allow_empty, max_cancel=max_cancel, allow_unseen=allow_unseen,
                        max_gpu_hours=settings.max_gpu_hours if max_gpu_hours is None else max_gpu_hours,
                        skip_impossible=skip_impossible)
        if watch:
            return watch_rounds(output, selection, client, settings, guards=guards, targets=targets,
                                rerun_failed=rerun_failed, cancel_protected=cancel_protected,
                                parallelism=parallelism, interval=interval, forever=forever)
        result = plan_to_apply(desired, client, settings, selection=selection, guards=guards, saved=saved,
                               targets=targets, rerun_failed=rerun_failed, cancel_protected=cancel_protected,
                               remote=remote)
        if not output.is_document:  # the plan, before the question and the actions
            output.emit(result, kind="plan", final=False)
        if not result.has_changes:
            output.emit(ApplyResult(plan=result, report=None))
            return ExitStatus.CHANGES if detailed_exitcode and result.kept_drift else ExitStatus.OK
        check_guards(result)
        if saved is None and not yes and not click.confirm("\nApply these changes?", default=False, err=True):
            raise click.Abort()
        with settling() as stop:
            report = _apply_with_progress(result, client, parallelism=parallelism, stop=stop.event,
                                          commit=run_commit(settings))
    output.emit(ApplyResult(plan=result, report=report))
    if report.interrupted:
        signal_name = stop.signal.name if stop.signal else "a signal"
        raise InterruptedByUser(f"apply was stopped by {signal_name}; the report above says what was done and "
                                "what was not started", exit_status=stop.exit_status,
                                hint="run apply again: it does only what is still missing")
    if not report.ok:
        failed = sum(1 for outcome in report.outcomes if not outcome.ok)
        raise ApplyFailedError(f"{failed} job action(s) failed; the report above says what succeeded",
                               hint="fix the cause and run apply again: it only does what is still missing")
    if wait_jobs:
        wait_after_apply([outcome.name for outcome in report.outcomes if outcome.created], settings,
                         wait_for=wait_for, wait_timeout=wait_timeout, interval=interval, secrets=desired.secrets)
    # drift that protection kept is reported as 2 as well (docs/plan-apply.md#kept-drift)
    return ExitStatus.CHANGES if detailed_exitcode and (report.changed or result.kept_drift) else ExitStatus.OK


def _plan_file(paths: Sequence[Path]) -> bool:
    """Whether apply was given one plan file (its workspace is the working directory's, not the file's)."""
    return len(paths) == 1 and is_plan_file(Path(paths[0]))


def _plan_file_options(saved: SavedPlan, settings: Settings, *,
                       given: bool) -> tuple[Settings, tuple[str, ...], bool, tuple[str, ...]]:
    """The settings and plan options a plan file fixes; giving them again on the command line is an error."""
    if given:
        raise click.UsageError("--target, --rerun-failed and --cancel-protected come from the plan file; "
                               "make a new plan to change them")
    return (_plan_file_settings(saved, settings), saved.options.targets, saved.options.rerun_failed,
            tuple(sorted(saved.options.cancel_protected)))


#: where a setting taken from a plan file says it came from (``--verbose``)
_FROM_PLAN = "plan file"


def _plan_file_settings(saved: SavedPlan, settings: Settings) -> Settings:
    """The settings a plan file was made for: its GPULab (an endpoint, or the embedded emulator), API version,
    project and set (docs/plan-format.md#what-a-plan-file-fixes). They replace what the environment, the
    config file or the defaults say; a flag that contradicts one is a usage error (exit 64), never a plan
    applied somewhere it was not made for."""
    planned_local = saved.endpoint == LOCAL_ENDPOINT
    given = {name for name, source in settings.sources.items() if source.startswith("--")}
    clashes = []
    endpoint_now = LOCAL_ENDPOINT if settings.local else without_credentials(settings.api_root or settings.endpoint)
    if "endpoint" in given and endpoint_now != saved.endpoint:
        clashes.append(f"{settings.sources['endpoint']} asks for {mask_url(endpoint_now)} but the plan was made for "
                       f"{saved.endpoint}")
    if "api_version" in given and saved.api_version and settings.api_version != saved.api_version:
        clashes.append(f"--api-version {settings.api_version} but the plan was made with API v{saved.api_version}")
    project = saved.options.project_urn
    if "project" in given and not (settings.project and project and (
            settings.project == project or project.endswith(f"+project+{settings.project}"))):
        clashes.append(f"--project {settings.project} but the plan was made for project {project or '(none)'}")
    if "set" in given and settings.set_name != saved.set_name:
        clashes.append(f"--set {settings.set_name} but the plan was made for set {saved.set_name}")
    if clashes:
        raise click.UsageError("the plan file decides where it is applied: " + "; ".join(clashes)
                               + ". Drop the flag(s) to apply the plan as it was made, or make a new plan with them.")
    sources = {**settings.sources, "set": _FROM_PLAN, "project": _FROM_PLAN}
    if planned_local or endpoint_now != saved.endpoint:  # the same endpoint keeps the credentials it was given with
        sources["endpoint"] = _FROM_PLAN
    settings = dataclasses.replace(settings, set_name=saved.set_name, project=project, sources=sources)
    if planned_local:
        return dataclasses.replace(settings, local=True, endpoint=LOCAL_ENDPOINT, api_root=None,
                                   api_version=saved.api_version or settings.api_version)
    if endpoint_now != saved.endpoint:
        api_root, version = normalise_endpoint(saved.endpoint, saved.api_version, source=_FROM_PLAN)
        return dataclasses.replace(settings, local=False, endpoint=saved.endpoint, api_root=api_root,
                                   api_version=version, speed=None)
    return settings


def _apply_with_progress(plan: Plan, client: GpulabClient, *, parallelism: int, stop: threading.Event,
                         commit: RunCommit | None) -> ApplyReport:
    """Apply; a progress bar on stderr only when it is a terminal."""
    if not is_terminal(sys.stderr):
        return apply_plan(plan, client, parallelism=parallelism, stop=stop, commit=commit)
    lock = threading.Lock()
    bar: ProgressBar[int]
    with click.progressbar(length=planned_actions(plan), label="Applying", file=sys.stderr, show_pos=True) as bar:
        def advance(_: str) -> None:
            with lock:  # the callback runs on worker threads
                bar.update(1)

        return apply_plan(plan, client, parallelism=parallelism, stop=stop, progress=advance, commit=commit)
