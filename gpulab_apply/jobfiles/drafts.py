"""The step between reading a document and checking it, where authoring transforms sit.

A :class:`Draft` is a job on its way from a file to the checks: its data and the
:class:`~gpulab_apply.sourcemap.SourceMap` that places every value of it. A
:class:`Transform` turns one draft into zero or more drafts (a defaults overlay gives one, a matrix
gives one per member) and reports problems, located through the draft's source map. The checks then
locate their own problems through the same map, so they never need to know how a job was made.
check-jsonschema's ``Transform`` (applied to each instance between loading and validating) is the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from gpulab_apply.problems import Location, Problem, format_json_path
from gpulab_apply.sourcemap import JsonPath, SourceMap


class Draft(NamedTuple):
    """One job between reading and checking.

    ``member`` is the job's name when it differs from what the document says (a sweep member), so a
    problem in a shared value can say which job it broke. ``sweep`` names the sweep a member belongs to.
    ``hashed`` is the data as the spec hash sees it when it differs from ``data`` (values taken from the
    environment stay ``${VAR}`` there); ``secrets`` are the values that came from the environment.
    """

    data: Any
    source: SourceMap
    member: str | None = None
    sweep: str | None = None
    hashed: Any = None
    secrets: frozenset[str] = frozenset()
    #: (uuid, recorded spec hash or None) of a job on GPULab this job file takes over
    #: (docs/authoring.md#import-and-adoption)
    adopt: tuple[str, str | None] | None = None
    #: where a variable that is not set was left as its placeholder, and which (docs/authoring.md#variables-offline)
    unset: tuple[tuple[JsonPath, frozenset[str]], ...] = ()
    #: a sweep member's matrix values as written, axis by axis (for the results grid, docs/results.md)
    matrix: tuple[tuple[str, str], ...] = ()

    @property
    def origin(self) -> Location:
        return self.source.origin

    def evolve(self, **changes: Any) -> Draft:
        return self._replace(**changes)

    def problem(self, json_path: JsonPath, message: str, *, at_key: bool = False, hint: str | None = None) -> Problem:
        """A problem with the value at ``json_path``, placed where that value was written. A value written
        elsewhere (a defaults file, a sweep's shared template) names the job it broke."""
        where = self.source.locate(json_path, at_key=at_key)
        if self.member is not None or where.path != self.origin.path:
            name = self.member or (self.data.get("name") if isinstance(self.data, Mapping) else None)
            message += f" (in job {name!r} of {self.origin})" if isinstance(name, str) else f" (in {self.origin})"
        return Problem(where, message, json_path=format_json_path(json_path), hint=hint)


class Expansion(NamedTuple):
    """What a transform made of one draft: the drafts that go on, and problems found on the way."""

    drafts: Sequence[Draft]
    problems: Sequence[Problem] = ()


class Transform(Protocol):
    """One step of the pipeline: a draft in, drafts and problems out. Must not raise for bad input."""

    def __call__(self, draft: Draft) -> Expansion: ...


def run_transforms(draft: Draft, transforms: Sequence[Transform]) -> Expansion:
    """Every transform in order over every draft the previous one made; a draft with problems stops."""
    drafts = [draft]
    problems: list[Problem] = []
    for transform in transforms:
        next_drafts: list[Draft] = []
        for item in drafts:
            expansion = transform(item)
            problems.extend(expansion.problems)
            if not expansion.problems:
                next_drafts.extend(expansion.drafts)
        drafts = next_drafts
    return Expansion(drafts, problems)
