"""``gpulab-apply schema``: the JSON Schema of a job file as written, for editors (docs/editors.md)."""

from __future__ import annotations

import json

import click

from gpulab_apply.errors import ExitStatus
from gpulab_apply.jobfiles.editor_schema import KINDS, editor_schema


@click.command(short_help="Print the JSON Schema of a job file.")
@click.argument("kind", type=click.Choice(KINDS), default="job")
def schema(kind: str) -> int:
    """Print the JSON Schema of a job file as written (KIND job, the default), or of a _defaults.yaml
    (KIND defaults), each with its stable $id.

    It knows what gpulab-apply adds to GPULab's Job2 format: x-gpulab-apply, matrix sweeps and their
    ${{ matrix.KEY }} expressions, ${VAR} variables. Self-contained, so an editor can use a saved copy
    offline; it is the schema of this installed version. docs/editors.md shows how to point VS Code
    and other yaml-language-server editors at it.

    \b
    Example:
      gpulab-apply schema > .gpulab/job-file.schema.json
      gpulab-apply schema defaults > .gpulab/defaults.schema.json
    """
    click.echo(json.dumps(editor_schema("defaults" if kind == "defaults" else "job"), indent=2, ensure_ascii=False))
    return ExitStatus.OK
