"""``gpulab-apply apply``: submit missing jobs, cancel removed ones, then verify (docs/plan-apply.md#apply)."""

from __future__ import annotations

import dataclasses
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gpulab_apply.cli.completion import complete_job_names
from gpulab_apply.cli.options import connection_options
from gpulab_apply.cli.output import current, emit, format_option, is_terminal
from gpulab_apply.cli.planning import DEFAULT_PATHS, endpoint_of, load_desired, make_plan
from gpulab_apply.cli.wait import wait_after_apply, wait_options
from gpulab_apply.errors import ApplyFailedError, ExitStatus
from gpulab_apply.gpulab.client import GpulabClient
from gpulab_apply.gpulab.connection import open_client
from gpulab_apply.reconcile.capacity import without_impossible
from gpulab_apply.reconcile.executor import (
    DEFAULT_PARALLELISM,
    ApplyOptions,
    ApplyReport,
    check_guards,
    execute,
    planned_actions,
)
from gpulab_apply.reconcile.guards import DEFAULT_MAX_CANCEL, Guards
from gpulab_apply.reconcile.marker import new_run_id
from gpulab_apply.reconcile.planfile import SavedPlan, check_fresh, is_plan_file, load_plan
from gpulab_apply.reconcile.planner import Plan
from gpulab_apply.reporters.apply import ApplyResult
from gpulab_apply.settings import Settings

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar


@click.command(short_help="Submit missing jobs, cancel removed ones, verify.",
               epilog="\b\nExample:\n  gpulab-apply apply jobs.d\n  gpulab-apply apply --yes --target 'sweep-*'\n  gpulab-apply apply plan.json")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path), metavar="[DIR...|PLANFILE]")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation (needed when not on a terminal).")
@click.option("--allow-empty", is_flag=True, help="Allow an empty desired set to cancel every managed job.")
@click.option("--max-cancel", type=click.IntRange(min=0), default=DEFAULT_MAX_CANCEL, show_default=True,
              help="Refuse (exit 3) a plan that cancels more jobs than this.")
@click.option("--max-gpu-hours", type=click.FloatRange(min=0), metavar="HOURS",
              help="Refuse (exit 3) a plan requesting more GPU-hours than this (config: max-gpu-hours).")
@click.option("--allow-unseen", is_flag=True,
              help="On API v3.x, create jobs with no evidence they are new (one may exist beyond the 744 h listing).")
@click.option("--cancel-protected", multiple=True, metavar="NAME", shell_complete=complete_job_names,
              help="Allow cancelling or replacing this protected job (repeatable).")
@click.option("--skip-impossible", is_flag=True,
              help="Leave out jobs no node may ever run and apply the rest (docs/capacity.md).")
@click.option("--parallelism", type=click.IntRange(1, 64), default=DEFAULT_PARALLELISM, show_default=True,
              help="Submissions and cancellations in flight at once.")
@click.option("--rerun-failed", is_flag=True, help="Submit failed and cancelled jobs again.")
@click.option("--target", "targets", multiple=True, metavar="NAME_GLOB", shell_complete=complete_job_names,
              help="Only consider job names matching this glob (repeatable).")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when apply changed something.")
@format_option("apply", "text (the plan, then each action), json (one document at the end), github (annotations).")
@click.option("--wait", "wait_jobs", is_flag=True,
              help="Then wait until the submitted jobs run (--wait-for done: end); exit 1 if one failed.")
@wait_options
@connection_options
def apply(paths: tuple[Path, ...], *, yes: bool, allow_empty: bool, max_cancel: int, allow_unseen: bool,
          max_gpu_hours: float | None, skip_impossible: bool,
          cancel_protected: tuple[str, ...], parallelism: int, rerun_failed: bool, targets: tuple[str, ...],
          detailed_exitcode: bool, fmt: str, wait_jobs: bool, wait_for: str, wait_timeout: float | None,
          interval: float, settings: Settings) -> int:
    """Make GPULab match the job files: plan, show, confirm, act, verify.

    Give job directories (default: jobs.d) or one plan file from `plan --out`. Not on a terminal, apply needs
    --yes or a plan file; it never prompts in CI.
    """
    saved = load_plan(paths[0]) if len(paths) == 1 and is_plan_file(paths[0]) else None
    if saved is not None:
        settings, targets, rerun_failed, cancel_protected = _plan_file_options(
            saved, settings, given=bool(targets or rerun_failed or cancel_protected))
    # the job files first: a missing or invalid file is the mistake to report, not the missing --yes
    desired = load_desired([Path(p) for p in saved.paths] if saved else (paths or DEFAULT_PATHS), settings)
    if saved is None and not yes and not is_terminal(sys.stdin):
        raise click.UsageError("not on a terminal: pass --yes to apply without confirmation, or apply a plan "
                               "file made with `gpulab-apply plan --out FILE`")
    output = current()
    with open_client(settings) as client:
        guards = Guards(allow_empty=allow_empty, max_cancel=max_cancel, allow_unseen=allow_unseen,
                        max_gpu_hours=settings.max_gpu_hours if max_gpu_hours is None else max_gpu_hours,
                        skip_impossible=skip_impossible)
        result = make_plan(desired, client, settings, targets=targets, rerun_failed=rerun_failed,
                           cancel_protected=cancel_protected, guards=guards)
        if saved is not None:
            check_fresh(saved, result, endpoint=endpoint_of(settings))
        if skip_impossible:
            result = without_impossible(result, now=client.server_time)
        if output is not None:
            output.partial = result
            if not output.is_document:  # the plan, before the question and the actions
                emit(result, kind="plan", final=False)
        if not result.has_changes:
            emit(ApplyResult(plan=result, report=None))
            return ExitStatus.OK
        check_guards(result)
        if saved is None and not yes and not click.confirm("\nApply these changes?", default=False, err=True):
            raise click.Abort()
        options = ApplyOptions(run_id=new_run_id(datetime.now(UTC)), parallelism=parallelism)
        report = _execute_with_progress(result, client, options)
    emit(ApplyResult(plan=result, report=report))
    if not report.ok:
        failed = sum(1 for outcome in report.outcomes if not outcome.ok)
        raise ApplyFailedError(f"{failed} job action(s) failed; the report above says what succeeded",
                               hint="fix the cause and run apply again: it only does what is still missing")
    if wait_jobs:
        wait_after_apply([outcome.name for outcome in report.outcomes if outcome.created], settings,
                         wait_for=wait_for, wait_timeout=wait_timeout, interval=interval)
    return ExitStatus.CHANGES if detailed_exitcode and report.changed else ExitStatus.OK


def _plan_file_options(saved: SavedPlan, settings: Settings, *,
                       given: bool) -> tuple[Settings, tuple[str, ...], bool, tuple[str, ...]]:
    """The settings and plan options a plan file fixes; giving them again on the command line is an error."""
    if given:
        raise click.UsageError("--target, --rerun-failed and --cancel-protected come from the plan file; "
                               "make a new plan to change them")
    if "set" not in settings.sources:
        # the default set comes from where the job files are, not from where the plan file is
        settings = dataclasses.replace(settings, set_name=saved.set_name)
    return (settings, saved.options.targets, saved.options.rerun_failed,
            tuple(sorted(saved.options.cancel_protected)))


def _execute_with_progress(plan: Plan, client: GpulabClient, options: ApplyOptions) -> ApplyReport:
    """Execute; a progress bar on stderr only when it is a terminal."""
    if not is_terminal(sys.stderr):
        return execute(plan, client, options=options)
    lock = threading.Lock()
    bar: ProgressBar[int]
    with click.progressbar(length=planned_actions(plan), label="Applying", file=sys.stderr, show_pos=True) as bar:
        def advance(_: str) -> None:
            with lock:  # the callback runs on worker threads
                bar.update(1)

        return execute(plan, client, options=options, progress=advance)
