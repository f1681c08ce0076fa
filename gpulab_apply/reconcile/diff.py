"""Field differences between a desired job and a remote one: shown to explain a plan, never decided on.

The planner decides by spec hash (:mod:`gpulab_apply.reconcile.marker`); this module only answers "which
fields differ", after bringing both sides to the form GPULab returns (:func:`normal_request`) and dropping
what the server fills in that the file does not set (docs/plan-apply.md#plan-what-happens-to-each-name).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gpulab_apply.jobmodel.normal_form import normal_request as gpulab_normal_request
from gpulab_apply.masking import mask_value
from gpulab_apply.model import JobSpec, RemoteJob
from gpulab_apply.problems import format_json_path
from gpulab_apply.reconcile.marker import with_owner

#: paths the server fills in when the user leaves them out ("*" matches any key)
_SERVER_FILLED = (
    ("request", "scheduling", "minDuration"),
    ("request", "scheduling", "maxDuration"),
    ("owner", "*"),
)


@dataclass(frozen=True)
class FieldDiff:
    """One field that differs between the remote job (``old``) and the desired job (``new``); masked."""

    path: str
    #: "changed", "added" (only desired has it) or "removed" (only the remote job has it)
    kind: str
    old: Any = None
    new: Any = None


#: pairs per DeepDiff call: its fixed cost per call dominated small batches, and its cost per top-level key
#: grows with the number of keys (a single call over 6,000 pairs took 4x as long as over 3,000)
_BATCH = 256


def field_diffs(pairs: Sequence[tuple[JobSpec, RemoteJob]], *,
                project_urn: str | None) -> list[tuple[FieldDiff, ...]]:
    """For each (desired, remote) pair, the masked field differences, server-filled fields ignored.

    Differing scalars and fields only one side has are reported directly; only lists that differ go to
    DeepDiff (which says which items changed), a batch of pairs per call.
    """
    found: list[list[FieldDiff]] = [[] for _ in pairs]
    lists: list[tuple[int, dict[tuple[str, ...], Any], dict[tuple[str, ...], Any]]] = []
    for position, (spec, remote) in enumerate(pairs):
        body = with_owner(spec.job, project_urn)
        desired = {"request": normal_request(body.get("request") or {}), "owner": dict(body.get("owner") or {})}
        current = {"request": normal_request(remote.request), "owner": dict(remote.owner)}
        old, new = _differing(_without_server_filled(current, desired, ()), desired)
        both_lists = {path for path in old.keys() & new.keys()
                      if isinstance(old[path], list) and isinstance(new[path], list)}
        found[position] += (_leaf(path, old, new) for path in old.keys() | new.keys() if path not in both_lists)
        if both_lists:
            lists.append((position, {p: old[p] for p in both_lists}, {p: new[p] for p in both_lists}))
    for start in range(0, len(lists), _BATCH):
        _diff_lists(lists[start:start + _BATCH], found)
    return [tuple(sorted(diffs, key=lambda diff: diff.path)) for diffs in found]


def _leaf(path: tuple[str, ...], old: Mapping[tuple[str, ...], Any], new: Mapping[tuple[str, ...], Any]) -> FieldDiff:
    """The difference at one field that is not a list on both sides: it changed, or one side lacks it."""
    label = "added" if path not in old else "removed" if path not in new else "changed"
    return FieldDiff(path=format_json_path(path), kind=label,
                     old=None if label == "added" else mask_value(old[path], path),
                     new=None if label == "removed" else mask_value(new[path], path))


def _diff_lists(batch: Sequence[tuple[int, dict[tuple[str, ...], Any], dict[tuple[str, ...], Any]]],
                found: list[list[FieldDiff]]) -> None:
    """Item-level differences of lists, for a batch of pairs in one DeepDiff call (keyed by position)."""
    from deepdiff import DeepDiff  # imported only when there is something to diff: it is slow to import

    current = {position: old for position, old, _ in batch}
    desired = {position: new for position, _, new in batch}
    # each call diffs small trees once: purging DeepDiff's cache as it goes is pure cost
    difference = DeepDiff(current, desired, view="tree", threshold_to_diff_deeper=0, cache_purge_level=0)
    for kind, levels in difference.items():
        for level in levels:
            position, field_path, *inside = level.path(output_format="list")
            path = (*field_path, *inside)
            label = "added" if kind.endswith("_added") else "removed" if kind.endswith("_removed") else "changed"
            found[position].append(FieldDiff(
                path=format_json_path(path),
                kind=label,
                old=None if label == "added" else mask_value(level.t1, path),
                new=None if label == "removed" else mask_value(level.t2, path),
            ))


def normal_request(request: Mapping[str, Any]) -> dict[str, Any]:
    """A request in the form GPULab returns it: GPULab's one normal form (:mod:`gpulab_apply.jobmodel.normal_form`).

    Applied to both sides before diffing; absent fields stay absent (the server fills its own defaults).
    """
    return gpulab_normal_request(json.loads(json.dumps(request)))  # a deep copy in plain JSON types


def _without_server_filled(remote: Any, desired: Any, path: tuple[str, ...]) -> Any:
    """``remote`` without the keys the user did not set and the server filled (defaults, empties)."""
    if not isinstance(remote, dict) or not isinstance(desired, dict):
        return remote
    kept = {}
    for key, value in remote.items():
        if key in desired:
            kept[key] = _without_server_filled(value, desired[key], (*path, key))
        elif not _server_filled((*path, key), value):
            kept[key] = value
    return kept


def _differing(current: Mapping[str, Any], desired: Mapping[str, Any],
               path: tuple[str, ...] = ()) -> tuple[dict[tuple[str, ...], Any], dict[tuple[str, ...], Any]]:
    """The fields whose values differ, keyed by their path, on each side.

    A mapping both sides have is walked; anything else (a scalar, a list, a mapping only one side has)
    is kept whole. DeepDiff's cost is per level it walks, so it gets one level of differing fields
    instead of whole jobs (a plan replacing hundreds of jobs spent most of its time there).
    """
    old: dict[tuple[str, ...], Any] = {}
    new: dict[tuple[str, ...], Any] = {}
    for key in current.keys() | desired.keys():
        here = (*path, key)
        if key not in desired:
            old[here] = current[key]
        elif key not in current:
            new[here] = desired[key]
        elif current[key] != desired[key]:
            if isinstance(current[key], Mapping) and isinstance(desired[key], Mapping):
                deeper_old, deeper_new = _differing(current[key], desired[key], here)
                old.update(deeper_old)
                new.update(deeper_new)
            else:
                old[here], new[here] = current[key], desired[key]
    return old, new


def _server_filled(path: tuple[str, ...], value: Any) -> bool:
    if len(path) > 3 and path[0] == "request":  # inside a field's value (an environment entry): data, never a default
        return False
    if value is None or value is False or value == [] or value == {}:
        return True
    if any(len(pattern) == len(path) and all(p in ("*", k) for p, k in zip(pattern, path, strict=True))
           for pattern in _SERVER_FILLED):
        return True
    return isinstance(value, dict) and all(_server_filled((*path, k), v) for k, v in value.items())
