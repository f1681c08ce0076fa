"""The package's layers (docs/architecture.md): every module stands above all it imports, and no modules import each
other in a cycle.

The imports are read with ``ast`` from the source, at module level, inside functions and under ``TYPE_CHECKING``
alike: an import made on first use, or for a type only, is still a dependency. The order is declared once, here, in
:data:`LAYERS`, so that a new feature that needs an import running back up meets this test, not a review.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

PACKAGE = Path(__file__).resolve().parent.parent / "gpulab_apply"

#: the layers from the top down; each is one or more *parts* (a part: a package or some modules, by dotted prefix
#: under ``gpulab_apply``). A module may import its own part and any part of a lower layer; parts that share a
#: layer are independent of each other. Why each stands where it does:
LAYERS: tuple[tuple[tuple[str, tuple[str, ...]], ...], ...] = (
    # options in, one application call, a reporter out
    (("cli", ("__main__", "cli")),),
    # builds the client or the emulator from settings and runs load, plan, apply and status for the commands
    (("app", ("app",)),),
    # reporters turn results into text; the emulator stands in for GPULab: both serve the layers above only
    (("reporters", ("reporters",)), ("emulator", ("emulator",))),
    # where GPULab is and how to reach it, the workspace and its config file: read from the environment and files
    (("settings", ("settings", "setting_table", "setting_values", "workspace", "configfile")),),
    # the plan (a pure function of desired and remote jobs), its execution and ownership
    (("reconcile", ("reconcile",)),),
    # the two edges of the core: GPULab over HTTP, and job files on disk; neither knows the other
    (("gpulab", ("gpulab",)), ("jobfiles", ("jobfiles",))),
    # the nouns every part shares: a desired job, a remote job, and where each value of a job was written
    (("model", ("model", "sourcemap")),),
    # GPULab's job model: schema, rules, forms, durations, status groups
    (("jobmodel", ("jobmodel",)),),
    # facts with no dependency on the tool: errors, problems, masking, placement, git, crash reports, the version,
    # and the two rules every command shares over names: the natural order and the selector grammar
    (("base", ("", "errors", "problems", "masking", "placement", "git", "crash", "order", "selectors")),),
)


#: imports that break the order in code another branch is changing now, as (module, target), each with the branch that
#: removes it; each entry must still exist (the test below fails when one is gone, so the list only shrinks). Empty:
#: gpulab/policy.py took gpulab -> settings away, and cli/table.py the cli <-> cli.group cycle.
PENDING: frozenset[tuple[str, str]] = frozenset()


def parsed(path: Path) -> ast.Module:
    """The syntax tree of ``path``, parsed once per version of the file: every test here reads the whole package."""
    return _parse(path, path.stat().st_mtime_ns)


@functools.cache
def _parse(path: Path, _version: int) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


class Import(NamedTuple):
    module: str
    target: str
    line: int
    in_function: bool


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str, path: Path, known: set[str]) -> Iterator[Import]:
    """Every import of a module of the package in ``path``: the longest known module each names."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def resolve(target: str) -> str | None:
        while target and target not in known:
            target = target.rpartition(".")[0]
        return target or None

    def walk(node: ast.AST, in_function: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            targets: list[str] = []
            if isinstance(child, ast.Import):
                targets = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parent = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*parent, *([base] if base else [])])
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in child.names]
            for target in targets:
                found = resolve(target)
                if found is not None and found != name and found.startswith("gpulab_apply"):
                    yield Import(name, found, getattr(child, "lineno", 0), in_function)
            yield from walk(child, inside)

    yield from walk(parsed(path), False)


def graph() -> list[Import]:
    found = modules()
    edges = [edge for name, path in found.items() for edge in imports(name, path, set(found))]
    return [edge for edge in edges if (edge.module, edge.target) not in PENDING]


def test_every_pending_exception_is_still_needed() -> None:
    found = modules()
    edges = {(edge.module, edge.target) for name, path in found.items() for edge in imports(name, path, set(found))}
    assert PENDING - edges == set(), "remove these from PENDING: the code no longer has them"


def part_of(module: str) -> tuple[int, str]:
    """(layer from the top, part name) of a module: the part whose prefix matches it longest."""
    relative = module.removeprefix("gpulab_apply").removeprefix(".")
    best: tuple[int, int, str] | None = None
    for depth, layer in enumerate(LAYERS):
        for part, prefixes in layer:
            for prefix in prefixes:
                matches = relative == prefix or (prefix and relative.startswith(prefix + "."))
                if matches and (best is None or len(prefix) > best[0]):
                    best = (len(prefix), depth, part)
    assert best is not None, f"{module} is in no layer: add it to LAYERS in tests/test_layers.py"
    return best[1], best[2]


def test_every_module_has_a_layer() -> None:
    for module in modules():
        part_of(module)


def test_no_import_runs_up_or_sideways() -> None:
    wrong = []
    for edge in graph():
        (depth, part), (target_depth, target_part) = part_of(edge.module), part_of(edge.target)
        if part != target_part and target_depth <= depth:
            where = "up" if target_depth < depth else "sideways"
            wrong.append(f"{edge.module}:{edge.line} imports {edge.target} ({part} -> {target_part}, {where})")
    assert wrong == []


def cycles(edges: list[Import]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iteratively)."""
    successors: dict[str, set[str]] = {}
    for edge in edges:
        successors.setdefault(edge.module, set()).add(edge.target)
        successors.setdefault(edge.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(successors):
        if start in index:
            continue
        work = [(start, iter(sorted(successors[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(successors[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_modules_import_each_other_in_a_cycle() -> None:
    assert cycles(graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    # the check above cannot pass for want of seeing: a three-module loop and a two-module one are found
    edges = [Import("a", "b", 1, False), Import("b", "c", 1, True), Import("c", "a", 1, False),
             Import("d", "e", 1, False), Import("e", "d", 1, False), Import("e", "a", 1, False)]
    assert sorted(cycles(edges)) == [["a", "b", "c"], ["d", "e"]]


def test_the_reader_sees_function_level_and_relative_imports(tmp_path: Path) -> None:
    source = "import os\ndef f():\n    from gpulab_apply.errors import ConfigError\nfrom . import model\n"
    tree = {"gpulab_apply", "gpulab_apply.cli", "gpulab_apply.cli.x", "gpulab_apply.errors", "gpulab_apply.cli.model"}
    (tmp_path / "x.py").write_text(source)
    found = list(imports("gpulab_apply.cli.x", tmp_path / "x.py", tree))
    assert [(edge.target, edge.in_function) for edge in found] == [("gpulab_apply.errors", True),
                                                                   ("gpulab_apply.cli.model", False)]


def function_level_imports(path: Path) -> list[tuple[int, int]]:
    """(first, last line) of each import statement inside a function of ``path``."""
    found = []
    for function in ast.walk(parsed(path)):
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            found += [(node.lineno, node.end_lineno or node.lineno) for node in ast.walk(function)
                      if isinstance(node, ast.Import | ast.ImportFrom)]
    return sorted(set(found))


def unexplained(path: Path) -> list[str]:
    """The imports inside functions of ``path`` with no comment on their lines, none on the line above, and not
    following another import directly (a run of imports shares the comment above its first)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    statements = function_level_imports(path)
    found = []
    for index, (first, last) in enumerate(statements):
        in_run = index > 0 and statements[index - 1][1] == first - 1
        said = any("#" in lines[line - 1] for line in range(first, last + 1))
        if not (said or in_run or lines[first - 2].strip().startswith("#")):
            found.append(f"{first}: {lines[first - 1].strip()}")
    return found


def test_an_import_inside_a_function_says_why() -> None:
    """An import is made on first use only to keep a start (validate's, --help's) or a rare path cheap, and the
    comment where it stands says so: on its line, or above the run of imports it opens."""
    assert [f"{name}:{line}" for name, path in modules().items() for line in unexplained(path)] == []


def test_the_why_check_sees_an_unexplained_import(tmp_path: Path) -> None:
    path = tmp_path / "x.py"
    path.write_text("def f():\n    import json\n\n    # why\n    import csv\n    import io\n    x = 1\n    import re\n")
    assert function_level_imports(path) == [(2, 2), (5, 5), (6, 6), (8, 8)]
    assert unexplained(path) == ["2: import json", "8: import re"]
