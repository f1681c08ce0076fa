"""``gpulab-apply schema``: the JSON Schema of a job file, for editors and other tools (docs/editors.md)."""

from __future__ import annotations

import json

import click

from gpulab_apply.errors import ExitStatus
from gpulab_apply.jobfiles.schema import job_file_schema


@click.command(short_help="Print the JSON Schema of a job file.")
def schema() -> int:
    """Print the JSON Schema of a job file (Job2 plus x-gpulab-apply), with its stable $id.

    Self-contained (no external references), so an editor can use a saved copy offline. It is the
    schema of this installed version; docs/editors.md shows how to point VS Code and other
    yaml-language-server editors at it.

    \b
    Example:
      gpulab-apply schema > .gpulab/job2.schema.json
    """
    click.echo(json.dumps(job_file_schema(), indent=2, ensure_ascii=False))
    return ExitStatus.OK
