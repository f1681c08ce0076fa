"""``gpulab-apply render``: the effective jobs, after defaults, matrix and variables (docs/authoring.md#render)."""

from __future__ import annotations

from pathlib import Path

import click

from gpulab_apply.app.rendering import render_jobs
from gpulab_apply.cli.group import config_given, is_verbose, verbose_option
from gpulab_apply.cli.names import complete_job_names
from gpulab_apply.cli.options import job_directory_option, verbose_lines
from gpulab_apply.cli.output import Output, pass_output
from gpulab_apply.errors import ExitStatus
from gpulab_apply.reporters import registered


@click.command(short_help="Print the jobs as they would be submitted.",
               epilog="\b\nExample:\n  gpulab-apply render\n  gpulab-apply render cifar-resnet18 --explain\n"
                      "  gpulab-apply render 'train-*' --format json")
@click.argument("names", nargs=-1, metavar="[SELECTOR]...", shell_complete=complete_job_names)
@job_directory_option(help="A job directory or file to read (repeatable; default: the job root, jobs.d).",
                      exists=True, deprecated=("-p", "--path"))
@click.option("--format", "fmt", type=click.Choice(registered("render")), default="yaml", show_default=True,
              help="yaml: one document per job, a valid job file; json: one versioned document.")
@click.option("--explain", is_flag=True, help="Show for every field the file and line that set it.")
@verbose_option
@pass_output
def render(names: tuple[str, ...], paths: tuple[Path, ...], fmt: str, explain: bool, verbose: bool | None,
           output: Output) -> int:
    """Print the effective jobs: each job file after its _defaults.yaml files, matrix and ${VAR}
    variables, exactly as gpulab-apply would submit it (values from the environment masked). No network.

    SELECTOR selects jobs by name, glob or sweep name (default: every job).
    """
    output.start("render", fmt)  # from here on, a failure comes out in this format too
    with verbose_lines(output, is_verbose(verbose)):
        result = render_jobs(paths, names, explain=explain, hide=output.hide, config=config_given())
    output.emit(result)
    return ExitStatus.OK
