"""Reports of ``render``: the effective jobs as a set of YAML job files, or as a versioned JSON document
(docs/authoring.md#render). Values from the environment are masked in both."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, TextIO

from ruamel.yaml import YAML

from gpulab_apply.jobfiles.variables import unset_note
from gpulab_apply.masking import NO_SECRETS, Secrets, mask_value, printable, safe
from gpulab_apply.problems import Location, format_json_path
from gpulab_apply.reporters import envelope, location_document

if TYPE_CHECKING:
    from gpulab_apply.model import JobSpec
    from gpulab_apply.reporters import Failure
    from gpulab_apply.sourcemap import JsonPath


class RenderResult(NamedTuple):
    """The jobs ``render`` selected, in file order; ``explain``: with where each value was written; ``secrets``:
    the values from the environment, masked wherever a whole value equals one, however short; ``unset``: the
    variables not set here, shown as their placeholders (docs/authoring.md#variables-offline)."""

    jobs: tuple[JobSpec, ...]
    explain: bool = False
    secrets: Secrets = NO_SECRETS
    unset: tuple[str, ...] = ()


def report_yaml(result: RenderResult, stream: TextIO, *, color: bool = False) -> None:
    """One YAML document per job, each after a comment naming its file and sweep: itself a valid job file set."""
    yaml, ascii_yaml = _yaml(allow_unicode=True), _yaml(allow_unicode=False)
    if result.unset:
        stream.write(f"# {safe(unset_note(result.unset))}\n")
    for index, spec in enumerate(result.jobs):
        if index:
            stream.write("---\n")
        stream.write(f"# {safe(spec.name)}: from {safe(str(spec.location))}"
                     + (f", sweep {safe(spec.sweep)}" if spec.sweep else "") + "\n")
        if result.explain:
            stream.writelines(f"#   {safe(format_json_path(path))}: {safe(str(where))}\n"
                              for path, where in _sources(spec))
        job = result.secrets.mask_value(mask_value(dict(spec.job)))
        buffer = io.StringIO()
        yaml.dump(job, buffer)
        if not printable(buffer.getvalue()):  # YAML prints C1 and bidi controls as they are: escape them
            buffer = io.StringIO()
            ascii_yaml.dump(job, buffer)
        stream.write(buffer.getvalue())


def _yaml(*, allow_unicode: bool) -> Any:

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    yaml.allow_unicode = allow_unicode
    yaml.width = 4096  # a long command stays on one line, as the job file most likely wrote it
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def report_json(result: RenderResult, stream: TextIO, *, color: bool = False) -> None:
    json.dump(render_document(result), stream, indent=2)  # ASCII: a C1 control in a value stays escaped
    stream.write("\n")


def render_document(result: RenderResult, *, error: Failure | None = None) -> dict[str, Any]:
    """The ``--format json`` document (versioned; documented in docs/authoring.md#render)."""
    jobs = []
    for spec in result.jobs:
        job: dict[str, Any] = {"name": spec.name, "sweep": spec.sweep, "location": location_document(spec.location),
                               "job": result.secrets.mask_value(mask_value(dict(spec.job)))}
        if result.explain:
            job["sources"] = {format_json_path(path): location_document(where) for path, where in _sources(spec)}
        jobs.append(job)
    return envelope("render", ok=error is None, body={"jobs": jobs, "unsetVariables": list(result.unset)},
                    error=error)


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
