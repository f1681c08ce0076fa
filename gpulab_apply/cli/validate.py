"""``gpulab-apply validate``: check job files against GPULab's rules, offline."""

from __future__ import annotations

import click

from gpulab_apply.cli.output import render
from gpulab_apply.errors import ExitStatus
from gpulab_apply.jobfiles.validation import validate_paths
from gpulab_apply.reporters.problems import REPORTERS

DEFAULT_PATH = "jobs.d"


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, file_okay=True, dir_okay=True))
@click.option("--format", "output_format", type=click.Choice(list(REPORTERS)), default="text", show_default=True,
              help="text for people, json for programs, github for workflow annotations.")
@click.option("--strict", is_flag=True, default=False,
              help="Forms GPULab accepts but that are not canonical (cpus: \"4\", interactive: yes) are errors, "
                   "not warnings.")
def validate(paths: tuple[str, ...], output_format: str, strict: bool) -> int:
    """Check job files (default: jobs.d) and report every problem with file:line:col. No network.

    Exits 0 when every job is valid (warnings allowed, unless --strict), 1 when there is an error.
    """
    result = validate_paths(paths or (DEFAULT_PATH,), strict=strict)
    render(lambda stream, color: REPORTERS[output_format](result, stream))
    return ExitStatus.OK if result.ok else ExitStatus.ERROR
