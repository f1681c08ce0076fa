"""``_defaults.yaml``: values shared by every job in a directory and below (docs/authoring.md#defaults).

Merge order, farthest first: the defaults file of the top directory, then of each directory on the way
down to the job's, then the job document itself. Mappings merge key by key; anything else (a list, a
scalar, null) replaces what a farther layer had. The job keeps a layered source map, so a problem in a
value a defaults file set is reported at that file and line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpulab_apply.jobfiles.drafts import Draft, Expansion
from gpulab_apply.jobfiles.loader import DEFAULTS_NAMES, read
from gpulab_apply.jobmodel.schema import TOOL_KEY
from gpulab_apply.problems import Problem
from gpulab_apply.sourcemap import Layer, LayeredSourceMap

#: keys a defaults file cannot set: each job needs its own name, and a sweep is one document's
_JOB_ONLY = {"name": "every job needs its own name", f"{TOOL_KEY}.matrix": "a matrix belongs in a job file",
             f"{TOOL_KEY}.adopt": "adopting names one job"}


@dataclass(frozen=True, slots=True)
class _Defaults:
    """One directory's defaults file as read: its layer (None when the directory has none) and problems."""

    layer: Layer | None
    problems: tuple[Problem, ...] = ()


def deep_merge(base: Any, over: Any) -> Any:
    """``over`` on top of ``base``: mappings merge key by key, anything else in ``over`` replaces.

    Keys keep the nearer file's order, then come the keys only ``base`` has (so a job's ``name`` stays first).
    """
    if not (isinstance(base, Mapping) and isinstance(over, Mapping)):
        return over
    merged = {key: deep_merge(base[key], value) if key in base else value for key, value in over.items()}
    merged.update((key, value) for key, value in base.items() if key not in over)
    return merged


class DefaultsOverlay:
    """The transform that puts a job file's defaults under each of its documents.

    ``top`` is the highest directory whose defaults apply (see :func:`top_directory`). Defaults files are
    read once per process and kept in ``cache`` (shared by every file of a validation run).
    """

    __slots__ = ("cache", "path", "top")

    def __init__(self, path: str, top: str, cache: dict[str, _Defaults] | None = None) -> None:
        self.path = path
        self.top = top
        self.cache = {} if cache is None else cache

    def __call__(self, draft: Draft) -> Expansion:
        layers, problems = self.layers()
        if problems:
            return Expansion((), problems)
        if not layers or not isinstance(draft.data, Mapping):
            return Expansion((draft,))
        data: Any = {}
        for layer in layers:
            data = deep_merge(data, layer.data)
        data = deep_merge(data, draft.data)
        source = LayeredSourceMap((*layers, Layer(draft.data, draft.source)))
        return Expansion((draft.evolve(data=data, source=source),))

    def layers(self) -> tuple[list[Layer], list[Problem]]:
        layers: list[Layer] = []
        problems: list[Problem] = []
        for directory in _directories(self.path, self.top):
            if directory not in self.cache:
                self.cache[directory] = _read_defaults(directory)
            found = self.cache[directory]
            problems.extend(found.problems)
            if found.layer is not None:
                layers.append(found.layer)
        return layers, problems


def top_directory(path: str, given: Sequence[str | Path], job_root: str | Path = ".") -> str:
    """The highest directory whose defaults reach the job file ``path``.

    The job root when the file is inside it (docs/plan-apply.md#workspace: a job's effective form is the
    repository's, whatever path the command was given, so ``plan jobs.d/sweep/a.yaml``, ``plan jobs.d`` and
    ``plan ../..`` from a subdirectory agree); otherwise the path given on the command line that holds it (a
    directory, or a file's own directory). Never above either: nothing outside the project (a shared ``/tmp``)
    can add values.
    """
    absolute = os.path.abspath(path)
    root = os.path.abspath(job_root)
    if absolute.startswith(root.rstrip(os.sep) + os.sep):
        return root
    holders = [os.path.abspath(g) if os.path.isdir(g) else os.path.dirname(os.path.abspath(g)) for g in given]
    inside = [h for h in holders if absolute.startswith(h + os.sep)]
    return max(inside, key=len) if inside else os.path.dirname(absolute)


def _directories(path: str, top: str) -> list[str]:
    """The directories from ``top`` down to ``path``'s own, in the spelling of ``path`` (``jobs.d/sweep``, or
    ``..`` above a file named from a subdirectory)."""
    directory = os.path.dirname(path) or "."
    chain = [directory]
    top_real = os.path.abspath(top)
    while os.path.abspath(directory) != top_real:
        parent = os.path.dirname(directory)
        if not parent or os.path.basename(directory) in (".", ".."):  # "a.yaml", "../a.yaml": go up by ".."
            parent = os.path.normpath(os.path.join(directory, os.pardir))
        if os.path.abspath(parent) == os.path.abspath(directory):
            break
        directory = parent
        chain.append(directory)
    return chain[::-1]


def defaults_problems(path: str) -> tuple[Problem, ...]:
    """The problems of the defaults file ``path`` itself, for when it is named on the command line."""
    return _defaults_from(path).problems


def _read_defaults(directory: str) -> _Defaults:
    for name in DEFAULTS_NAMES:
        path = name if directory == "." else f"{directory}/{name}"
        if os.path.lexists(path):
            return _defaults_from(path)
    return _Defaults(None)


def _defaults_from(path: str) -> _Defaults:
    job_file = read(path)
    if job_file.problems:
        return _Defaults(None, job_file.problems)
    documents = [document for document in job_file.documents if document.data is not None]
    if not documents:
        return _Defaults(None)
    first = documents[0]
    if len(documents) > 1:
        return _Defaults(None, (Problem(documents[1].location, "a defaults file holds one document",
                                        hint="merge the documents into one mapping"),))
    if not isinstance(first.data, Mapping):
        return _Defaults(None, (Problem(first.location, "a defaults file is a mapping of job fields"),))
    problems = []
    for dotted, why in _JOB_ONLY.items():
        parts = dotted.split(".")
        holder: Any = first.data
        for part in parts[:-1]:
            holder = holder.get(part) if isinstance(holder, Mapping) else None
        if isinstance(holder, Mapping) and parts[-1] in holder:
            problems.append(Problem(first.source.locate(parts, at_key=True),
                                    f"{dotted} cannot be a default: {why}", json_path=dotted))
    if problems:
        return _Defaults(None, tuple(problems))
    return _Defaults(Layer(first.data, first.source))

