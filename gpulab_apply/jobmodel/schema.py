"""GPULab's Job2 JSON Schema (``schemas/job2.schema.json``): loaded once, and turned into readable violations.

The schema describes a job *file* in canonical form (with the ``x-gpulab-apply`` block); a job as
submitted to GPULab is checked against the same schema without that block. Forms GPULab also accepts
(``cpus: "4"``) are rewritten before the schema sees them (:mod:`gpulab_apply.jobmodel.normal_form`).
Patterns keep JSON Schema's meaning of ``$`` (the end of the text), not Python's. Messages are jsonschema's, except where the
schema names a better one (``x-messages``) and for unknown keys, which get one violation per key,
pointed at the key, with a "did you mean" hint.
"""

from __future__ import annotations

import copy
import functools
import json
import pkgutil
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gpulab_apply.masking import mask_value
from gpulab_apply.problems import format_json_path

if TYPE_CHECKING:
    # jsonschema is imported only to explain a job that fails the compiled predicate: importing it and
    # checking the schema would cost every clean run ~75 ms (the schema's own validity is a test).
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
    from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped]

#: the key holding this tool's own per-job options; never sent to GPULab
TOOL_KEY = "x-gpulab-apply"

#: keys GPULab knows under another name (or another place), with the advice to give
_KNOWN_MISPLACED: Mapping[tuple[str, ...], Mapping[str, str]] = {
    (): {"extra": "extra belongs under request:"},
    ("request", "scheduling"): {
        "killableAfter": "did you mean `minDuration`? (killableAfter is its old name)",
        "reservationId": "did you mean `reservationIds`? (a list)",
    },
}


@dataclass(frozen=True, slots=True)
class Violation:
    """One schema rule a job breaks.

    ``path`` leads from the job's root to the offending value (or to the offending key itself when
    ``at_key``, as for an unknown key).
    """

    path: tuple[str | int, ...]
    message: str
    hint: str | None = None
    at_key: bool = False
    #: GPULab accepts it, but it is not the canonical form (``validate --strict`` makes it an error)
    warning: bool = False

    @property
    def json_path(self) -> str:
        return format_json_path(self.path)

    def __str__(self) -> str:
        where = f"{self.json_path}: " if self.path else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{where}{self.message}{hint}"


def job_file_schema() -> dict[str, Any]:
    """The schema of one job in a job file, as shipped (a fresh copy the caller may change)."""
    return copy.deepcopy(_schema())


@functools.cache
def _schema() -> dict[str, Any]:
    # pkgutil asks the package's loader, as importlib.resources would, without importing tempfile, zipfile
    # and the rest (about 8 ms of validate's start-up)
    data = pkgutil.get_data("gpulab_apply", "schemas/job2.schema.json")
    assert data is not None, "gpulab_apply's loader cannot read package data"
    schema: dict[str, Any] = json.loads(data)
    return schema


@functools.cache
def _variant(*, submission: bool) -> dict[str, Any]:
    """The schema of a job file, or of a job as submitted (no ``x-gpulab-apply`` block); not to be changed."""
    schema = _schema()
    if not submission:
        return schema
    return {**schema, "properties": {key: sub for key, sub in schema["properties"].items() if key != TOOL_KEY}}


def ecma_pattern(pattern: str) -> re.Pattern[str]:
    """A schema pattern compiled with JSON Schema's (ECMA 262) meaning of ``$``: the end of the text.

    Python's ``$`` also matches before a final newline, so ``"debian\\n"`` would pass an image pattern
    that GPULab (whose patterns run in Rust's regex engine) refuses.
    """
    return _compiled_pattern(pattern)


@functools.cache
def _compiled_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(_DOLLAR.sub(r"\1\\Z", pattern))


#: a ``$`` that is an anchor: not escaped, not inside a character class (the schema's patterns have no nested ones)
_DOLLAR = re.compile(r"((?:^|[^\\])(?:\\\\)*)\$(?![^\[]*\])")


@functools.cache
def _validator(*, submission: bool) -> Draft202012Validator:
    # jsonschema only explains an invalid job: a valid one is judged by the compiled checker without it
    # (docs/validate.md#start-up)
    from jsonschema import Draft202012Validator, validators
    from jsonschema.exceptions import ValidationError

    def pattern(validator: Any, regex: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
        if validator.is_type(instance, "string") and not ecma_pattern(regex).search(instance):
            yield ValidationError(f"{instance!r} does not match {regex!r}")

    # No format checker: every format rule the schema needs is a pattern, which is cheaper and portable.
    checker = validators.extend(Draft202012Validator, {"pattern": pattern})
    return checker(_variant(submission=submission))


def violations(job: Any, *, submission: bool = False) -> list[Violation]:
    """Every rule of the schema that ``job`` (plain JSON types) breaks, sorted by where in the job.

    ``submission=True`` checks a job as POSTed to GPULab: no ``x-gpulab-apply`` block.
    """
    if _predicate(submission=submission)(job):  # the common case: no need to ask jsonschema why not
        return []
    found = [v for error in _validator(submission=submission).iter_errors(job) for v in _explain(error)]
    return sorted(set(found), key=lambda v: _path_key(v.path))


def _path_key(path: Sequence[str | int]) -> tuple[tuple[int, str], ...]:
    return tuple((1, str(p)) if isinstance(p, str) else (0, f"{p:09d}") for p in path)


def _explain(error: ValidationError) -> Iterator[Violation]:
    path = tuple(error.absolute_path)
    if error.validator == "anyOf":
        # "x or null": the user meant the x, so explain why it is not a valid x.
        branches = [b for b in error.validator_value if b != {"type": "null"}]
        if len(branches) == 1:
            chosen = error.validator_value.index(branches[0])
            for sub in error.context or ():
                if sub.relative_schema_path and sub.relative_schema_path[0] == chosen:
                    yield from _explain(sub)
            return
    custom = _custom_message(error)
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        allowed = list(error.schema.get("properties", {}))
        for key in _unexpected_keys(error.instance, error.schema):
            yield Violation((*path, key), "unknown key",
                            hint=custom or _key_hint(key, allowed, tuple(str(p) for p in path)), at_key=True)
        return
    if "propertyNames" in error.relative_schema_path:
        # jsonschema checks a key as if it were a value at its mapping's path; point at the key instead
        key = error.instance
        if error.validator == "type":  # YAML made the key a number, boolean or null
            message = f"{_short_repr(key)} is not a text key; quote it"
        else:
            message = f"{_short_repr(key)} {custom}" if custom else error.message
        yield Violation((*path, str(key)), message, at_key=True)
        return
    if custom:
        yield Violation(path, f"{_shown(error.instance, path)} {custom}")
    elif error.validator == "type":
        types = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        expected = " or ".join(repr(t) for t in types)
        yield Violation(path, f"{_shown(error.instance, path)} is not of type {expected}")
    else:
        masked = mask_value(error.instance, path)
        message = error.message if masked == error.instance else error.message.replace(repr(error.instance),
                                                                                       repr(masked))
        yield Violation(path, message)


def _custom_message(error: ValidationError) -> str | None:
    messages = error.schema.get("x-messages") if isinstance(error.schema, Mapping) else None
    if not messages:
        return None
    message = messages.get(str(error.validator))
    return str(message) if message is not None else None


def _unexpected_keys(instance: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    known = schema.get("properties", {})
    return [str(key) for key in instance if key not in known]


_SNAKE = re.compile(r"_([a-z0-9])")


def _key_hint(key: str, allowed: Sequence[str], parent: tuple[str, ...]) -> str:
    special = _KNOWN_MISPLACED.get(parent, {}).get(key)
    if special:
        return special
    camel = _SNAKE.sub(lambda m: m.group(1).upper(), key)
    by_fold = {name.casefold(): name for name in allowed}
    match = by_fold.get(camel.casefold()) or by_fold.get(key.casefold().replace("-", ""))
    if match is None:
        import difflib  # only for a typo

        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.7)
        match = close[0] if close else None
    if match is not None:
        return f"did you mean `{match}`?"
    return "allowed here: " + ", ".join(allowed) if allowed else "no keys are allowed here"


def _shown(value: Any, path: Sequence[str | int]) -> str:
    """A value as a message shows it: short, and masked where it is a secret (docs/plan-apply.md#secrets: every output)."""
    return _short_repr(mask_value(value, path))


def _short_repr(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- a compiled predicate -----------------------------------------------------------------------
# jsonschema takes about half a millisecond for a typical job, as long as parsing it; validating
# 2,000 files must cost little more than parsing them. Almost every job is valid, so the schema is
# compiled into plain closures that only answer "valid?"; jsonschema explains the rare invalid job.
# The test corpus checks that both always agree.

Predicate = Callable[[Any], bool]

_ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "title", "description", "x-messages"})


@functools.cache
def _predicate(*, submission: bool) -> Predicate:
    schema = _variant(submission=submission)
    compiled: dict[str, Predicate] = {}

    def ref(pointer: str) -> Predicate:
        name = pointer.removeprefix("#/$defs/")
        if name == pointer:
            raise ValueError(f"unsupported $ref {pointer!r}: only #/$defs/<name>")
        return lambda value: compiled[name](value)  # late-bound: definitions may refer to each other

    for name, definition in schema["$defs"].items():
        compiled[name] = _compile(definition, ref)
    return _compile(schema, ref)


def _is_type(value: Any, name: str) -> bool:
    if name == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer())
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, _PYTHON_TYPES[name])


_PYTHON_TYPES: Mapping[str, type | tuple[type, ...]] = {
    "string": str, "object": dict, "array": list, "boolean": bool, "null": type(None)}


def _compile(schema: Any, ref: Callable[[str], Predicate]) -> Predicate:
    """A predicate with jsonschema's verdict for the keywords this schema uses; others are refused."""
    if schema is True or schema == {}:
        return lambda value: True
    if schema is False:
        return lambda value: False
    checks: list[Predicate] = []
    for keyword, argument in schema.items():
        if keyword in _ANNOTATIONS:
            continue
        if keyword in ("then", "else"):
            continue  # compiled with "if"
        checks.append(_keyword(keyword, argument, schema, ref))
    if len(checks) == 1:
        return checks[0]
    return lambda value: all(check(value) for check in checks)


def _keyword(keyword: str, argument: Any, schema: Mapping[str, Any], ref: Callable[[str], Predicate]) -> Predicate:
    match keyword:
        case "type":
            names = argument if isinstance(argument, list) else [argument]
            return lambda value: any(_is_type(value, name) for name in names)
        case "$ref":
            return ref(argument)
        case "properties":
            properties = {key: _compile(sub, ref) for key, sub in argument.items()}
            return lambda value: not isinstance(value, dict) or all(
                check(value[key]) for key, check in properties.items() if key in value)
        case "additionalProperties":
            known = frozenset(schema.get("properties", {}))
            extra = _compile(argument, ref)
            return lambda value: not isinstance(value, dict) or all(
                extra(item) for key, item in value.items() if key not in known)
        case "required":
            return lambda value: not isinstance(value, dict) or all(key in value for key in argument)
        case "minProperties":
            return lambda value: not isinstance(value, dict) or len(value) >= argument
        case "propertyNames":
            key_check = _compile(argument, ref)
            return lambda value: not isinstance(value, dict) or all(key_check(key) for key in value)
        case "items":
            items = _compile(argument, ref)
            return lambda value: not isinstance(value, list) or all(items(item) for item in value)
        case "pattern":  # compiled when first used: most jobs use few of the schema's patterns
            return lambda value: not isinstance(value, str) or ecma_pattern(argument).search(value) is not None
        case "minLength":
            return lambda value: not isinstance(value, str) or len(value) >= argument
        case "minimum":
            return lambda value: not _is_type(value, "number") or value >= argument
        case "maximum":
            return lambda value: not _is_type(value, "number") or value <= argument
        case "const":
            return lambda value: type(value) is type(argument) and value == argument
        case "anyOf":
            branches = [_compile(sub, ref) for sub in argument]
            return lambda value: any(branch(value) for branch in branches)
        case "not":
            negated = _compile(argument, ref)
            return lambda value: not negated(value)
        case "if":
            condition = _compile(argument, ref)
            then = _compile(schema.get("then", True), ref)
            otherwise = _compile(schema.get("else", True), ref)
            return lambda value: then(value) if condition(value) else otherwise(value)
    raise ValueError(f"the schema uses {keyword!r}, which the compiled predicate does not support")
