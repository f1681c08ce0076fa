"""Matrix sweeps: one document, one job per combination of values (docs/authoring.md#matrix-sweeps).

``x-gpulab-apply: {matrix: {lr: [1e-4, 3e-4], seed: [0, 1, 2], include: [...], exclude: [...]}}``
works like a GitHub Actions matrix. ``${{ matrix.lr }}`` in any string value is replaced by the value
as written in the file (``1e-4``, not ``0.0001``); a string that is only the expression takes the value
with its type (``gpus: ${{ matrix.gpus }}`` is a number).

A member's name comes from the values, never from their position: ``train-lr1e-4-seed0``. Adding a
value adds members and leaves the others' names (and so their jobs) alone; reordering values changes
nothing. A name that would be too long, or that two members would share, gets a short stable hash of
the member's values instead. A ``name`` that uses ``${{ matrix.* }}`` is the user's: two members that
would share it are an error naming both.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any, NamedTuple

from gpulab_apply.jobfiles.drafts import Draft, Expansion
from gpulab_apply.jobmodel.schema import TOOL_KEY
from gpulab_apply.problems import Problem, format_json_path
from gpulab_apply.sourcemap import JsonPath, LayeredSourceMap, NodeSourceMap, PathPart, SourceMap

EXPRESSION = re.compile(r"\$\{\{\s*(?P<expression>.*?)\s*\}\}")
_REFERENCE = re.compile(r"matrix\.(?P<key>[A-Za-z_][A-Za-z0-9_-]*)\Z")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
#: generated names longer than this end in a hash instead
MAX_NAME = 100
#: a few lines of YAML can ask for billions of combinations: more members than this is an error, found from
#: the axes' sizes before any member is made (docs/validate.md#limits)
MAX_MEMBERS = 10_000
#: how many jobs the sweeps of one run may make together (twenty 10,000-member sweeps fit in 47 KB)
MAX_JOBS = 50_000
#: and how much job text: members times the size of their template (as JSON), so that a sweep of large
#: jobs is bounded in memory too (10,000 members of a 30 KB template would hold 300 MB)
MAX_SWEEP_BYTES = 64 * 1024 * 1024
MATRIX_PATH = (TOOL_KEY, "matrix")

Scalar = str | int | float | bool | None
Tree = dict[PathPart, "Tree"] | None  # None: a string holding expressions


class Member(NamedTuple):
    """One combination: its values, each as written in the file, and the keys that name it."""

    values: Mapping[str, Scalar]
    texts: Mapping[str, str]
    naming: tuple[str, ...]
    #: where the combination was defined (the matrix, or an include entry), for messages
    where: JsonPath

    def key(self) -> str:
        """A stable text of the values (order-free), for hashes."""
        typed = {k: [type(v).__name__, v] for k, v in self.values.items()}
        return json.dumps(typed, sort_keys=True, separators=(",", ":"))

    def describe(self) -> str:
        return "{" + ", ".join(f"{key}: {self.texts[key]}" for key in self.values) + "}"


class JobBudget:
    """How many more jobs sweeps may make in this run; shared by the files checked in one process."""

    __slots__ = ("bytes_left", "left")

    def __init__(self) -> None:
        self.left = MAX_JOBS
        self.bytes_left = MAX_SWEEP_BYTES


class MatrixExpansion:
    """The transform: a document with a matrix becomes one draft per member; others pass through.

    Members are counted before any is made, against :data:`MAX_MEMBERS` and the run's ``budget``.
    """

    __slots__ = ("budget",)

    def __init__(self, budget: JobBudget | None = None) -> None:
        self.budget = JobBudget() if budget is None else budget

    def __call__(self, draft: Draft) -> Expansion:
        data = draft.data
        options = data.get(TOOL_KEY) if isinstance(data, Mapping) else None
        if not isinstance(options, Mapping) or "matrix" not in options:
            return Expansion((draft,))
        members, problems = combinations(options["matrix"], draft.source)
        if problems:
            return Expansion((), problems)
        if len(members) > self.budget.left:
            return Expansion((), [Problem(draft.source.locate(MATRIX_PATH, at_key=True),
                                          f"matrix: its {len(members):,} members would take the jobs of this run "
                                          f"beyond {MAX_JOBS:,}; split the sweeps over runs",
                                          json_path=".".join(MATRIX_PATH))])
        size = len(members) * len(json.dumps(data, ensure_ascii=False, default=str))
        if size > self.budget.bytes_left:
            return Expansion((), [Problem(draft.source.locate(MATRIX_PATH, at_key=True),
                                          f"matrix: its {len(members):,} members would hold {size / 2**20:,.0f} MiB of "
                                          f"job text, beyond the {MAX_SWEEP_BYTES // 2**20} MiB the sweeps of a run "
                                          "may make; make the job smaller or split the sweep",
                                          json_path=".".join(MATRIX_PATH))])
        self.budget.left -= len(members)
        self.budget.bytes_left -= size
        template = dict(data)
        rest = {key: value for key, value in options.items() if key != "matrix"}
        if rest:
            template[TOOL_KEY] = rest
        else:
            del template[TOOL_KEY]
        tree, problems = _expression_tree(template, (), draft.source)
        if problems:
            return Expansion((), problems)
        name = template.get("name")
        if not isinstance(name, str):
            return Expansion((draft.evolve(data=template),))  # the schema reports the missing name
        names, problems = _member_names(name, members, draft.source)
        if problems:
            return Expansion((), problems)
        sweep = sweep_name(name, draft.origin.path)
        drafts = []
        for member, member_name in zip(members, names, strict=True):
            job, member_problems = _render(template, tree, member, draft.source)
            problems.extend(member_problems)
            job["name"] = member_name
            drafts.append(draft.evolve(data=job, member=member_name, sweep=sweep,
                                       matrix=tuple((key, member.texts.get(key, str(value)))
                                                    for key, value in member.values.items())))
        return Expansion(() if problems else drafts, problems)


def sweep_name(name: str, path: str) -> str:
    """What plan and ``--target`` call a sweep: its name without expressions (or the file's stem)."""
    bare = EXPRESSION.sub("", name).strip("-_. ")
    return re.sub(r"([-_.])[-_.]+", r"\1", bare) or PurePosixPath(path).stem


def combinations(matrix: Any, source: SourceMap) -> tuple[list[Member], list[Problem]]:
    """The members of ``matrix`` as GitHub Actions computes them: the product of the axes in the order
    written, minus ``exclude`` matches, then ``include`` entries added to the members they fit (without
    changing an axis value) or as members of their own."""
    def problem(path: JsonPath, message: str) -> list[Problem]:
        return [Problem(source.locate((*MATRIX_PATH, *path), at_key=True), f"matrix: {message}",
                        json_path=".".join(map(str, (*MATRIX_PATH, *path))))]

    if not isinstance(matrix, Mapping) or not matrix:
        return [], problem((), "must be a mapping of keys to lists of values, with optional include and exclude")
    axes = {key: values for key, values in matrix.items() if key not in ("include", "exclude")}
    for key, values in axes.items():
        if not isinstance(key, str) or not _KEY.match(key):
            return [], problem((key,), f"{key!r} is not a key: use letters, digits, _ and -")
        if not isinstance(values, list) or not values or not all(_is_scalar(v) for v in values):
            return [], problem((key,), f"{key} must be a non-empty list of scalar values")
    extras: dict[str, list[Mapping[str, Any]]] = {}
    for part in ("include", "exclude"):
        entries = matrix.get(part, [])
        if not isinstance(entries, list) or not all(_is_entry(entry) for entry in entries):
            return [], problem((part,), f"{part} must be a list of mappings of keys to scalar values")
        extras[part] = entries
    # counted before any member is made: an include adds at most one member
    if (count := math.prod(len(values) for values in axes.values()) + len(extras["include"])) > MAX_MEMBERS:
        return [], problem((), f"{count:,} combinations, more than the {MAX_MEMBERS:,} a sweep may have; split the "
                               "sweep")

    def text(path: JsonPath, value: Scalar) -> str:
        return written(source, (*MATRIX_PATH, *path), value)

    members: list[Member] = []
    if axes:
        written_axes = {key: [text((key, index), value) for index, value in enumerate(values)]
                        for key, values in axes.items()}  # each value's text looked up once, not per member
        indexed = [[(key, index, value) for index, value in enumerate(values)] for key, values in axes.items()]
        for combination in itertools.product(*indexed):
            values = {key: value for key, _, value in combination}
            if any(all(_same(values.get(k), v) and k in values for k, v in ex.items()) for ex in extras["exclude"]):
                continue
            texts = {key: written_axes[key][index] for key, index, _ in combination}
            members.append(Member(values, texts, tuple(axes), MATRIX_PATH))
    _include(members, extras["include"], axes, text)
    if not members:
        return [], problem((), "every combination is excluded: the sweep has no member")
    return members, []


def _include(members: list[Member], includes: Sequence[Mapping[str, Any]], axes: Mapping[str, Any],
             text: Callable[[JsonPath, Scalar], str]) -> None:
    """Each ``include`` entry added to the original members it fits (keys beyond the axes added to
    them, axis values never changed), or appended as a member of its own when it fits none."""
    originals = len(members)
    for number, entry in enumerate(includes):
        where = ("include", number)
        fits = [i for i in range(originals)
                if all(_same(members[i].values[k], v) for k, v in entry.items() if k in axes)]
        texts = {key: text((*where, key), value) for key, value in entry.items()}
        added = {k: v for k, v in entry.items() if k not in axes}
        for i in fits:
            old = members[i]
            members[i] = Member({**old.values, **added}, {**old.texts, **{k: texts[k] for k in added}},
                                old.naming, old.where)
        if not fits:
            members.append(Member(dict(entry), texts, tuple(entry), (*MATRIX_PATH, *where)))


def written(source: SourceMap, path: JsonPath, value: Scalar) -> str:
    """A scalar as the file writes it (``1e-4``), or as JSON would when the text is not at hand."""
    if isinstance(source, LayeredSourceMap):
        source = source.layer_of(path).source
    text = source.scalar_text(path) if isinstance(source, NodeSourceMap) else None
    if text is not None and not isinstance(value, str):
        return text
    return value if isinstance(value, str) else json.dumps(value)


def _member_names(name: str, members: Sequence[Member], source: SourceMap) -> tuple[list[str], list[Problem]]:
    if EXPRESSION.search(name):  # the user's own names: must be unique as they are
        names = [_substitute_text(name, member) for member in members]
        by_name: dict[str, list[Member]] = defaultdict(list)
        for member, member_name in zip(members, names, strict=True):
            by_name[member_name].append(member)
        problems = [Problem(source.locate(("name",)), f"matrix members {group[0].describe()} and {group[1].describe()} "
                                                      f"would both be named {member_name!r}", json_path="name",
                            hint="use every matrix key in the name, or leave ${{ }} out of it for generated names")
                    for member_name, group in by_name.items() if len(group) > 1]
        return names, problems
    readable = [_readable(name, member) for member in members]
    counts: dict[str, int] = defaultdict(int)
    for candidate in readable:
        counts[candidate] += 1
    names = [_hashed(candidate, member) if counts[candidate] > 1 or len(candidate) > MAX_NAME else candidate
             for candidate, member in zip(readable, members, strict=True)]
    seen: dict[str, Member] = {}
    for member_name, member in zip(names, members, strict=True):
        if member_name in seen:  # the same values twice (an include repeating a combination)
            return [], [Problem(source.locate(MATRIX_PATH, at_key=True),
                                f"matrix members {seen[member_name].describe()} and {member.describe()} are the "
                                f"same combination (both named {member_name!r})", json_path=".".join(MATRIX_PATH))]
        seen[member_name] = member
    return names, []


def _readable(name: str, member: Member) -> str:
    parts = [f"{key}{_NAME_UNSAFE.sub('_', member.texts[key])}" for key in member.naming]
    return "-".join([name, *parts])


def _hashed(readable: str, member: Member) -> str:
    import hashlib  # only for long or shared names: loading OpenSSL costs validate a few milliseconds to start

    digest = hashlib.sha256(member.key().encode()).hexdigest()[:8]
    return f"{readable[:MAX_NAME - 9]}-{digest}"


def _expression_tree(value: Any, path: JsonPath, source: SourceMap) -> tuple[Tree | bool, list[Problem]]:
    """Which strings below ``value`` hold ``${{ }}`` (False: none), and problems with expressions."""
    if isinstance(value, str):
        if "${{" not in value:
            return False, []
        bad = [m["expression"] for m in EXPRESSION.finditer(value) if not _REFERENCE.match(m["expression"])]
        if bad:
            return False, [Problem(source.locate(path), f"${{{{ {bad[0]} }}}}: only ${{{{ matrix.<key> }}}} is "
                                                        "supported here", json_path=_dotted(path))]
        return None, []
    items = value.items() if isinstance(value, Mapping) else enumerate(value) if isinstance(value, list) else ()
    tree: dict[PathPart, Tree] = {}
    problems: list[Problem] = []
    for key, item in items:
        subtree, found = _expression_tree(item, (*path, key), source)
        problems.extend(found)
        if subtree is not False:
            tree[key] = subtree  # type: ignore[assignment]
    return (tree if tree else False), problems


def _render(template: Mapping[str, Any], tree: Tree | bool, member: Member,
            source: SourceMap) -> tuple[dict[str, Any], list[Problem]]:
    """The template for one member: only the containers on the way to an expression are copied."""
    problems: list[Problem] = []

    def render(value: Any, subtree: Tree | bool, path: JsonPath) -> Any:
        if subtree is None:
            return _substitute(value, member, path, source, problems.append)
        if not isinstance(subtree, dict):
            return value
        copy = dict(value) if isinstance(value, Mapping) else list(value)
        for key, below in subtree.items():
            copy[key] = render(value[key], below, (*path, key))  # type: ignore[index]
        return copy

    result = render(template, tree, ())
    return dict(result), problems


def _substitute(text: str, member: Member, path: JsonPath, source: SourceMap,
                report: Callable[[Problem], None]) -> Any:
    missing = [m["expression"] for m in EXPRESSION.finditer(text)
               if _REFERENCE.match(m["expression"])["key"] not in member.values]  # type: ignore[index]
    if missing:
        report(Problem(source.locate(path), f"${{{{ {missing[0]} }}}} has no value in matrix member "
                                            f"{member.describe()}", json_path=_dotted(path)))
        return text
    whole = EXPRESSION.fullmatch(text)
    if whole:  # the value itself, with its type
        return member.values[_REFERENCE.match(whole["expression"])["key"]]  # type: ignore[index]
    return _substitute_text(text, member)


def _substitute_text(text: str, member: Member) -> str:
    def replace(found: re.Match[str]) -> str:
        reference = _REFERENCE.match(found["expression"])
        key = reference["key"] if reference else ""
        return member.texts.get(key, found[0])

    return EXPRESSION.sub(replace, text)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _is_entry(entry: Any) -> bool:
    return isinstance(entry, Mapping) and bool(entry) and all(
        isinstance(k, str) and _KEY.match(k) and _is_scalar(v) for k, v in entry.items())


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _dotted(path: JsonPath) -> str:
    return format_json_path(path)
