"""``gpulab-apply render``: the effective jobs, after defaults, matrix and variables (docs/authoring.md#render)."""

from __future__ import annotations

from pathlib import Path

import click

from gpulab_apply.cli.group import config_given, is_verbose, verbose_option
from gpulab_apply.cli.names import complete_job_names
from gpulab_apply.cli.options import job_directory_option, verbose_lines
from gpulab_apply.cli.output import emit, hide, start
from gpulab_apply.errors import ExitStatus, InvalidJobsError
from gpulab_apply.order import natural_key
from gpulab_apply.reporters import registered
from gpulab_apply.selectors import Candidate, resolve_names


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
def render(names: tuple[str, ...], paths: tuple[Path, ...], fmt: str, explain: bool, verbose: bool | None) -> int:
    """Print the effective jobs: each job file after its _defaults.yaml files, matrix and ${VAR}
    variables, exactly as gpulab-apply would submit it (values from the environment masked). No network.

    SELECTOR selects jobs by name, glob or sweep name (default: every job).
    """
    from gpulab_apply.jobfiles.validation import validate_paths
    from gpulab_apply.reporters.render import RenderResult
    from gpulab_apply.workspace import find_workspace

    start("render", fmt)  # from here on, a failure comes out in this format too
    workspace = find_workspace(paths, config=config_given())
    with verbose_lines(is_verbose(verbose)):
        result = validate_paths(workspace.select(paths).paths, job_root=workspace.job_root)
    hide(result.secrets)
    if not result.ok:
        raise InvalidJobsError(f"the job files have {len(result.problems)} problem(s)",
                               hint="fix them (gpulab-apply validate) and run render again",
                               problems=result.problems, files=result.files)
    jobs = sorted(result.jobs, key=lambda spec: natural_key(spec.name))  # the one order (docs/commands.md#order)
    if names:  # the one selector grammar (docs/commands.md#selectors): nothing matched is an error
        chosen = set(resolve_names(names, (Candidate(spec.name, spec.sweep) for spec in jobs), what="job in the job files"))
        jobs = [spec for spec in jobs if spec.name in chosen]
    emit(RenderResult(tuple(jobs), explain=explain, secrets=result.secrets, unset=result.unset))
    return ExitStatus.OK

