"""Apply: carry out a plan against GPULab, safely, and verify the result (docs/plan-apply.md#apply).

Order: cancellations for replacements, then creations (in parallel, bounded), then removals. A POST that
may or may not have created a job is never retried blindly: the executor lists again and looks for this
run's marker first. Afterwards it lists once more and verifies that every desired name has exactly one
active or finished job with its spec; newer duplicates of this set (a concurrent apply) are cancelled, so two
racing applies converge on the same survivor. Nothing here prints: progress is a callback.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from gpulab_apply.errors import AmbiguousSubmitError, GpulabApplyError, GuardError, ServerError
from gpulab_apply.masking import mask_text
from gpulab_apply.model import JobStatus, RemoteJob
from gpulab_apply.reconcile.marker import Marker, manages, parse_marker, with_marker, with_owner
from gpulab_apply.reconcile.planner import Action, Plan, PlanEntry, age_key

DEFAULT_PARALLELISM = 8
DEFAULT_MAX_CANCEL = 10


class JobApi(Protocol):
    """What apply needs from a GPULab client (``gpulab_apply.gpulab.client.GpulabClient`` provides it)."""

    def list_jobs(self, *, project_urn: str | None = None) -> Sequence[RemoteJob]: ...

    def submit(self, job: Mapping[str, Any], *, hold: bool = False) -> str: ...

    def cancel(self, uuid: str) -> None: ...

    def get_job(self, uuid: str) -> RemoteJob: ...


@dataclass(frozen=True, kw_only=True)
class ApplyOptions:
    """How to apply. ``run_id`` goes into every submitted job's marker."""

    run_id: str
    parallelism: int = DEFAULT_PARALLELISM
    allow_empty: bool = False
    max_cancel: int = DEFAULT_MAX_CANCEL


class Result(StrEnum):
    """What happened to one name."""

    CREATED = "created"
    REPLACED = "replaced"
    CANCELLED = "cancelled"
    #: a newer duplicate of this set was cancelled during verification
    DEDUPLICATED = "deduplicated"
    FAILED = "failed"


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """The outcome for one name: which jobs were submitted and cancelled, and the error if it failed."""

    name: str
    result: Result
    action: Action
    created: str | None = None
    cancelled: tuple[str, ...] = ()
    #: a submission found by its marker after an ambiguous POST
    recovered: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.result is not Result.FAILED


@dataclass(frozen=True, kw_only=True)
class ApplyReport:
    """Every outcome, in name order, and the run id the submissions carry."""

    run_id: str
    set_name: str
    outcomes: tuple[Outcome, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return all(outcome.ok for outcome in self.outcomes)

    @property
    def changed(self) -> bool:
        return any(outcome.created or outcome.cancelled for outcome in self.outcomes)

    def count(self, result: Result) -> int:
        return sum(1 for outcome in self.outcomes if outcome.result is result)


Progress = Callable[[str], None]


def check_guards(plan: Plan, *, allow_empty: bool, max_cancel: int) -> None:
    """Refuse (exit 3) an empty desired set with managed jobs active, or too many cancellations."""
    if plan.desired_count == 0 and plan.managed_active_count and not allow_empty:
        raise GuardError(
            f"the desired set is empty but set {plan.set_name!r} has {plan.managed_active_count} active job(s); "
            "applying would cancel them all",
            hint="check the job directory (a moved folder, a bad --target?); pass --allow-empty if this is meant",
        )
    if plan.cancellations > max_cancel:
        raise GuardError(
            f"the plan cancels {plan.cancellations} jobs, more than --max-cancel {max_cancel}",
            hint=f"review the plan; pass --max-cancel {plan.cancellations} if this is meant",
        )


def planned_actions(plan: Plan) -> int:
    """How many remote calls (cancels and submissions) the plan makes: the length of a progress bar."""
    return sum(len(entry.cancel) + (entry.action in (Action.CREATE, Action.REPLACE)) for entry in plan.entries)


def execute(plan: Plan, api: JobApi, *, options: ApplyOptions, progress: Progress | None = None) -> ApplyReport:
    """Carry out ``plan`` (guards first, before any action) and verify; failures are outcomes, not exceptions."""
    check_guards(plan, allow_empty=options.allow_empty, max_cancel=options.max_cancel)
    run = _Run(plan=plan, api=api, options=options, progress=progress or (lambda _: None))
    with ThreadPoolExecutor(max_workers=max(1, options.parallelism)) as pool:
        replacing = [e for e in plan.entries if e.action is Action.REPLACE]
        cancelled = dict(zip((e.name for e in replacing), pool.map(run.cancel_all, replacing), strict=True))
        creating = [e for e in plan.entries if e.action is Action.CREATE
                    or (e.action is Action.REPLACE and cancelled[e.name].error is None)]
        outcomes = [cancelled[e.name] for e in replacing if cancelled[e.name].error is not None]
        outcomes += pool.map(lambda e: run.create(e, cancelled.get(e.name)), creating)
        outcomes += pool.map(run.cancel_all, [e for e in plan.entries if e.action is Action.CANCEL])
        outcomes += run.deduplicate(pool, outcomes)
    return ApplyReport(run_id=options.run_id, set_name=plan.set_name,
                       outcomes=tuple(sorted(outcomes, key=lambda o: (o.name, o.result is Result.DEDUPLICATED))))


@dataclass(frozen=True, kw_only=True)
class _Run:
    plan: Plan
    api: JobApi
    options: ApplyOptions
    progress: Progress

    def cancel_all(self, entry: PlanEntry) -> Outcome:
        done: list[str] = []
        for job in entry.cancel:
            try:
                self._cancel(job.uuid)
            except GpulabApplyError as exc:
                return Outcome(name=entry.name, result=Result.FAILED, action=entry.action, cancelled=tuple(done),
                               error=f"cancelling {job.uuid}: {mask_text(exc.message)}")
            done.append(job.uuid)
            self.progress(f"cancelled {entry.name}")
        return Outcome(name=entry.name, result=Result.CANCELLED, action=entry.action, cancelled=tuple(done))

    def _cancel(self, uuid: str) -> None:
        try:
            self.api.cancel(uuid)
        except ServerError:
            # a concurrent apply (or a person) may have ended it first: that is what we wanted
            if not self.api.get_job(uuid).status.is_final:
                raise

    def create(self, entry: PlanEntry, cancelled: Outcome | None) -> Outcome:
        assert entry.desired is not None and entry.spec is not None
        marker = Marker(set_name=self.plan.set_name, spec=entry.spec, run_id=self.options.run_id,
                        protect=entry.desired.protect)
        body = with_marker(with_owner(entry.desired.job, self.plan.options.project_urn), marker)
        done = cancelled.cancelled if cancelled else ()
        result = Result.REPLACED if entry.action is Action.REPLACE else Result.CREATED
        try:
            uuid, recovered = self._submit(entry.name, body, marker)
        except GpulabApplyError as exc:
            return Outcome(name=entry.name, result=Result.FAILED, action=entry.action, cancelled=done,
                           error=f"submitting: {mask_text(exc.message)}")
        self.progress(f"{result.value} {entry.name}")
        return Outcome(name=entry.name, result=result, action=entry.action, created=uuid, cancelled=done,
                       recovered=recovered)

    def _submit(self, name: str, body: Mapping[str, Any], marker: Marker) -> tuple[str, bool]:
        """Submit; after an ambiguous failure look for our own marker, and resubmit once only if absent."""
        for attempt in (1, 2):
            try:
                return self.api.submit(body), False
            except (AmbiguousSubmitError, ServerError) as exc:
                if isinstance(exc, ServerError) and exc.status < 500:
                    raise  # the server said no: resubmitting would get the same answer
                found = self._find_own(name, marker)
                if found is not None:
                    return found, True
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _find_own(self, name: str, marker: Marker) -> str | None:
        for job in self.api.list_jobs(project_urn=self.plan.options.project_urn):
            if job.name == name and parse_marker(job.description) == marker:
                return job.uuid
        return None

    def deduplicate(self, pool: ThreadPoolExecutor, outcomes: Iterable[Outcome]) -> list[Outcome]:
        """List again; per desired name keep the oldest active or finished job with the desired spec.

        Newer active duplicates are cancelled (a concurrent apply chose the same survivor); a name that was
        just submitted but is not in the listing is reported as failed.
        """
        wanted = {e.name: e.spec for e in self.plan.entries if e.desired is not None and e.spec is not None}
        by_name: dict[str, list[RemoteJob]] = defaultdict(list)
        try:
            listing = self.api.list_jobs(project_urn=self.plan.options.project_urn)
        except GpulabApplyError as exc:
            return [Outcome(name="(verification)", result=Result.FAILED, action=Action.NONE,
                            error=f"listing jobs to verify: {exc.message}")]
        for job in listing:
            marker = parse_marker(job.description)
            if (job.name in wanted and marker is not None and marker.spec == wanted[job.name]
                    and manages(marker, job.owner, set_name=self.plan.set_name,
                                user_urn=self.plan.options.user_urn)
                    and (job.status.is_active or job.status is JobStatus.FINISHED)):
                by_name[job.name].append(job)
        # duplicates the plan already showed as protected are blocked, not failures
        held = {job.uuid for entry in self.plan.entries for job in entry.held}
        extra: list[tuple[str, RemoteJob]] = []
        results: list[Outcome] = []
        for outcome in outcomes:
            if outcome.created and not by_name.get(outcome.name):
                results.append(Outcome(name=outcome.name, result=Result.FAILED, action=outcome.action,
                                       created=outcome.created,
                                       error=f"submitted job {outcome.created} is missing from the listing"))
        for name, jobs in by_name.items():
            jobs.sort(key=age_key)
            extra += [(name, job) for job in jobs[1:] if job.status.is_active and job.uuid not in held]
        results += pool.map(lambda item: self._drop_duplicate(*item), extra)
        return results

    def _drop_duplicate(self, name: str, job: RemoteJob) -> Outcome:
        marker = parse_marker(job.description)
        if marker is not None and marker.protect and name not in self.plan.options.cancel_protected:
            # protection wins even over "one job per name": a person decides
            return Outcome(name=name, result=Result.FAILED, action=Action.CANCEL,
                           error=f"duplicate {job.uuid} is protected; cancel it by hand or apply with "
                                 f"--cancel-protected {name}")
        try:
            self._cancel(job.uuid)
        except GpulabApplyError as exc:
            return Outcome(name=name, result=Result.FAILED, action=Action.CANCEL,
                           error=f"cancelling duplicate {job.uuid}: {mask_text(exc.message)}")
        return Outcome(name=name, result=Result.DEDUPLICATED, action=Action.CANCEL, cancelled=(job.uuid,))
