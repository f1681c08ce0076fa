"""``gpulab-apply validate``: check job files against GPULab's rules, offline."""

from __future__ import annotations

import click

from gpulab_apply.cli.output import emit, format_option
from gpulab_apply.errors import ExitStatus
from gpulab_apply.jobfiles.validation import validate_paths

DEFAULT_PATH = "jobs.d"


@click.command(short_help="Check job files against GPULab's rules, offline.",
               epilog="\b\nExample:\n  gpulab-apply validate\n  gpulab-apply validate jobs.d/train.yaml --format json")
# a missing path is a located problem (exit 1), whether it is the default jobs.d or one the user named
@click.argument("paths", nargs=-1, type=click.Path(file_okay=True, dir_okay=True))
@format_option("validate", "text for people, json for programs, github for workflow annotations.")
@click.option("--strict", is_flag=True, default=False,
              help="Forms GPULab accepts but that are not canonical (cpus: \"4\", interactive: yes) are errors, "
                   "not warnings.")
def validate(paths: tuple[str, ...], fmt: str, strict: bool) -> int:
    """Check job files (default: jobs.d) and report every problem with file:line:col. No network.

    Exits 0 when every job is valid (warnings allowed, unless --strict), 1 when there is an error.
    """
    result = validate_paths(paths or (DEFAULT_PATH,), strict=strict)
    emit(result)
    return ExitStatus.OK if result.ok else ExitStatus.ERROR
