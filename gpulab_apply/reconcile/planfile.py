"""Saved plans (``plan --out FILE``, ``apply FILE``): what was decided, so exactly that is applied (docs/plan-format.md).

A plan file holds no job bodies: the job directories, the options and the decisions that change something.
Names are written masked (a name built from ``${VAR}`` shows ``***`` where the value was, docs/security.md), so
decisions are matched by masked name, several names that mask alike as one group. ``apply FILE`` plans again from the same directories and proceeds if and only if every
decision is the same (the same action, spec and jobs to cancel, for the same names); otherwise it refuses
and names the jobs whose decision changed. Other changes on GPULab (a job moving RUNNING -> FINISHED that no
decision depends on) do not make a plan stale. Fingerprints of the remote and desired state are recorded
for people and tools, not checked.

``show FILE`` prints a plan file in any format (docs/plan-format.md#show): for that, each decision also records
where its job is written, its sweep and why (as the plan said it), and the file the summary and warnings.
They were added within format 2: files without them are read as before, and show what they hold.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from gpulab_apply import __version__
from gpulab_apply.errors import ConfigError, StalePlanError
from gpulab_apply.masking import NO_SECRETS, Secrets
from gpulab_apply.model import format_timestamp
from gpulab_apply.reconcile.planner import Plan, PlanEntry, PlanOptions

FORMAT_VERSION = 2
#: how many changed names a stale-plan message lists before counting the rest
_NAMED = 10
#: the first bytes of every plan file, so apply can tell a plan file from a job directory
KIND = "gpulab-apply-plan"


@dataclass(frozen=True, kw_only=True)
class SavedPlan:
    """A plan file as read back."""

    set_name: str
    #: ``local`` or the API root, without credentials
    endpoint: str
    #: the API version it was planned with (None in files written before it was recorded)
    api_version: str | None
    #: the job paths it was made from, relative to the workspace root (docs/plan-format.md)
    paths: tuple[str, ...]
    options: PlanOptions
    created: str
    remote_fingerprint: str
    desired_fingerprint: str
    actions: tuple[Mapping[str, Any], ...]
    #: the tool that wrote it
    tool_version: str | None = None
    #: the plan's counts (``create``, ``replace``, ``replaceRunning``, ...), None in files written before
    summary: Mapping[str, int] | None = None
    #: the plan's warnings, as it showed them
    warnings: tuple[str, ...] = ()


def desired_fingerprint(plan: Plan) -> str:
    """Hash of the desired names, spec hashes and protection the plan was made from."""
    rows = sorted((e.name, e.spec, e.desired.protect) for e in plan.entries if e.desired is not None and e.spec)
    return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()[:32]


def _action(entry: PlanEntry, secrets: Secrets) -> dict[str, Any]:
    return {
        "name": secrets.mask(entry.name),
        "action": entry.action.value,
        "reason": entry.reason.value,
        "spec": entry.spec,
        "current": entry.current.uuid if entry.current else None,
        "cancel": [job.uuid for job in entry.cancel],
    }


def _shown(entry: PlanEntry, secrets: Secrets, explain: Callable[[PlanEntry], str] | None) -> dict[str, Any]:
    """A decision as the file records it: what apply compares (:func:`_action`), and for ``show`` where the job
    is written, its sweep and why."""
    desired = entry.desired
    where = desired.location if desired is not None else None
    return {**_action(entry, secrets),
            "sweep": desired.sweep if desired is not None else None,
            "work_lost": entry.work_lost,
            "location": None if where is None else {"file": where.path, "line": where.line, "column": where.column},
            **({"why": explain(entry)} if explain is not None else {})}


def without_credentials(endpoint: str) -> str:
    """The endpoint without ``user:password@`` (a plan file is shared as a CI artifact; it must hold no secret)."""
    parts = urlsplit(endpoint)
    if "@" not in parts.netloc:
        return endpoint
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def dump_plan(plan: Plan, *, endpoint: str, paths: Sequence[str], created: datetime,
              api_version: str | None = None, secrets: Secrets = NO_SECRETS,
              explain: Callable[[PlanEntry], str] | None = None) -> str:
    """The plan file's text (JSON), with ``secrets`` masked: a file may end up anywhere (a CI artifact).
    ``explain``: why each decision, in the words the plan showed it with (recorded for ``show``)."""
    summary = plan.summary
    document = {
        "kind": KIND,
        "format_version": FORMAT_VERSION,
        "tool_version": __version__,
        "created": format_timestamp(created),
        "set": plan.set_name,
        "endpoint": without_credentials(endpoint),
        "api_version": api_version,
        "paths": list(paths),
        "options": {
            "project_urn": plan.options.project_urn,
            "rerun_failed": plan.options.rerun_failed,
            "targets": list(plan.options.targets),
            "cancel_protected": sorted(plan.options.cancel_protected),
            "narrowed_to": list(plan.options.narrowed_to),
        },
        "remote_fingerprint": plan.remote_fingerprint,
        "desired_fingerprint": desired_fingerprint(plan),
        "actions": [_shown(entry, secrets, explain) for entry in plan.entries if entry.has_changes],
        "summary": {"create": summary.create, "replace": summary.replace, "replaceRunning": summary.replace_running,
                    "cancel": summary.cancel, "cancelRunning": summary.cancel_running,
                    "unchanged": summary.unchanged, "blocked": summary.blocked, "unmanaged": summary.unmanaged},
        "warnings": list(plan.warnings),
    }
    return secrets.mask(json.dumps(document, indent=2, ensure_ascii=False)) + "\n"


def is_plan_file(path: Path) -> bool:
    """Whether ``path`` is a plan file (a regular file whose JSON says so), not a job directory or file."""
    if not path.is_file() or path.suffix.lower() in (".yaml", ".yml"):
        return False
    try:
        with path.open("rb") as stream:
            head = stream.read(200)
    except OSError:
        return False
    return KIND.encode() in head


def load_plan(path: Path) -> SavedPlan:
    """Read a plan file; a file this version cannot read is a :class:`ConfigError` saying why."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read plan file {path}: {exc}", hint="make it with `gpulab-apply plan --out FILE`") \
            from exc
    if not isinstance(document, dict) or document.get("kind") != KIND:
        raise ConfigError(f"{path} is not a gpulab-apply plan file")
    if document.get("format_version") != FORMAT_VERSION:
        raise ConfigError(
            f"{path} has plan format {document.get('format_version')!r}; this version reads {FORMAT_VERSION}",
            hint="make the plan again with this version of gpulab-apply",
        )
    try:
        options = document["options"]
        return SavedPlan(
            set_name=str(document["set"]),
            endpoint=without_credentials(str(document["endpoint"])),
            api_version=str(document["api_version"]) if document.get("api_version") else None,
            paths=tuple(str(p) for p in document["paths"]),
            options=PlanOptions(project_urn=options["project_urn"], rerun_failed=bool(options["rerun_failed"]),
                                targets=tuple(options["targets"]),
                                cancel_protected=frozenset(options["cancel_protected"]),
                                # plan files made before narrowing existed planned the whole set
                                narrowed_to=tuple(str(p) for p in options.get("narrowed_to") or ())),
            created=str(document["created"]),
            remote_fingerprint=str(document["remote_fingerprint"]),
            desired_fingerprint=str(document["desired_fingerprint"]),
            actions=tuple(document["actions"]),
            tool_version=str(document["tool_version"]) if document.get("tool_version") else None,
            summary=_counts(document.get("summary")),
            warnings=tuple(str(warning) for warning in document.get("warnings") or ()),
        )
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"plan file {path} is incomplete (missing {exc})",
                          hint="make it again with `gpulab-apply plan --out FILE`") from exc


def _counts(value: Any) -> dict[str, int] | None:
    """The recorded summary, None when the file has none (or one this version cannot read)."""
    if not isinstance(value, Mapping):
        return None
    return {str(key): count for key, count in value.items() if isinstance(count, int) and not isinstance(count, bool)}


def check_fresh(saved: SavedPlan, plan: Plan, *, endpoint: str, secrets: Secrets = NO_SECRETS) -> None:
    """Refuse (:class:`StalePlanError`) unless ``plan``, made now, decides what was saved, naming what changed.
    ``secrets`` mask the names of ``plan`` as they were masked in the file."""
    endpoint = without_credentials(endpoint)
    if saved.endpoint != endpoint or saved.set_name != plan.set_name:
        raise StalePlanError(
            f"the plan was made for set {saved.set_name!r} at {saved.endpoint}, not set {plan.set_name!r} at "
            f"{endpoint}", hint="apply it with the same --endpoint and --set it was made with")
    then = _by_name(saved.actions)
    now = _by_name([_action(entry, secrets) for entry in plan.entries if entry.has_changes])
    changed = sorted(name for name in then.keys() | now.keys() if then.get(name) != now.get(name))
    if not changed:
        return
    shown = [f"{name} ({_describe(then.get(name))} -> {_describe(now.get(name))})" for name in changed[:_NAMED]]
    more = f" and {len(changed) - _NAMED} more" if len(changed) > _NAMED else ""
    raise StalePlanError(
        f"the plan made {saved.created} no longer holds: the decision changed for {len(changed)} job(s): "
        f"{', '.join(shown)}{more}",
        hint="run `gpulab-apply plan --out FILE` again, review it, and apply the new file")


_Decision = tuple[str, str | None, tuple[str, ...]]


def _by_name(actions: Sequence[Mapping[str, Any]]) -> dict[str, list[_Decision]]:
    """The decisions per (masked) name, in a fixed order: names that mask alike are compared as a group."""
    grouped: dict[str, list[_Decision]] = {}
    for action in actions:
        grouped.setdefault(str(action["name"]), []).append(_decision(action))
    return {name: sorted(decisions, key=repr) for name, decisions in grouped.items()}


def _decision(action: Mapping[str, Any]) -> _Decision:
    """What a decision does: its action, the spec it submits and the jobs it cancels (not why, nor which
    remote job it was compared with)."""
    return str(action["action"]), action.get("spec"), tuple(sorted(action.get("cancel") or ()))


def _describe(decisions: list[_Decision] | None) -> str:
    return "; ".join(map(_describe_one, decisions)) if decisions else "nothing"


def _describe_one(decision: _Decision) -> str:
    action, spec, cancel = decision
    parts = [action] + ([f"spec {spec}"] if spec and action != "cancel" else [])
    if cancel:
        parts.append("cancelling " + ", ".join(uuid[:8] for uuid in cancel))
    return " ".join(parts)
