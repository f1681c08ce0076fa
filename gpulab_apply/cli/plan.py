"""``gpulab-apply plan``: what apply would do, read-only against GPULab."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from shlex import quote

import click

from gpulab_apply.app.planning import plan_jobs, save_plan
from gpulab_apply.cli.group import JobPaths
from gpulab_apply.cli.names import complete_job_names, complete_protected_names
from gpulab_apply.cli.options import connection_options
from gpulab_apply.cli.output import Output, format_option
from gpulab_apply.errors import ExitStatus
from gpulab_apply.masking import safe
from gpulab_apply.reconcile.capacity import over_budget
from gpulab_apply.settings import Settings


@click.command(short_help="Show what apply would do, read-only.",
               epilog="\b\nExample:\n  gpulab-apply plan jobs.d\n  gpulab-apply plan --format markdown > plan.md\n  gpulab-apply plan --out plan.json && gpulab-apply apply plan.json")
@click.argument("paths", nargs=-1, type=JobPaths())
@format_option("plan", "text (Terraform-like), json (versioned), markdown (a pull-request comment), "
               "github (annotations).")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), metavar="FILE",
              help="Save the plan, bound to the remote jobs it saw, for `apply FILE`.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes or protected drift (0 none, 1 error).")
@click.option("--target", "targets", multiple=True, metavar="SELECTOR", shell_complete=complete_job_names,
              help="Only these jobs: a name, glob, sweep name or UUID (prefix) (repeatable; docs/commands.md).")
@click.option("--rerun-failed", is_flag=True, help="Submit failed and cancelled jobs again.")
@click.option("--cancel-protected", multiple=True, metavar="SELECTOR", shell_complete=complete_protected_names,
              help="Plan cancelling or replacing these protected jobs (repeatable); saved with --out.")
@click.option("--no-capacity", "no_capacity", is_flag=True,
              help="Do not read GPULab's inventory to judge whether each job can run (docs/capacity.md).")
@connection_options
def plan(paths: tuple[Path, ...], *, output: Output, out: Path | None, detailed_exitcode: bool,
         targets: tuple[str, ...], rerun_failed: bool, cancel_protected: tuple[str, ...], no_capacity: bool,
         settings: Settings) -> int:
    """Show what apply would do: jobs to create, replace and cancel, by name, with field differences.

    PATHS (default: the job root, jobs.d) select job directories or files inside it: a plan of part of the job
    root creates and replaces what is there and cancels nothing. Invalid files stop it before any plan.
    A plan beyond the set's GPU-hour budget exits 3 (docs/capacity.md#usage-and-budgets).
    """
    planned = plan_jobs(settings, paths, hide=output.hide, targets=targets, rerun_failed=rerun_failed,
                        cancel_protected=cancel_protected, capacity=not no_capacity)
    result = planned.plan
    output.emit(result)
    if out is not None:
        save_plan(planned, out, settings, now=datetime.now(UTC))
        click.echo(safe(f"Saved the plan to {out}. Apply exactly this plan with: gpulab-apply apply {quote(str(out))}")
                   + ("" if not result.refusals else " (apply will refuse it as it stands: see above)"), err=True)
    if over_budget(result):
        return ExitStatus.REFUSED  # a budget is a limit, not a question for apply (docs/capacity.md#budgets)
    # drift that protection keeps is drift: 2, as changes are (docs/plan-apply.md#kept-drift)
    return ExitStatus.CHANGES if detailed_exitcode and result.differs else ExitStatus.OK
