"""The JSON Schemas an editor checks job files with: files as written, before gpulab-apply expands them.

``schemas/job2.schema.json`` describes one job as validated, after expansion. A file as written can also
hold a matrix sweep (``x-gpulab-apply.matrix``), ``${{ matrix.KEY }}`` expressions where a number or a
boolean goes, and ``${VAR}`` variables in strings that must match a pattern; a ``_defaults.yaml`` holds a
part of a job. These schemas are derived from the one schema here, so they never drift from it, and
``gpulab-apply schema`` prints them (docs/editors.md). ``validate`` stays the judge: it checks what the
schema can not (duplicate names, the expanded jobs).

What ``validate`` accepts, these accept. A job file may leave any value to the ``_defaults.yaml`` files above
it, which a schema checking one file cannot see: so the job file schema requires only ``name`` of the keys
reached through mappings (``request``, ``resources.cpus``, ``docker.image``...), the keys a defaults file
can give. Items of a list keep their required keys: a list from a defaults file is replaced whole, never
merged into (docs/editors.md#what-the-schema-cannot-see).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from gpulab_apply.jobmodel.schema import job_file_schema

Kind = Literal["job", "defaults"]
KINDS: tuple[Kind, ...] = ("job", "defaults")
_BASE = "https://raw.githubusercontent.com/gpulab-apply/gpulab-apply/main/schemas/"
#: the stable ``$id`` of each schema, also its path in the repository (``schemas/``)
IDS: dict[Kind, str] = {"job": _BASE + "job-file.schema.json", "defaults": _BASE + "defaults.schema.json"}
#: a string that is one whole matrix expression: it takes the value's type when expanded
_WHOLE_EXPRESSION = r"^\s*\$\{\{\s*matrix\.[A-Za-z_][A-Za-z0-9_-]*\s*\}\}\s*$"
#: a string with an expression or a variable in it, whatever pattern the expanded string must match
_TEMPLATED = r"\$\{"
_SCALAR = {"type": ["string", "number", "boolean", "null"]}
_MATRIX = {
    "description": "A sweep: one job per combination of values, like a GitHub Actions matrix. Write "
                   "${{ matrix.KEY }} in any value; each job is named after its values (train-lr1e-4-seed0).",
    "type": "object",
    "minProperties": 1,
    "properties": {
        "include": {"description": "Combinations to extend or add.", "type": "array",
                    "items": {"type": "object", "additionalProperties": _SCALAR}},
        "exclude": {"description": "Combinations to leave out.", "type": "array",
                    "items": {"type": "object", "additionalProperties": _SCALAR}},
    },
    "propertyNames": {"pattern": r"^[A-Za-z_][A-Za-z0-9_-]*$"},
    "additionalProperties": {"type": "array", "minItems": 1, "items": _SCALAR},
}
_ADOPT = {
    "description": "Take over this job already on GPULab without resubmitting it, as `gpulab-apply import` writes "
                   "it (docs/authoring.md#import-and-adoption).",
    "type": "object",
    "required": ["uuid"],
    "additionalProperties": False,
    "properties": {
        "uuid": {"type": "string",
                 "pattern": r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"},
        "spec": {"type": "string", "pattern": r"^[0-9a-f]{16}$",
                 "description": "Written by import before adoption was decided from the running job; still read."},
    },
}


def editor_schema(kind: Kind = "job") -> dict[str, Any]:
    """The schema of a job file (``job``) or of a ``_defaults.yaml`` (``defaults``) as written."""
    schema = _templated(job_file_schema())
    assert isinstance(schema, dict)
    schema = _defaultable(schema)
    schema["$id"] = IDS[kind]
    tool = schema["$defs"]["toolOptions"]
    if kind == "job":
        schema["title"] = "GPULab job file as written (gpulab-apply)"
        schema["description"] = ("One GPULab job in Job2 format as written in a job file: keys are camelCase and "
                                 "unknown keys are rejected; the x-gpulab-apply block may sweep a matrix "
                                 "(${{ matrix.KEY }} in values) and strings may use ${VAR} variables.")
        tool["properties"]["matrix"] = _MATRIX
        tool["properties"]["adopt"] = _ADOPT
        return schema
    schema["title"] = "gpulab-apply _defaults.yaml: values every job below this directory starts from"
    schema["description"] = ("Any part of a job, merged under each job file in this directory and below "
                             "(mappings key by key); not name, not a matrix.")
    partial: dict[str, Any] = _walk(schema, lambda node: {k: v for k, v in node.items() if k != "required"})
    del partial["properties"]["name"]
    return partial


def _defaultable(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` without the ``required`` keys a defaults file may give: every object reached from the root
    through mappings (``properties``, ``$ref``, alternatives), not through a list's items; ``name`` stays."""
    definitions: dict[str, Any] = dict(schema.get("$defs", {}))
    reached: set[str] = set()

    def relax(node: Any, *, root: bool = False) -> Any:
        if not isinstance(node, dict):
            return node
        kept = [key for key in node.get("required", ()) if root and key == "name"]
        node = {key: kept if key == "required" else value for key, value in node.items()
                if key != "required" or kept}
        reference = node.get("$ref")
        if isinstance(reference, str) and reference.startswith("#/$defs/"):
            name = reference.removeprefix("#/$defs/")
            if name not in reached:
                reached.add(name)
                definitions[name] = relax(definitions[name])
        if "properties" in node:
            node["properties"] = {key: relax(value) for key, value in node["properties"].items()}
        for key in ("anyOf", "oneOf", "allOf"):
            if key in node:
                node[key] = [relax(item) for item in node[key]]
        return node

    relaxed: dict[str, Any] = relax({key: value for key, value in schema.items() if key != "$defs"}, root=True)
    return {**relaxed, "$defs": definitions}


def _templated(node: Any) -> Any:
    """Where the expanded value is a number or boolean, or a string with a pattern, a template may stand."""
    return _walk(node, _allow_template)


def _allow_template(node: dict[str, Any]) -> dict[str, Any]:
    types = node.get("type")
    kinds = set(types) if isinstance(types, list) else {types} if isinstance(types, str) else set()
    alternative: dict[str, Any] | None = None
    if kinds & {"integer", "number", "boolean"} and "string" not in kinds:
        alternative = {"type": "string", "pattern": _WHOLE_EXPRESSION}
    elif kinds == {"string"} and ("pattern" in node or "enum" in node or "format" in node):
        alternative = {"type": "string", "pattern": _TEMPLATED}
    if alternative is None:
        return node
    head: dict[str, Any] = {key: node[key] for key in ("description", "title", "default", "examples") if key in node}
    body = {key: value for key, value in node.items() if key not in head}
    return {**head, "anyOf": [body, alternative]}


#: keywords whose value is a subschema, a list of them, or a mapping of names to them (JSON Schema 2020-12)
_ONE = ("items", "additionalProperties", "not", "if", "then", "else", "propertyNames", "contains",
        "unevaluatedItems", "unevaluatedProperties")
_MANY = ("anyOf", "oneOf", "allOf", "prefixItems")
_NAMED = ("properties", "$defs", "patternProperties", "dependentSchemas")


def _walk(schema: Any, change: Callable[[dict[str, Any]], dict[str, Any]]) -> Any:
    """``change`` applied to every subschema, innermost first, following the schema's structure."""
    if not isinstance(schema, dict):
        return schema  # true / false
    walked = dict(schema)
    for key in _ONE:
        if key in walked:
            walked[key] = _walk(walked[key], change)
    for key in _MANY:
        if key in walked:
            walked[key] = [_walk(item, change) for item in walked[key]]
    for key in _NAMED:
        if key in walked:
            walked[key] = {name: _walk(item, change) for name, item in walked[key].items()}
    return change(walked)
