"""``gpulab-apply render``: the effective jobs, after defaults, matrix and variables (docs/authoring.md#render)."""

from __future__ import annotations

from pathlib import Path

import click

from gpulab_apply.app.rendering import render_jobs
from gpulab_apply.cli.output import Output, pass_output
from gpulab_apply.errors import ExitStatus
from gpulab_apply.reporters import registered


@click.command(short_help="Print the jobs as they would be submitted.",
               epilog="\b\nExample:\n  gpulab-apply render\n  gpulab-apply render cifar-resnet18 --explain\n"
                      "  gpulab-apply render 'train-*' --format json")
@click.argument("names", nargs=-1, metavar="[NAME_GLOB]...")
@click.option("--path", "-p", "paths", multiple=True, type=click.Path(exists=True, path_type=Path),
              metavar="PATH", help="A job directory or file (repeatable; default: the job root, jobs.d).")
@click.option("--format", "fmt", type=click.Choice(registered("render")), default="yaml", show_default=True,
              help="yaml: one document per job, a valid job file; json: one versioned document.")
@click.option("--explain", is_flag=True, help="Show for every field the file and line that set it.")
@pass_output
def render(names: tuple[str, ...], paths: tuple[Path, ...], fmt: str, explain: bool, output: Output) -> int:
    """Print the effective jobs: each job file after its _defaults.yaml files, matrix and ${VAR}
    variables, exactly as gpulab-apply would submit it (values from the environment masked). No network.

    NAME_GLOB selects jobs by name or by sweep name (default: every job).
    """
    output.start("render", fmt)  # from here on, a failure comes out in this format too
    output.emit(render_jobs(paths, names, explain=explain, hide=output.hide))
    return ExitStatus.OK
