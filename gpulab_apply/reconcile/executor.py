"""Apply: carry out a plan against GPULab, safely, and verify the result (docs/plan-apply.md#apply).

Order: cancellations for replacements, then creations (in parallel, bounded), then removals. A POST that
may or may not have created a job is never retried blindly: the executor lists again and looks for this
run's marker first. Afterwards it lists once more and verifies that every desired name has exactly one
active or finished job with its spec; newer duplicates of this set (a concurrent apply) are cancelled, so two
racing applies converge on the same survivor. Nothing here prints: progress is a callback.

A stop request (``ApplyOptions.stop``, set by the CLI on Ctrl-C or SIGTERM) lets every request in flight finish,
starts no planned submission or cancellation, and still verifies (settling unsure submissions by their marker,
cancelling a racer's duplicate), so the report says truthfully what was done and what was not, and running
apply again converges (docs/plan-apply.md#interrupts).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from gpulab_apply.errors import AmbiguousSubmitError, GpulabApplyError, GuardError, RemoteError, ServerError
from gpulab_apply.gpulab.listing import SetFilter, set_filter
from gpulab_apply.jobmodel.status import JobStatus
from gpulab_apply.masking import mask_text
from gpulab_apply.model import RemoteJob
from gpulab_apply.order import natural_key
from gpulab_apply.reconcile.marker import Marker, manages, parse_marker, with_marker, with_owner
from gpulab_apply.reconcile.planner import Action, Plan, PlanEntry, age_key
from gpulab_apply.reconcile.runs import desired_project, is_run_of

DEFAULT_PARALLELISM = 8
#: listings a verification may take while a partial v3.x listing shrinks (each round cancels something)
_MAX_DEDUP_ROUNDS = 20


class JobListing(Protocol):
    """A listing as apply reads it (``gpulab_apply.gpulab.listing.Listing`` is one): the jobs, and ``partial``,
    the statuses of which it could not see all of this user's jobs (empty when it saw them all)."""

    @property
    def partial(self) -> frozenset[JobStatus]: ...

    def __iter__(self) -> Iterator[RemoteJob]: ...


class JobApi(Protocol):
    """What apply needs from a GPULab client (``gpulab_apply.gpulab.client.GpulabClient`` provides it)."""

    def list_jobs(self, *, project_urn: str | None = None, user_urn: str | None = None,
                  allow_partial: bool = False) -> JobListing:
        """Every job (of ``user_urn``, in ``project_urn``, when given); with ``allow_partial`` a listing that
        could not see every job of some statuses is returned (with those statuses in ``partial``) instead of
        raising."""
        ...

    def submit(self, job: Mapping[str, Any], *, hold: bool = False) -> str: ...

    def cancel(self, uuid: str) -> None: ...

    def get_job(self, uuid: str) -> RemoteJob: ...


@dataclass(frozen=True, kw_only=True)
class ApplyOptions:
    """How to apply. ``run_id`` goes into every submitted job's marker."""

    run_id: str
    parallelism: int = DEFAULT_PARALLELISM
    #: set from another thread (a signal handler) to stop starting actions; those in flight finish
    stop: threading.Event = field(default_factory=threading.Event, compare=False)


class Result(StrEnum):
    """What happened to one name."""

    CREATED = "created"
    REPLACED = "replaced"
    CANCELLED = "cancelled"
    #: a newer duplicate of this set was cancelled during verification
    DEDUPLICATED = "deduplicated"
    FAILED = "failed"
    #: not started: apply was interrupted first (what it did for the name before, if anything, is listed)
    SKIPPED = "skipped"


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
        return self.result not in (Result.FAILED, Result.SKIPPED)


@dataclass(frozen=True, kw_only=True)
class ApplyReport:
    """Every outcome, in name order, and the run id the submissions carry."""

    run_id: str
    set_name: str
    outcomes: tuple[Outcome, ...] = field(default_factory=tuple)
    #: a stop was requested while applying: the outcomes ``SKIPPED`` were not started
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return all(outcome.ok for outcome in self.outcomes)

    @property
    def changed(self) -> bool:
        return any(outcome.created or outcome.cancelled for outcome in self.outcomes)

    def count(self, result: Result) -> int:
        return sum(1 for outcome in self.outcomes if outcome.result is result)


Progress = Callable[[str], None]


def check_guards(plan: Plan) -> None:
    """Refuse (exit 3) a plan that trips a guard (:attr:`Plan.refusals`), naming every one."""
    if plan.refusals:
        first, *more = plan.refusals
        raise GuardError(first.message + "".join(f"; and {refusal.message}" for refusal in more),
                         hint="; ".join(refusal.hint for refusal in plan.refusals), made=plan)


def planned_actions(plan: Plan) -> int:
    """How many remote calls (cancels and submissions) the plan makes: the length of a progress bar."""
    return sum(len(entry.cancel) + (entry.action in (Action.CREATE, Action.REPLACE)) for entry in plan.entries)


def execute(plan: Plan, api: JobApi, *, options: ApplyOptions, progress: Progress | None = None) -> ApplyReport:
    """Carry out ``plan`` (guards first, before any action) and verify; failures are outcomes, not exceptions."""
    check_guards(plan)
    run = _Run(plan=plan, api=api, options=options, progress=progress or (lambda _: None))
    with ThreadPoolExecutor(max_workers=max(1, options.parallelism)) as pool:
        replacing = [e for e in plan.entries if e.action is Action.REPLACE]
        cancelled = dict(zip((e.name for e in replacing), pool.map(run.cancel_all, replacing), strict=True))
        creating = [e for e in plan.entries if e.action is Action.CREATE
                    or (e.action is Action.REPLACE and cancelled[e.name].error is None)]
        outcomes = [cancelled[e.name] for e in replacing if cancelled[e.name].error is not None]
        submissions = run.submit_all(pool, [_Submission.of(e, run, cancelled.get(e.name)) for e in creating])
        outcomes += pool.map(run.cancel_all, [e for e in plan.entries if e.action is Action.CANCEL])
        outcomes += run.verify(pool, submissions, outcomes)
    return ApplyReport(run_id=options.run_id, set_name=plan.set_name, interrupted=options.stop.is_set(),
                       outcomes=tuple(sorted(outcomes, key=lambda o: (natural_key(o.name), o.result is Result.DEDUPLICATED))))


@dataclass(kw_only=True)
class _Submission:
    """One name being submitted: its body and marker, and what became of it so far."""

    entry: PlanEntry
    marker: Marker
    body: Mapping[str, Any]
    #: jobs this entry's replacement already cancelled
    cancelled: tuple[str, ...] = ()
    attempts: int = 0
    uuid: str | None = None
    recovered: bool = False
    #: the last error; with ``ambiguous`` the job may exist all the same
    error: GpulabApplyError | None = None
    ambiguous: bool = False

    @classmethod
    def of(cls, entry: PlanEntry, run: _Run, cancelled: Outcome | None) -> _Submission:
        assert entry.desired is not None and entry.spec is not None
        marker = Marker(set_name=run.plan.set_name, spec=entry.spec, run_id=run.options.run_id,
                        protect=entry.desired.protect, attempt=entry.attempt)
        body = with_marker(with_owner(entry.desired.job, run.plan.options.project_urn), marker)
        return cls(entry=entry, marker=marker, body=body, cancelled=cancelled.cancelled if cancelled else ())

    def outcome(self) -> Outcome:
        entry = self.entry
        if self.uuid is None and self.attempts == 0:
            return Outcome(name=entry.name, result=Result.SKIPPED, action=entry.action, cancelled=self.cancelled,
                           error=_NOT_STARTED)
        if self.uuid is None:
            message = mask_text(self.error.message) if self.error else "no answer"
            return Outcome(name=entry.name, result=Result.FAILED, action=entry.action, cancelled=self.cancelled,
                           error=f"submitting: {message}")
        result = Result.REPLACED if entry.action is Action.REPLACE else Result.CREATED
        return Outcome(name=entry.name, result=result, action=entry.action, created=self.uuid,
                       cancelled=self.cancelled, recovered=self.recovered)


@dataclass(frozen=True, kw_only=True)
class _Run:
    plan: Plan
    api: JobApi
    options: ApplyOptions
    progress: Progress

    def cancel_all(self, entry: PlanEntry) -> Outcome:
        done: list[str] = []
        for job in entry.cancel:
            if self.options.stop.is_set():
                return Outcome(name=entry.name, result=Result.SKIPPED, action=entry.action, cancelled=tuple(done),
                               error=_NOT_STARTED)
            try:
                self._cancel(job.uuid)
            except GpulabApplyError as exc:
                return Outcome(name=entry.name, result=Result.FAILED, action=entry.action, cancelled=tuple(done),
                               error=f"cancelling {job.uuid}: {mask_text(exc.message)}")
            done.append(job.uuid)
            self.progress(f"cancelled {entry.name}")
        return Outcome(name=entry.name, result=Result.CANCELLED, action=entry.action, cancelled=tuple(done))

    def _cancel(self, uuid: str) -> None:
        """Cancel; when the answer is an error or lost, read the job: ended (or ending) is what we wanted."""
        try:
            self.api.cancel(uuid)
        except RemoteError:
            # a concurrent apply (or a person) may have ended it first, or GPULab committed the cancel and the
            # answer was lost on the way back
            try:
                status = self.api.get_job(uuid).status
            except GpulabApplyError:
                status = None
            if status is None or not (status.is_final or status is JobStatus.CANCELLING):
                raise

    def submit_all(self, pool: ThreadPoolExecutor, submissions: list[_Submission]) -> list[_Submission]:
        """Submit every job in parallel. POSTs whose outcome is unknown are looked for by their marker in *one*
        listing after all submissions (not one per POST); those not found are submitted once more. Any still
        unknown after that are settled by the verification listing."""
        list(pool.map(self._attempt, submissions))
        unsure = [s for s in submissions if s.ambiguous]
        if unsure:
            found = self._find_own(unsure)
            again = []
            for submission in unsure:
                if submission.marker in found:
                    self._recovered(submission, found[submission.marker])
                else:
                    again.append(submission)
            list(pool.map(self._attempt, again))
        return submissions

    def _attempt(self, submission: _Submission) -> None:
        if self.options.stop.is_set():  # an unsure earlier POST stays unsure: verification settles it
            return
        submission.attempts += 1
        try:
            submission.uuid = self.api.submit(submission.body)
        except (AmbiguousSubmitError, ServerError) as exc:
            # the server said no (4xx): resubmitting would get the same answer; anything else may have created it
            submission.error = exc
            submission.ambiguous = not (isinstance(exc, ServerError) and exc.status < 500)
            return
        except GpulabApplyError as exc:
            submission.error, submission.ambiguous = exc, False
            return
        submission.error, submission.ambiguous = None, False
        result = Result.REPLACED if submission.entry.action is Action.REPLACE else Result.CREATED
        self.progress(f"{result.value} {submission.entry.name}")

    def _recovered(self, submission: _Submission, uuid: str) -> None:
        submission.uuid, submission.recovered, submission.error, submission.ambiguous = uuid, True, None, False
        self.progress(f"found {submission.entry.name}")

    def _find_own(self, unsure: Iterable[_Submission]) -> dict[Marker, str]:
        """This run's submissions in one listing, by marker (a marker names set, spec and this run)."""
        names = {submission.entry.name for submission in unsure}
        try:
            listing = self.api.list_jobs(**self._filter())
        except GpulabApplyError:
            return {}  # resubmitting blindly would risk a duplicate: the verification listing settles these
        return {marker: job.uuid for job in listing
                if job.name in names and (marker := parse_marker(job.description)) is not None}

    def verify(self, pool: ThreadPoolExecutor, submissions: list[_Submission],
               outcomes: Iterable[Outcome]) -> list[Outcome]:
        """List again; settle unknown submissions by their marker; per desired name keep the oldest active or
        finished job with the desired spec and cancel newer active duplicates (a concurrent apply chose the
        same survivor); a name that was just submitted but is not in the listing is reported as failed."""
        try:
            listing = self._listing()
        except GpulabApplyError as exc:
            return [s.outcome() for s in submissions] + [_verification_failed(f"listing jobs to verify: {exc.message}")]
        unsure = {s.marker: s for s in submissions if s.uuid is None and s.ambiguous}
        for job in listing:
            marker = parse_marker(job.description)
            if marker in unsure:
                self._recovered(unsure[marker], job.uuid)
        results = [s.outcome() for s in submissions]
        by_name = self._survivors(listing)
        listed = {job.uuid for job in listing}
        for outcome in (*outcomes, *results):
            # (a racer may have cancelled ours as its duplicate: the name is still served by the survivor;
            # a job that already ended, e.g. FAILED within seconds, is listed: created, not missing)
            if (outcome.created and not by_name.get(outcome.name) and outcome.created not in listed
                    and not (_partial(listing) and self._exists(outcome.created))):
                results.append(Outcome(name=outcome.name, result=Result.FAILED, action=outcome.action,
                                       created=outcome.created,
                                       error=f"submitted job {outcome.created} is missing from the listing"))
        return results + self._deduplicate(pool, listing)

    def _listing(self) -> JobListing:
        return self.api.list_jobs(**self._filter(), allow_partial=True)

    def _filter(self) -> SetFilter:
        """What the plan listed: this user's jobs in every project (docs/plan-apply.md#projects)."""
        return set_filter(user_urn=self.plan.options.user_urn, project_urn=self.plan.options.project_urn)

    def _exists(self, uuid: str) -> bool:
        try:
            self.api.get_job(uuid)
        except GpulabApplyError:
            return False
        return True

    def _deduplicate(self, pool: ThreadPoolExecutor, listing: JobListing) -> list[Outcome]:
        """Cancel newer duplicates until the listing is complete (v3.x lists only the newest 200 jobs of a
        status: a racing apply can leave more QUEUED jobs than that for a moment).

        With a partial listing only *newer* duplicates of a job that is listed are cancelled, so the oldest
        job of a name, listed or not, is never cancelled; each round shrinks the status, until it fits.
        """
        # duplicates the plan already showed as protected are blocked, not failures
        held = {job.uuid for entry in self.plan.entries for job in entry.held}
        results: list[Outcome] = []
        for _ in range(_MAX_DEDUP_ROUNDS):
            extra = [(name, job) for name, jobs in self._survivors(listing).items() for job in jobs[1:]
                     if job.status.is_active and job.uuid not in held]
            results += pool.map(lambda item: self._drop_duplicate(*item), extra)
            if not _partial(listing):
                return results
            if not extra:
                break
            try:
                listing = self._listing()
            except GpulabApplyError as exc:
                return [*results, _verification_failed(f"listing jobs to verify: {exc.message}")]
        statuses = ", ".join(sorted(status.name for status in _partial(listing)))
        return [*results, _verification_failed(
            f"GPULab listed only the newest of this user's {statuses} jobs, so duplicates may remain unseen; "
            "run apply again once fewer jobs wait, or use API v4.0")]

    def _survivors(self, listing: Iterable[RemoteJob]) -> dict[str, list[RemoteJob]]:
        """Per desired name, this user's jobs of this set with the desired spec (active or finished), oldest first."""
        project = self.plan.options.project_urn
        wanted = {e.name: (e.hashes, desired_project(e.desired, project)) for e in self.plan.entries
                  if e.desired is not None and e.hashes is not None}
        # a retry keeps one run per attempt, ended or not: a racer's retry of the same attempt is a duplicate
        # even when the first one already FAILED (docs/workflows.md#retries)
        retrying = {e.name: e.attempt for e in self.plan.entries if e.attempt > 1 and e.action is Action.CREATE}
        by_name: dict[str, list[RemoteJob]] = defaultdict(list)
        for job in listing:
            hashes, in_project = wanted.get(job.name, (None, None))
            marker = parse_marker(job.description) if hashes is not None else None
            attempt = retrying.get(job.name)
            if (hashes is not None and marker is not None and is_run_of(job, marker, hashes, in_project)
                    and manages(marker, job.owner, set_name=self.plan.set_name, user_urn=self.plan.options.user_urn)
                    and ((job.status.is_active or job.status is JobStatus.FINISHED) if attempt is None
                         else marker.attempt == attempt)):
                by_name[job.name].append(job)
        for jobs in by_name.values():
            jobs.sort(key=age_key)
        return by_name

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


def _partial(listing: JobListing) -> frozenset[JobStatus]:
    """The statuses verification depends on (active ones and FINISHED, which a survivor may have) of which the
    listing could not see all of this user's jobs. Unseen CANCELLED or FAILED jobs do not matter: they are
    neither duplicates nor survivors."""
    return frozenset(status for status in listing.partial if status.is_active or status is JobStatus.FINISHED)


_NOT_STARTED = "not started: apply was interrupted"


def _verification_failed(error: str) -> Outcome:
    return Outcome(name="(verification)", result=Result.FAILED, action=Action.NONE, error=error)
