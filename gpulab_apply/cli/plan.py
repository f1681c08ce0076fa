"""``gpulab-apply plan``: what apply would do, read-only against GPULab."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from shlex import quote

import click

from gpulab_apply.cli.group import JobPaths
from gpulab_apply.cli.names import complete_job_names, complete_protected_names
from gpulab_apply.cli.options import connection_options
from gpulab_apply.cli.output import current, emit, format_option
from gpulab_apply.cli.planning import endpoint_of, load_desired, make_plan, select
from gpulab_apply.errors import ConfigError, ExitStatus
from gpulab_apply.gpulab.connection import open_client
from gpulab_apply.masking import safe
from gpulab_apply.reconcile.capacity import over_budget
from gpulab_apply.reconcile.planfile import dump_plan
from gpulab_apply.reporters.plan import explain
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
def plan(paths: tuple[Path, ...], *, fmt: str, out: Path | None, detailed_exitcode: bool,
         targets: tuple[str, ...], rerun_failed: bool, cancel_protected: tuple[str, ...], no_capacity: bool,
         settings: Settings) -> int:
    """Show what apply would do: jobs to create, replace and cancel, by name, with field differences.

    PATHS (default: the job root, jobs.d) select job directories or files inside it: a plan of part of the job
    root creates and replaces what is there and cancels nothing. Invalid files stop it before any network.
    A plan beyond the set's GPU-hour budget exits 3 (docs/capacity.md#usage-and-budgets).
    """
    selection = select(paths, settings)
    desired = load_desired(selection, settings)
    with open_client(settings) as client:
        result = make_plan(desired, client, settings, selection=selection, targets=targets,
                           rerun_failed=rerun_failed, cancel_protected=cancel_protected, capacity=not no_capacity)
    output = current()
    if output is not None:
        output.partial = result
    emit(result)
    if out is not None:
        text = dump_plan(result, endpoint=endpoint_of(settings), paths=settings.workspace.from_root(selection.paths),
                         created=datetime.now(UTC), api_version=settings.api_version, secrets=desired.secrets,
                         explain=explain)
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot write the plan file {out}: {exc.strerror}") from exc
        click.echo(safe(f"Saved the plan to {out}. Apply exactly this plan with: gpulab-apply apply {quote(str(out))}")
                   + ("" if not result.refusals else " (apply will refuse it as it stands: see above)"), err=True)
    if over_budget(result):
        return ExitStatus.REFUSED  # a budget is a limit, not a question for apply (docs/capacity.md#budgets)
    # drift that protection keeps is drift: 2, as changes are (docs/plan-apply.md#kept-drift)
    return ExitStatus.CHANGES if detailed_exitcode and result.differs else ExitStatus.OK
