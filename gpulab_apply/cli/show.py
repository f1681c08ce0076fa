"""``gpulab-apply show PLANFILE``: a saved plan (``plan --out``) in any format, as ``terraform show`` prints one
(docs/plan-format.md#show). Offline: it reads the file only."""

from __future__ import annotations

from pathlib import Path

import click

from gpulab_apply.cli.output import Output, format_option
from gpulab_apply.errors import ExitStatus
from gpulab_apply.reconcile.planfile import load_plan
from gpulab_apply.reporters.show import ShownPlan


@click.command(short_help="Print a saved plan (plan --out) in any format.",
               epilog="\b\nExample:\n  gpulab-apply show plan.json\n  gpulab-apply show plan.json --format markdown > plan.md")
@click.argument("planfile", type=click.Path(path_type=Path, dir_okay=False))
@format_option("show", "text (Terraform-like), json (versioned), markdown (a pull-request comment), "
               "github (annotations).")
def show(planfile: Path, output: Output) -> int:
    """Print the plan saved in PLANFILE by `gpulab-apply plan --out PLANFILE`: the decisions it holds (what
    to create, replace and cancel, why, and where each job is written), its summary and warnings, and where
    it applies. No network and no certificate: it reads the file only.
    """
    output.emit(ShownPlan(planfile, load_plan(planfile)))
    return ExitStatus.OK
