"""``gpulab-apply render``: the effective jobs, after defaults, matrix and variables (docs/authoring.md#render)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Mapping, Sequence
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, TextIO

import click

from gpulab_apply.cli import JOBS_DIR
from gpulab_apply.cli.output import render as write_output
from gpulab_apply.errors import ExitStatus, InvalidJobsError
from gpulab_apply.jobfiles.sourcemap import JsonPath
from gpulab_apply.masking import mask_value, safe
from gpulab_apply.model import JobSpec
from gpulab_apply.problems import Location, format_json_path


@click.command(short_help="Print the jobs as they would be submitted.",
               epilog="\b\nExample:\n  gpulab-apply render\n  gpulab-apply render cifar-resnet18 --explain\n"
                      "  gpulab-apply render 'train-*' --format json")
@click.argument("names", nargs=-1, metavar="[NAME_GLOB]...")
@click.option("--path", "-p", "paths", multiple=True, type=click.Path(exists=True, path_type=Path),
              metavar="PATH", help="A job directory or file (repeatable; default: jobs.d).")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True,
              help="yaml: one document per job, a valid job file; json: one versioned document.")
@click.option("--explain", is_flag=True, help="Show for every field the file and line that set it.")
def render(names: tuple[str, ...], paths: tuple[Path, ...], fmt: str, explain: bool) -> int:
    """Print the effective jobs: each job file after its _defaults.yaml files, matrix and ${VAR}
    variables, exactly as gpulab-apply would submit it (values from the environment masked). No network.

    NAME_GLOB selects jobs by name or by sweep name (default: every job).
    """
    from gpulab_apply.jobfiles.validation import validate_paths
    from gpulab_apply.reporters.problems import report_text

    result = validate_paths([str(p) for p in paths] or [JOBS_DIR])
    if not result.ok:
        write_output(lambda stream, color: report_text(result, stream))
        raise InvalidJobsError(f"the job files have {len(result.problems)} problem(s)",
                               hint="fix them (gpulab-apply validate) and run render again")
    jobs = [spec for spec in result.jobs if not names or _selected(spec, names)]
    if names and not jobs:
        raise InvalidJobsError(f"no job or sweep matches {', '.join(map(repr, names))}",
                               hint="gpulab-apply render lists every job")
    write_output(lambda stream, color: (_json if fmt == "json" else _yaml)(jobs, stream, explain=explain))
    return ExitStatus.OK


def _selected(spec: JobSpec, globs: Sequence[str]) -> bool:
    return any(fnmatchcase(spec.name, glob) or (spec.sweep is not None and fnmatchcase(spec.sweep, glob))
               for glob in globs)


def _yaml(jobs: Sequence[JobSpec], stream: TextIO, *, explain: bool) -> None:
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    yaml.allow_unicode = True
    yaml.width = 4096  # a long command stays on one line, as the job file most likely wrote it
    yaml.indent(mapping=2, sequence=4, offset=2)
    for index, spec in enumerate(jobs):
        if index:
            stream.write("---\n")
        stream.write(f"# {safe(spec.name)}: from {safe(str(spec.location))}"
                     + (f", sweep {safe(spec.sweep)}" if spec.sweep else "") + "\n")
        buffer = io.StringIO()
        yaml.dump(mask_value(dict(spec.job)), buffer)
        if not explain:
            stream.write(buffer.getvalue())
            continue
        stream.writelines(f"#   {format_json_path(path)}: {safe(str(where))}\n" for path, where in _sources(spec))
        stream.write(buffer.getvalue())


def _json(jobs: Sequence[JobSpec], stream: TextIO, *, explain: bool) -> None:
    documents = []
    for spec in jobs:
        document: dict[str, Any] = {"name": spec.name, "sweep": spec.sweep, "file": spec.location.path,
                                    "line": spec.location.line, "job": mask_value(dict(spec.job))}
        if explain:
            document["sources"] = {format_json_path(path): {"file": where.path, "line": where.line,
                                                            "column": where.column}
                                   for path, where in _sources(spec)}
        documents.append(document)
    json.dump({"version": 1, "jobs": documents}, stream, indent=2, ensure_ascii=False)
    stream.write("\n")


def _sources(spec: JobSpec) -> list[tuple[JsonPath, Location]]:
    """Every value of the job (leaves, and empty containers) with where it was written."""
    if spec.source is None:
        return []
    return [(path, spec.source.locate(path)) for path in _leaves(spec.job, ())]


def _leaves(value: Any, path: JsonPath) -> Iterator[JsonPath]:
    if isinstance(value, Mapping) and value:
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    else:
        yield path
