"""What each job needs, resolved within the desired set, and what is wrong with it (docs/workflows.md#dependencies).

``x-gpulab-apply.needs`` lists job names and sweep names (a sweep stands for all its members); matrix
expressions are already substituted. Resolution is pure and shared: validation reports each unknown name, each
cycle and each reference to another set at the ``needs`` entry that wrote it, and the planner gates jobs on the
resolved names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from gpulab_apply.model import JobSpec

#: a need written ``set/name`` (or ``set:name``) names a job of another set: sets never see each other's jobs
_OTHER_SET = ("/", ":")


class NeedProblem(NamedTuple):
    """One wrong ``needs`` entry: the job, the entry's position in its ``needs`` list, and what is wrong."""

    job: JobSpec
    position: int
    message: str
    hint: str


def resolve_needs(desired: Sequence[JobSpec]) -> dict[str, tuple[str, ...]]:
    """Per job with needs, the names of the jobs it needs (a sweep name gives its members, in name order);
    unknown names are left out (:func:`need_problems` reports them)."""
    names = {spec.name for spec in desired}
    members: dict[str, list[str]] = {}
    for spec in desired:
        if spec.sweep is not None:
            members.setdefault(spec.sweep, []).append(spec.name)
    resolved: dict[str, tuple[str, ...]] = {}
    for spec in desired:
        if not spec.workflow.needs:
            continue
        found: list[str] = []
        for need in spec.workflow.needs:
            for name in ([need] if need in names else sorted(members.get(need, ()))):
                if name != spec.name and name not in found:
                    found.append(name)
        resolved[spec.name] = tuple(found)
    return resolved


def need_problems(desired: Sequence[JobSpec]) -> list[NeedProblem]:
    """Every ``needs`` entry that names no job of the set, names another set's job or the job itself, and one
    problem per cycle (at the first job of the cycle, in name order, naming the whole cycle)."""
    names = {spec.name for spec in desired}
    sweeps = {spec.sweep for spec in desired if spec.sweep is not None}
    problems: list[NeedProblem] = []
    for spec in desired:
        for index, need in enumerate(spec.workflow.needs):
            if need in names or need in sweeps:
                if need == spec.name or (spec.sweep is not None and need == spec.sweep):
                    problems.append(NeedProblem(spec, index, f"needs: {need!r} is this job itself",
                                                "a job cannot wait for itself; remove the entry"))
                continue
            if any(mark in need for mark in _OTHER_SET):
                problems.append(NeedProblem(spec, index, f"needs: {need!r} names a job of another set",
                                            "needs name jobs of this set only: sets never see each other's jobs"))
                continue
            problems.append(NeedProblem(spec, index, f"needs: no job or sweep named {need!r} in the job files",
                                        "name a job or a sweep of this job directory (see `gpulab-apply render`)"))
    problems.extend(_cycles(desired, resolve_needs(desired)))
    return problems


def _cycles(desired: Sequence[JobSpec], resolved: Mapping[str, tuple[str, ...]]) -> list[NeedProblem]:
    """One problem per cycle of needs, reported at the first job of the cycle (in name order)."""
    by_name = {spec.name: spec for spec in desired}
    state: dict[str, int] = {}  # 1: on the path, 2: done
    found: list[NeedProblem] = []
    seen_cycles: set[frozenset[str]] = set()
    for start in sorted(resolved):
        stack: list[tuple[str, int]] = [(start, 0)]
        path: list[str] = []
        while stack:
            name, position = stack.pop()
            if position == 0:
                if state.get(name) == 2:
                    continue
                state[name] = 1
                path.append(name)
            needs = resolved.get(name, ())
            if position < len(needs):
                stack.append((name, position + 1))
                nxt = needs[position]
                if state.get(nxt) == 1:
                    cycle = path[path.index(nxt):]
                    key = frozenset(cycle)
                    if key not in seen_cycles:
                        seen_cycles.add(key)
                        first = min(cycle)
                        at = cycle.index(first)
                        ordered = [*cycle[at:], *cycle[:at], first]
                        spec = by_name[first]
                        index = _entry_index(spec, ordered[1], by_name)
                        found.append(NeedProblem(spec, index, "needs: a cycle: " + " -> ".join(ordered),
                                                 "a job cannot wait for what waits for it; remove one of these needs"))
                elif state.get(nxt) is None:
                    stack.append((nxt, 0))
                continue
            state[name] = 2
            path.pop()
    return found


def _entry_index(spec: JobSpec, needed: str, by_name: Mapping[str, JobSpec]) -> int:
    """The index of the entry of ``spec.workflow.needs`` that names ``needed`` (or its sweep)."""
    sweep = by_name[needed].sweep if needed in by_name else None
    for index, need in enumerate(spec.workflow.needs):
        if need == needed or (sweep is not None and need == sweep):
            return index
    return 0
