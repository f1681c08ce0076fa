"""Workflow gating: the step of the plan that holds back what may not be submitted yet (docs/workflows.md).

:func:`build_plan` decides each name on its own (create, replace, in sync, failed ...); :func:`gate` then looks
at the decisions together, purely, from what GPULab lists, so any number of applies agree:

1. **retries**: a FAILED current run of the desired spec is followed by a new run (``attempt`` + 1 in the
   marker) while ``attempt <= retries`` and the retry's delay has passed; after that the job is *exhausted*;
2. **needs**: a job that would be submitted waits (``WAIT``) until every job it needs has FINISHED with its
   current spec, or is *blocked* when one FAILED, was CANCELLED or is itself blocked (``when: always``:
   any final state will do); what it would do is kept in :attr:`PlanEntry.then`;
3. **fail-fast**: once a member of a ``fail-fast`` sweep failed for good, no further member is submitted;
4. **max-parallel** per sweep and **max-active** for the set: creates beyond the free slots wait.

Spec hashes of jobs with needs include their needs' hashes (:func:`spec_hashes`), so a change upstream makes
every dependant out of date: it is replaced or rerun, and step 2 makes it wait for the new upstream run.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from gpulab_apply.jobfiles.needs import resolve_needs
from gpulab_apply.model import JobSpec
from gpulab_apply.reconcile.marker import SpecHashes, parse_marker
from gpulab_apply.reconcile.plan import Action, PlanEntry, Reason
from gpulab_apply.reconcile.runs import ended_at

#: reasons of a need that ended and will not run again by itself
_ENDED = frozenset({Reason.FAILED, Reason.CANCELLED, Reason.HALTED, Reason.DELETED, Reason.EXHAUSTED})
#: reasons of a need that will never finish without a person: its dependants are blocked
_STUCK = _ENDED | {Reason.BLOCKED, Reason.UNMANAGED, Reason.PROTECTED}
_SUBMITS = (Action.CREATE, Action.REPLACE)


def spec_hashes(desired: Sequence[JobSpec], project_urn: str | None) -> dict[str, SpecHashes]:
    """Every desired job's spec hashes; a job with needs hashes its needs' current spec hashes too, so the
    hashes are made upstream first. Jobs without needs hash exactly as before workflows existed."""
    by_name = {spec.name: spec for spec in desired}
    needs = resolve_needs(desired) if any(spec.workflow.needs for spec in desired) else {}
    made: dict[str, SpecHashes] = {}

    def make(name: str, path: frozenset[str]) -> SpecHashes:
        if name not in made:
            spec = by_name[name]
            upstream = {need: make(need, path | {name}).current for need in needs.get(name, ())
                        if need in by_name and need not in path}  # validation refuses cycles; never loop
            body = spec.hashed if spec.hashed is not None else spec.job
            made[name] = SpecHashes(body, project_urn=project_urn, rerun=spec.rerun, needs=upstream or None)
        return made[name]

    for spec in desired:
        make(spec.name, frozenset())
    return made


def needs_closure(names: Sequence[str], desired: Sequence[JobSpec]) -> set[str]:
    """``names`` and everything they need, directly or not."""
    needs = resolve_needs(desired)
    found, todo = set(names), list(names)
    while todo:
        for need in needs.get(todo.pop(), ()):
            if need not in found:
                found.add(need)
                todo.append(need)
    return found


def gate(entries: Sequence[PlanEntry], desired: Sequence[JobSpec], *, context: Mapping[str, PlanEntry] = {},
         now: datetime | None = None, max_active: int | None = None) -> list[PlanEntry]:
    """The entries with workflow options applied (module docstring). ``context`` holds the decisions for jobs
    needed by ``entries`` but outside them (a narrowed plan); ``now`` is GPULab's clock (a retry's delay)."""
    gated = {entry.name: _retry(entry, now) for entry in entries}
    needs = resolve_needs(desired) if any(spec.workflow.needs for spec in desired) else {}
    if needs:
        known = {**{name: _retry(entry, now) for name, entry in context.items()}, **gated}
        for name in _upstream_first(needs, known):
            if name in gated:
                gated[name] = known[name] = _wait_for_needs(gated[name], needs.get(name, ()), known)
    result = [gated[entry.name] for entry in entries]
    result = _fail_fast(result)
    result = _max_parallel(result)
    return _max_active(result, max_active) if max_active is not None else result


def _retry(entry: PlanEntry, now: datetime | None) -> PlanEntry:
    """A FAILED current run of the desired spec: retry it, wait for the delay, or say every retry is used."""
    spec, current = entry.desired, entry.current
    if spec is None or current is None or entry.action is not Action.NONE or entry.reason is not Reason.FAILED:
        return entry
    retries = spec.workflow.retries
    if not retries:
        return entry
    marker = parse_marker(current.description)
    attempt = marker.attempt if marker is not None else 1
    if attempt > retries:
        return replace(entry, reason=Reason.EXHAUSTED, retries=retries, attempt=attempt)
    ended = ended_at(current)
    due = ended + timedelta(seconds=spec.workflow.retry_delay) if ended is not None else None
    retry = replace(entry, reason=Reason.RETRY, attempt=attempt + 1, retries=retries)
    if spec.workflow.retry_delay and now is not None and due is not None and now < due:
        return replace(retry, action=Action.WAIT, then=Action.CREATE,
                       waits_for=(("retry delay", _duration(due - now)),))
    return replace(retry, action=Action.CREATE)


def _wait_for_needs(entry: PlanEntry, needs: Sequence[str], known: Mapping[str, PlanEntry]) -> PlanEntry:
    """Hold back a submission until every need FINISHED (``when: always``: ended); blocked when one cannot."""
    then = entry.then if entry.action is Action.WAIT else entry.action
    if then not in _SUBMITS or entry.desired is None or not needs:
        return entry
    always = entry.desired.workflow.always
    waiting: list[tuple[str, str]] = []
    blocked: list[tuple[str, str]] = []
    for need in needs:
        upstream = known.get(need)
        if upstream is None:
            continue  # not desired any more: validation refuses this, a plan of other files may not
        state = _state(upstream)
        if upstream.action is Action.NONE and (upstream.reason is Reason.FINISHED
                                               or (always and upstream.reason in _ENDED)):
            continue
        if upstream.action is Action.NONE and upstream.reason in _STUCK:
            blocked.append((need, state))
        else:
            waiting.append((need, state))
    sweeps = {need for need in entry.desired.workflow.needs if need not in known}
    if blocked:
        return replace(entry, action=Action.NONE, reason=Reason.BLOCKED, then=then, cancel=(),
                       waits_for=_by_sweep(blocked, known, sweeps))
    if waiting:
        return replace(entry, action=Action.WAIT, reason=Reason.WAITING, then=then, cancel=(),
                       waits_for=_by_sweep(waiting, known, sweeps))
    return entry


def _by_sweep(states: Sequence[tuple[str, str]], known: Mapping[str, PlanEntry],
              sweeps: set[str]) -> tuple[tuple[str, str], ...]:
    """Members of a sweep the job needs by the sweep's name, as one pair: ``("train", "4 RUNNING, 2 QUEUED")``."""
    grouped: dict[str, list[str]] = {}
    result: list[tuple[str, str]] = []
    for need, state in states:
        member = known[need].desired
        sweep = member.sweep if member is not None else None
        if sweep is not None and sweep in sweeps:
            if sweep not in grouped:
                grouped[sweep] = []
                result.append((sweep, ""))
            grouped[sweep].append(state)
        else:
            result.append((need, state))
    return tuple((name, ", ".join(f"{count} {state}" for state, count in Counter(grouped[name]).items())
                  if name in grouped else state) for name, state in result)


def _state(entry: PlanEntry) -> str:
    """A need's state as the report shows it: its current run's status, or what the plan does with it."""
    if entry.action in _SUBMITS:
        return "to be submitted"
    if entry.action is Action.WAIT:
        return "waiting"
    if entry.reason is Reason.BLOCKED:
        return "blocked"
    if entry.reason is Reason.EXHAUSTED:
        return "FAILED, retries used"
    if entry.current is not None:
        return entry.current.status.name
    return entry.reason.value


def _fail_fast(entries: list[PlanEntry]) -> list[PlanEntry]:
    """No further member of a fail-fast sweep once one failed for good; running members are left alone."""
    failed: dict[str, str] = {}
    for entry in entries:
        spec = entry.desired
        if spec is not None and spec.sweep is not None and spec.workflow.fail_fast and \
                entry.reason in (Reason.FAILED, Reason.EXHAUSTED) and spec.sweep not in failed:
            failed[spec.sweep] = entry.name
    if not failed:
        return entries
    result = []
    for entry in entries:
        sweep = entry.desired.sweep if entry.desired is not None else None
        then = entry.then if entry.action is Action.WAIT else entry.action
        if sweep in failed and then in _SUBMITS:
            entry = replace(entry, action=Action.NONE, reason=Reason.BLOCKED, then=then, cancel=(),
                            waits_for=((failed[sweep], "FAILED (fail-fast)"),))
        result.append(entry)
    return result


def _max_parallel(entries: list[PlanEntry]) -> list[PlanEntry]:
    """Per sweep with ``max-parallel: K``, at most K members active: creates beyond the free slots wait."""
    caps = {e.desired.sweep: e.desired.workflow.max_parallel for e in entries
            if e.desired is not None and e.desired.sweep is not None and e.desired.workflow.max_parallel}
    if not caps:
        return entries
    result = list(entries)
    for sweep, cap in caps.items():
        members = [i for i, e in enumerate(result) if e.desired is not None and e.desired.sweep == sweep]
        result = _throttle(result, members, cap, f"max-parallel {cap} of sweep {sweep}")
    return result


def _max_active(entries: list[PlanEntry], cap: int) -> list[PlanEntry]:
    """The set's ``max-active``: at most this many of its jobs active, whatever sweep or file."""
    return _throttle(entries, list(range(len(entries))), cap, f"max-active {cap} of the set")


def _throttle(entries: list[PlanEntry], among: Sequence[int], cap: int, why: str) -> list[PlanEntry]:
    """Creates among ``among`` (in natural name order) beyond ``cap`` minus the jobs active after this apply wait."""
    active = sum(1 for i in among if _active_after(entries[i]))
    creates = sorted((i for i in among if entries[i].action is Action.CREATE),
                     key=lambda i: _natural(entries[i].name))
    free = max(0, cap - active)
    result = list(entries)
    for i in creates[free:]:
        result[i] = replace(entries[i], action=Action.WAIT, then=Action.CREATE,
                            reason=entries[i].reason if entries[i].reason is Reason.RETRY else Reason.THROTTLED,
                            waits_for=((why, f"{active + free} active"),))
    return result


def _active_after(entry: PlanEntry) -> bool:
    """Whether the name has an active job of the set once this apply is done (a replacement counts once)."""
    if entry.action is Action.CANCEL and entry.reason is not Reason.DUPLICATE:
        return False
    return entry.action is Action.REPLACE or (entry.current is not None and entry.current.status.is_active
                                              and entry.reason is not Reason.UNMANAGED)


def _upstream_first(needs: Mapping[str, Sequence[str]], names: Mapping[str, PlanEntry]) -> list[str]:
    """``names`` ordered so that each comes after what it needs (cycles, which validation refuses, are cut)."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str, path: frozenset[str]) -> None:
        if name in seen or name in path:
            return
        for need in needs.get(name, ()):
            visit(need, path | {name})
        seen.add(name)
        order.append(name)

    for name in sorted(names):
        visit(name, frozenset())
    return order


def _natural(name: str) -> list[object]:
    """``sweep-2`` before ``sweep-10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _duration(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    return f"in {seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"in {seconds} s"
