"""The plan: what apply would do, decided by name from the desired jobs and one remote listing (docs/plan-apply.md#plan-what-happens-to-each-name).

:func:`build_plan` is pure: no I/O, no clock. Decisions use the spec hash in each job's ownership marker
(:mod:`gpulab_apply.reconcile.marker`), never a field-by-field comparison, so server-side normalisation cannot cause
phantom changes; field differences are computed only to *show* why something changes.

How one name is decided (the table in docs/plan-apply.md):

* jobs of this set that are still active decide first: one with the desired spec is kept (the oldest; the
  others are duplicates and get cancelled); none with it means *replace* (cancel them all, then create);
* otherwise, if the newest job with the name is not this set's (submitted by hand, or another set's), the
  name is *unmanaged*: nothing happens, and never to that job;
* otherwise a run of this set with the desired spec that FINISHED means done, whatever came after it;
* otherwise the newest job of this set is final: a changed spec (or rerun token) creates a new run, an
  unchanged one is left alone (failed/cancelled/halted rerun only with ``--rerun-failed``). Duplicates
  cancelled while a race converged are never the newest run (:mod:`gpulab_apply.reconcile.runs`);
* the project is compared apart from the spec: a job of this set in another project than the file names is
  not a run of it (moving a job is a change), and jobs not of this set count only in the desired project;
* a name that is no longer desired has its active jobs of this set cancelled;
* protection (``protect: true`` in the file, or ``protect`` in a remote marker) blocks any cancel or replace
  unless the name is in ``cancel_protected``.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from gpulab_apply.jobmodel.status import JobStatus
from gpulab_apply.model import JobSpec, RemoteJob, parse_timestamp
from gpulab_apply.order import natural_key
from gpulab_apply.reconcile.adoption import adopted_marker, adoption_warning
from gpulab_apply.reconcile.cost import plan_cost
from gpulab_apply.reconcile.diff import FieldDiff, field_diffs
from gpulab_apply.reconcile.marker import Marker, SpecHashes, manages, parse_marker
from gpulab_apply.reconcile.plan import (
    WORKING_STATUSES,
    Action,
    Plan,
    PlanEntry,
    PlanOptions,
    Reason,
    Summary,
)
from gpulab_apply.reconcile.runs import age_key, cancelled_duplicates, desired_project, in_project, is_run_of
from gpulab_apply.reconcile.workflow import gate, needs_closure, spec_hashes
from gpulab_apply.selectors import names_match

# the plan's data types live in reconcile/plan.py; they are re-exported here for the modules that plan
__all__ = ["WORKING_STATUSES", "Action", "FieldDiff", "Plan", "PlanEntry", "PlanOptions", "Reason", "Summary", "age_key",
           "build_plan", "desired_hashes", "desired_spec_hash", "remote_fingerprint"]


_FINAL_REASON = {
    JobStatus.FAILED: Reason.FAILED,
    JobStatus.CANCELLED: Reason.CANCELLED,
    JobStatus.HALTED: Reason.HALTED,
    JobStatus.DELETED: Reason.DELETED,
}

def build_plan(desired: Sequence[JobSpec], remote: Sequence[RemoteJob], *, set_name: str,
               options: PlanOptions, now: datetime | None = None, outside: Sequence[JobSpec] = ()) -> Plan:
    """Decide, for every desired name and every name with active jobs of this set, what apply does.

    ``now`` (GPULab's clock) only measures the running work cancellations lose; None: not counted.
    """
    # the jobs of the job root outside a narrowed plan that its jobs need: their specs enter the needing jobs'
    # spec hashes, and they gate them, but the plan never acts on them (docs/workflows.md#dependencies)
    every_job = [*desired, *outside]
    targets = _with_sweeps(options.targets, desired)
    desired = [spec for spec in desired if _targeted(spec.name, targets) or _targeted_sweep(spec, options.targets)]
    # a narrowed plan still reads the jobs its jobs need (docs/workflows.md#dependencies)
    context_names = needs_closure([spec.name for spec in desired], every_job) - {spec.name for spec in desired}
    # narrowed to part of the job root: the names it defines are the plan's, the rest of the set is left alone
    selected = {spec.name for spec in desired} if options.narrowed_to else None
    by_name: dict[str, list[RemoteJob]] = defaultdict(list)
    markers: dict[str, Marker | None] = {}
    for job in remote:
        if (_targeted(job.name, targets) and (selected is None or job.name in selected)) or job.name in context_names:
            by_name[job.name].append(job)
            markers[job.uuid] = parse_marker(job.description)
    adoption_warnings = _adopt(every_job, by_name, markers, set_name=set_name, options=options)
    owned = frozenset(job.uuid for jobs in by_name.values() for job in jobs
                      if manages(markers.get(job.uuid), job.owner, set_name=set_name, user_urn=options.user_urn))
    decider = _Decider(set_name=set_name, options=options, markers=markers, owned=owned,
                       hashes=spec_hashes(every_job, options.project_urn))

    entries = [decider.desired_entry(spec, by_name.get(spec.name, [])) for spec in desired]
    context = {spec.name: decider.desired_entry(spec, by_name.get(spec.name, []))
               for spec in every_job if spec.name in context_names}
    desired_names = {spec.name for spec in desired}
    for name, jobs in by_name.items():
        if name not in desired_names and name not in context_names \
                and (entry := decider.removed_entry(name, jobs)) is not None:
            entries.append(entry)
    entries = gate(entries, every_job, context=context, now=now, max_active=options.max_active)
    entries = _with_diffs(entries, options)
    entries.sort(key=lambda entry: natural_key(entry.name))

    relevant = [job for name, jobs in by_name.items() for job in jobs
                if name in desired_names or name in context_names or decider.ours(job)]
    return Plan(
        set_name=set_name,
        entries=tuple(entries),
        options=options,
        remote_fingerprint=remote_fingerprint(relevant, markers),
        desired_count=len(desired),
        managed_active_count=sum(1 for job in relevant if decider.ours(job) and job.status.is_active),
        warnings=(*adoption_warnings, *_ownership_warnings(entries, decider), *_expired_warnings(entries, now)),
        cost=plan_cost((e.desired for e in entries if e.desired and e.action in (Action.CREATE, Action.REPLACE)),
                       (job for e in entries for job in e.cancel if job.status in WORKING_STATUSES), now),
        waiting_cost=plan_cost((e.desired for e in entries if e.desired and e.action is Action.WAIT), (), now),
    )


def _adopt(desired: Sequence[JobSpec], by_name: Mapping[str, Sequence[RemoteJob]], markers: dict[str, Marker | None],
           *, set_name: str, options: PlanOptions) -> list[str]:
    """Give each adopted job a marker of this set (docs/authoring.md#import-and-adoption): only an unmarked job
    with the file's name that belongs to this user, so a file can never take over another set's or another
    person's job. Its spec is the file's only when the file gives the job that runs (:func:`adopted_marker`).
    Returns the warnings about old adoptions kept although they differ."""
    warnings = []
    for spec in desired:
        if spec.adopt is None:
            continue
        for job in by_name.get(spec.name, ()):
            if (job.uuid.lower() == spec.adopt[0] and markers.get(job.uuid) is None
                    and (options.user_urn is None or job.owner.get("userUrn") == options.user_urn)):
                markers[job.uuid] = adopted_marker(spec, job, set_name=set_name,
                                                   hashes=desired_hashes(spec, options.project_urn))
                if (warning := adoption_warning(spec, job)) is not None:
                    warnings.append(warning)
    return warnings


def _expired_warnings(entries: Sequence[PlanEntry], now: datetime | None) -> Iterable[str]:
    """Jobs the plan submits whose ``scheduling.notAfter`` has passed: GPULab fails a job still queued at its
    notAfter (docs/plan-apply.md#warnings), so each would fail at once, a run spent for nothing."""
    if now is None:
        return
    expired = [entry.name for entry in entries
               if entry.desired is not None and entry.action in (Action.CREATE, Action.REPLACE)
               and (not_after := _not_after(entry.desired)) is not None and not_after <= now]
    if expired:
        named = ", ".join(expired[:5]) + (f" and {len(expired) - 5} more" if len(expired) > 5 else "")
        yield (f"scheduling.notAfter has passed on GPULab's clock for {named}: GPULab fails a job still queued at "
               "its notAfter, so submitting would fail at once; move notAfter later or remove it")


def _not_after(spec: JobSpec) -> datetime | None:
    scheduling = spec.job.get("request", {}).get("scheduling") or {}
    return parse_timestamp(scheduling.get("notAfter"))


def _ownership_warnings(entries: Sequence[PlanEntry], decider: _Decider) -> Iterable[str]:
    """Say loudly when the desired names live in another set of this user, or other users share the set."""
    elsewhere: dict[str, int] = defaultdict(int)
    for entry in entries:
        if entry.reason is Reason.UNMANAGED and entry.current is not None and decider.mine(entry.current):
            marker = decider.markers.get(entry.current.uuid)
            if marker is not None:
                elsewhere[marker.set_name] += 1
    for other, count in sorted(elsewhere.items(), key=lambda item: (-item[1], item[0])):
        yield (f"{count} desired job(s) already run as your jobs of set {other!r}, not {decider.set_name!r}: "
               f"did you mean --set {other}? (pin it with `set: {other}` in gpulab-apply.yaml)")
    others = sorted({str(job.owner.get("userUrn") or "?") for entry in entries for job in entry.others})
    if others:
        count = sum(len(entry.others) for entry in entries)
        yield (f"{count} job(s) with set {decider.set_name!r} belong to other users ({', '.join(others)}): they "
               "are left alone and never count as in sync; choose another --set to tell the sets apart")


def desired_spec_hash(spec: JobSpec, project_urn: str | None) -> str:
    """The spec hash a desired job gets when submitted (with ``--project`` ``project_urn``, which since marker
    version 2 does not enter the hash)."""
    return desired_hashes(spec, project_urn).current


def desired_hashes(spec: JobSpec, project_urn: str | None) -> SpecHashes:
    """Every spec hash a job submitted from ``spec`` may carry, by marker version; ``${VAR}`` values from the
    environment never enter it, only the reference (docs/authoring.md)."""
    body = spec.hashed if spec.hashed is not None else spec.job
    return SpecHashes(body, project_urn=project_urn, rerun=spec.rerun)


def remote_fingerprint(jobs: Iterable[RemoteJob], markers: Mapping[str, Marker | None]) -> str:
    """Hash of the sorted (uuid, status, spec) of the jobs a plan depends on: any change makes a plan stale."""
    rows = sorted(
        (job.uuid, job.status.name, marker.spec if (marker := markers.get(job.uuid)) else "") for job in jobs
    )
    return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()[:32]


def _targeted(name: str, targets: tuple[str, ...]) -> bool:
    return not targets or any(names_match(selector, name) for selector in targets)


def _targeted_sweep(spec: JobSpec, targets: tuple[str, ...]) -> bool:
    return bool(targets) and spec.sweep is not None and _targeted(spec.sweep, targets)


def _with_sweeps(targets: tuple[str, ...], desired: Sequence[JobSpec]) -> tuple[str, ...]:
    """``--target train`` names the sweep ``train`` too: its members, and remote jobs named ``train-*`` (a
    member removed from the matrix has no file left to say it was one)."""
    sweeps = {spec.sweep for spec in desired if spec.sweep is not None}
    extra = tuple(f"{sweep}-*" for sweep in sorted(sweeps) if any(names_match(selector, sweep) for selector in targets))
    return targets + extra if targets else targets


@dataclass(frozen=True, kw_only=True)
class _Decider:
    set_name: str
    options: PlanOptions
    markers: Mapping[str, Marker | None]
    #: uuids of the jobs that are this set's and this user's (:func:`manages`), decided once per job
    owned: frozenset[str]
    #: every desired job's spec hashes (with its needs' hashes: :func:`spec_hashes`)
    hashes: Mapping[str, SpecHashes]

    def ours(self, job: RemoteJob) -> bool:
        """This set's and this user's: the only jobs apply may cancel (docs/plan-apply.md#ownership)."""
        return job.uuid in self.owned

    def foreign(self, job: RemoteJob) -> bool:
        """This set's marker, another user's job."""
        marker = self.markers.get(job.uuid)
        return marker is not None and marker.set_name == self.set_name and not self.ours(job)

    def mine(self, job: RemoteJob) -> bool:
        """Submitted by this user (any set, or by hand)."""
        return self.options.user_urn is not None and job.owner.get("userUrn") == self.options.user_urn

    def carries(self, job: RemoteJob, hashes: SpecHashes, project: str | None) -> bool:
        """Whether the job was submitted from the desired job with these hashes, in ``project``."""
        return is_run_of(job, self.markers.get(job.uuid), hashes, project)

    def desired_entry(self, spec: JobSpec, jobs: Sequence[RemoteJob]) -> PlanEntry:
        others = tuple(job for job in jobs if self.foreign(job))
        entry = self._decide(spec, [job for job in jobs if not self.foreign(job)] if others else jobs)
        return replace(entry, others=others) if others else entry

    def _decide(self, spec: JobSpec, jobs: Sequence[RemoteJob]) -> PlanEntry:
        hashes = self.hashes.get(spec.name) or desired_hashes(spec, self.options.project_urn)
        project = desired_project(spec, self.options.project_urn)
        # another project's job that is not this set's is another job that shares the name, not this one
        jobs = [job for job in jobs if self.ours(job) or in_project(job, project)]
        cancelled_twins = cancelled_duplicates((job for job in jobs if self.ours(job)), self.markers)

        def entry(action: Action, reason: Reason, *, current: RemoteJob | None = None,
                  cancel: tuple[RemoteJob, ...] = (), note: str | None = None) -> PlanEntry:
            return PlanEntry(name=spec.name, action=action, reason=reason, desired=spec, spec=hashes.current,
                             hashes=hashes, current=current, cancel=cancel, note=note)

        if not jobs:
            # no evidence yet that the name is new: Plan.with_evidence clears this for proven files
            return replace(entry(Action.CREATE, Reason.NEW), unseen=self.options.window_hours is not None)
        active = sorted((job for job in jobs if self.ours(job) and job.status.is_active), key=age_key)
        newest = max((job for job in jobs if job.uuid not in cancelled_twins), key=age_key)
        if active:
            same = [job for job in active if self.carries(job, hashes, project)]
            if same:
                duplicates = tuple(job for job in active if job is not same[0])
                if not duplicates:
                    return entry(Action.NONE, Reason.IN_SYNC, current=same[0])
                return self._guarded(entry(Action.CANCEL, Reason.DUPLICATE, current=same[0], cancel=duplicates))
            return self._guarded(entry(Action.REPLACE, Reason.CHANGED, current=active[-1], cancel=tuple(active)))
        if not self.ours(newest):
            marker = self.markers.get(newest.uuid)
            note = f"managed by set {marker.set_name}" if marker else "not submitted by gpulab-apply"
            return entry(Action.NONE, Reason.UNMANAGED, current=newest, note=note)
        finished = [job for job in jobs if job.status is JobStatus.FINISHED and self.ours(job)
                    and self.carries(job, hashes, project)]
        if finished:  # the experiment is done, whatever came after it (a cancelled duplicate, a failed rerun)
            return entry(Action.NONE, Reason.FINISHED, current=max(finished, key=age_key))
        if not self.carries(newest, hashes, project):
            return entry(Action.CREATE, Reason.CHANGED, current=newest)
        if self.options.rerun_failed:
            return entry(Action.CREATE, Reason.RERUN_FAILED, current=newest)
        return entry(Action.NONE, _FINAL_REASON.get(newest.status, Reason.FAILED), current=newest)

    def removed_entry(self, name: str, jobs: Sequence[RemoteJob]) -> PlanEntry | None:
        active = sorted((job for job in jobs if self.ours(job) and job.status.is_active), key=age_key)
        if not active:
            return None  # history is kept
        return self._guarded(PlanEntry(name=name, action=Action.CANCEL, reason=Reason.REMOVED,
                                       current=active[-1], cancel=tuple(active)))

    def _guarded(self, entry: PlanEntry) -> PlanEntry:
        """The entry, or a blocked no-op when it would cancel a protected job."""
        protected = (entry.desired is not None and entry.desired.protect) or any(
            (marker := self.markers.get(job.uuid)) is not None and marker.protect for job in entry.cancel)
        if not protected or entry.name in self.options.cancel_protected:
            return entry
        return PlanEntry(name=entry.name, action=Action.NONE, reason=Reason.PROTECTED, desired=entry.desired,
                         spec=entry.spec, hashes=entry.hashes, current=entry.current, blocked=entry.action,
                         held=entry.cancel)


def _shows_diffs(entry: PlanEntry) -> bool:
    """Whether the entry explains itself with field differences: a changed or unmanaged desired job."""
    if entry.desired is None or entry.current is None:
        return False
    return entry.reason in (Reason.CHANGED, Reason.UNMANAGED) or (
        entry.reason is Reason.PROTECTED and entry.blocked is Action.REPLACE)


def _with_diffs(entries: list[PlanEntry], options: PlanOptions) -> list[PlanEntry]:
    """The entries, those that show differences with their field diffs filled in."""
    wanted = [index for index, entry in enumerate(entries) if _shows_diffs(entry)]
    if not wanted:
        return entries
    pairs: list[tuple[JobSpec, RemoteJob]] = []
    for index in wanted:
        desired, current = entries[index].desired, entries[index].current
        assert desired is not None and current is not None  # as _shows_diffs checked
        pairs.append((desired, current))
    for index, diffs in zip(wanted, field_diffs(pairs, project_urn=options.project_urn), strict=True):
        entries[index] = replace(entries[index], diffs=diffs)
    return entries
