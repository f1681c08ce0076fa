"""``gpulab-apply validate``: check job files against GPULab's rules, offline.

The command's body is :func:`gpulab_apply.cli.direct.validate`, which a plain command line reaches
without click; this declaration gives it ``--help`` and click's usage errors.
"""

from __future__ import annotations

import click

from gpulab_apply.cli import direct
from gpulab_apply.cli.output import format_option


@click.command(short_help="Check job files against GPULab's rules, offline.",
               epilog="\b\nExample:\n  gpulab-apply validate\n  gpulab-apply validate jobs.d/train.yaml --format json")
# a missing path is a located problem (exit 1), whether it is the default jobs.d or one the user named
@click.argument("paths", nargs=-1, type=click.Path(file_okay=True, dir_okay=True))
@format_option("validate", "text for people, json for programs, github for workflow annotations, gitlab for a "
                           "Code Quality report.")
@click.option("--strict", is_flag=True, default=None,
              help="Forms GPULab accepts but that are not canonical (cpus: \"4\", interactive: yes) are errors, "
                   "not warnings. Also GPULAB_APPLY_STRICT or strict: true in gpulab-apply.yaml.")
def validate(paths: tuple[str, ...], fmt: str, strict: bool | None) -> int:
    """Check job files (default: jobs.d) and report every problem with file:line:col. No network.

    Exits 0 when every job is valid (warnings allowed, unless --strict), 1 when there is an error.
    """
    return direct.validate(paths, fmt, strict)
