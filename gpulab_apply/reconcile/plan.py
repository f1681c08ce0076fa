"""The plan as data: decisions (:class:`PlanEntry`), what they were made with (:class:`PlanOptions`), and what
follows from them — the summary counts, the cost and what apply's guards would refuse (docs/plan-apply.md).

:func:`gpulab_apply.reconcile.planner.build_plan` makes a :class:`Plan`; reporters, plan files and the
executor read it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING

from gpulab_apply.jobmodel.status import STATE_GROUPS
from gpulab_apply.model import JobSpec, RemoteJob
from gpulab_apply.problems import Problem
from gpulab_apply.reconcile.cost import GpuHours
from gpulab_apply.reconcile.diff import FieldDiff
from gpulab_apply.reconcile.guards import Guards, Refusal, refusals
from gpulab_apply.reconcile.marker import SpecHashes

if TYPE_CHECKING:
    from gpulab_apply.reconcile.finding import CapacityFinding
    from gpulab_apply.reconcile.usage import Usage


class Action(StrEnum):
    """What apply does for one name."""

    CREATE = "create"
    #: cancel the active job(s), then create
    REPLACE = "replace"
    CANCEL = "cancel"
    NONE = "none"
    #: nothing now, a submission later: the job waits for what it needs, for a free slot or for a retry's delay
    #: (docs/workflows.md); :attr:`PlanEntry.then` says what it will do
    WAIT = "wait"


class Reason(StrEnum):
    """Why an entry has its action."""

    NEW = "new"
    #: the spec (or rerun token) differs from the current job's
    CHANGED = "changed"
    RERUN_FAILED = "rerun-failed"
    IN_SYNC = "in-sync"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"
    HALTED = "halted"
    DELETED = "deleted"
    UNMANAGED = "unmanaged"
    PROTECTED = "protected"
    #: no longer desired, still active
    REMOVED = "removed"
    #: more than one active job of this set with the desired spec (a concurrent apply, a manual resubmit)
    DUPLICATE = "duplicate"
    #: a job it needs has not FINISHED yet (docs/workflows.md#dependencies)
    WAITING = "waiting"
    #: a job it needs FAILED or was CANCELLED, or its sweep failed fast: nothing until that is rerun
    BLOCKED = "blocked"
    #: its sweep's max-parallel or the set's max-active is reached (docs/workflows.md#sweep-throttling)
    THROTTLED = "throttled"
    #: a new run after a FAILED one (``retries``), or waiting for the retry's delay
    RETRY = "retry"
    #: FAILED, and every retry is used
    EXHAUSTED = "exhausted"


#: statuses in which a job is burning GPU time: cancelling it loses work
WORKING_STATUSES = STATE_GROUPS["running"]


@dataclass(frozen=True, kw_only=True)
class PlanOptions:
    """Choices that change the plan. ``targets`` are name globs (empty: every name)."""

    project_urn: str | None = None
    #: the certificate's user: only their jobs of the set are managed (None: any user's, for tests and tools)
    user_urn: str | None = None
    rerun_failed: bool = False
    targets: tuple[str, ...] = ()
    cancel_protected: frozenset[str] = frozenset()
    #: how far back the listing sees, in hours (API v3.x: 744); None when it sees every job (v4.0)
    window_hours: int | None = None
    #: what apply will refuse; ``plan`` shows it
    guards: Guards = field(default_factory=Guards)
    #: the parts of the job root the plan was narrowed to (paths from the workspace root); empty: the whole job
    #: root. A narrowed plan creates and replaces what it selects and cancels no other name: which jobs are no
    #: longer desired is decided on the whole set only (docs/plan-apply.md#workspace)
    narrowed_to: tuple[str, ...] = ()
    #: the set's cap of active jobs (``max-active`` in gpulab-apply.yaml; docs/workflows.md#sweep-throttling)
    max_active: int | None = None


@dataclass(frozen=True, kw_only=True)
class PlanEntry:
    """The decision for one job name."""

    name: str
    action: Action
    reason: Reason
    desired: JobSpec | None = None
    #: the desired job's spec hash (as it would be submitted), None when not desired
    spec: str | None = None
    #: every spec hash the desired job may carry (older marker versions too), None when not desired
    hashes: SpecHashes | None = field(default=None, compare=False, repr=False)
    #: the remote job the decision is about (kept, replaced, rerun or left alone), if any
    current: RemoteJob | None = None
    #: remote jobs apply cancels for this entry (replace, cancel)
    cancel: tuple[RemoteJob, ...] = ()
    #: for a protected entry, the action protection blocked and the jobs it kept from being cancelled
    blocked: Action | None = None
    held: tuple[RemoteJob, ...] = ()
    diffs: tuple[FieldDiff, ...] = ()
    #: who owns an unmanaged job ("submitted by hand", "set other")
    note: str | None = None
    #: jobs with this name and this set's marker that belong to another user: reported, never touched
    others: tuple[RemoteJob, ...] = ()
    #: a create of a name with no job in a windowed listing and no evidence that it is new: a job with this
    #: name may exist beyond the window (docs/plan-apply.md#limits-per-api-version)
    unseen: bool = False
    #: for a waiting or blocked entry, what it waits for: (need, its state) pairs, e.g. ("prep", "RUNNING")
    waits_for: tuple[tuple[str, str], ...] = ()
    #: for a waiting or blocked entry, the action it will take once it may (create or replace)
    then: Action | None = None
    #: the run of this spec a create submits: 1, or the retry's attempt (docs/workflows.md#retries)
    attempt: int = 1
    #: the job's ``retries`` (for the report: ``retry 2 of 3``)
    retries: int = 0

    @property
    def has_changes(self) -> bool:
        return self.action not in (Action.NONE, Action.WAIT)

    @property
    def waits(self) -> bool:
        """Whether a later apply will submit it, without anyone changing anything (docs/workflows.md)."""
        return self.action is Action.WAIT

    @property
    def work_lost(self) -> bool:
        """Whether a job being cancelled is running (its work so far is lost)."""
        return any(job.status in WORKING_STATUSES for job in self.cancel)


@dataclass(frozen=True, kw_only=True)
class Summary:
    """Counts for the summary line."""

    create: int
    replace: int
    replace_running: int
    cancel: int
    cancel_running: int
    unchanged: int
    blocked: int
    unmanaged: int
    #: submitted later, by itself: waiting for needs, a free slot or a retry's delay (docs/workflows.md)
    waiting: int = 0
    #: held back until a person acts: a need failed, the sweep failed fast, or every retry is used
    stuck: int = 0

    @property
    def changes(self) -> int:
        return self.create + self.replace + self.cancel


@dataclass(frozen=True, kw_only=True)
class Plan:
    """Every decision, sorted by name, plus what the plan was made from."""

    set_name: str
    entries: tuple[PlanEntry, ...]
    options: PlanOptions
    #: hash of the remote jobs the decisions depend on (see :func:`remote_fingerprint`)
    remote_fingerprint: str
    #: how many desired jobs (within the targets) the plan saw
    desired_count: int
    #: how many active jobs of this set (within the targets) the listing held
    managed_active_count: int
    #: things a person should read before applying (another set holds these names, other users' jobs, ...)
    warnings: tuple[str, ...] = ()
    #: warnings in the job files: forms GPULab accepts that are not canonical (docs/validate.md#warnings-and---strict)
    file_warnings: tuple[Problem, ...] = ()
    #: GPU-hours requested by the jobs it submits, and of running work it cancels (docs/plan-apply.md#cost)
    cost: GpuHours = field(default_factory=GpuHours)
    #: what the capacity check found for the jobs it submits (docs/capacity.md); empty when not checked
    capacity: tuple[CapacityFinding, ...] = ()
    #: GPU-hours this set's runs used this period, and the budget (docs/capacity.md#usage-and-budgets)
    usage: Usage | None = None
    #: GPU-hours the waiting jobs will request when they are submitted: the rest of the cascade
    #: (docs/workflows.md#dependencies)
    waiting_cost: GpuHours = field(default_factory=GpuHours)
    summary: Summary = field(init=False)
    #: what apply would refuse (exit 3), with the options' guards
    refusals: tuple[Refusal, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "summary", _summarise(self.entries))
        object.__setattr__(self, "refusals", refusals(
            self.options.guards, set_name=self.set_name, desired_count=self.desired_count,
            managed_active=self.managed_active_count, cancellations=self.cancellations,
            unseen=sum(1 for entry in self.entries if entry.unseen), window_hours=self.options.window_hours,
            gpu_hours=self.cost.requested + self.waiting_cost.requested, named=self._names_every_change(),
            impossible=[finding.name for finding in self.capacity if finding.is_error], usage=self.usage))

    def _names_every_change(self) -> bool:
        """Whether the person named each change: ``--target`` globs and ``--cancel-protected`` names cover
        every entry that changes something (so an empty desired set is meant)."""
        changes = [entry.name for entry in self.entries if entry.has_changes]
        return bool(self.options.targets and changes) and all(
            name in self.options.cancel_protected for name in changes)

    def unproven_files(self) -> tuple[str, ...]:
        """The job files of creates that may exist beyond the listing window (see :func:`with_evidence`)."""
        return tuple(sorted({e.desired.location.path for e in self.entries if e.unseen and e.desired}))

    def with_evidence(self, proven_new: frozenset[str]) -> Plan:
        """The plan with the creates whose job files are proven new no longer marked unseen."""
        entries = tuple(replace(e, unseen=False) if e.unseen and e.desired and e.desired.location.path in proven_new
                        else e for e in self.entries)
        return replace(self, entries=entries)

    @property
    def has_changes(self) -> bool:
        return any(entry.has_changes for entry in self.entries)

    @property
    def kept_drift(self) -> int:
        """How many names differ from the job files but are kept as they are because a job is protected (a
        replace or cancel that protection blocked): drift all the same (docs/plan-apply.md#kept-drift)."""
        return self.summary.blocked

    @property
    def differs(self) -> bool:
        """Whether GPULab differs from the job files: changes to make (now or, for waiting jobs, later), or
        drift kept by protection. This is what ``--detailed-exitcode`` reports as 2."""
        return self.has_changes or self.kept_drift > 0 or self.summary.waiting > 0

    @property
    def settled(self) -> bool:
        """Whether nothing is left to do or to wait for: no change, no waiting job, and every desired job's
        current run has ended (``apply --watch`` stops here, docs/workflows.md#the-reconcile-loop)."""
        return not self.has_changes and not self.summary.waiting and not any(
            entry.desired is not None and entry.current is not None and entry.current.status.is_active
            and entry.reason is not Reason.UNMANAGED for entry in self.entries)

    @property
    def narrowed(self) -> bool:
        """Whether the plan covers only part of the job root (and so cancels no job that is not desired)."""
        return bool(self.options.narrowed_to)

    @property
    def cancellations(self) -> int:
        """How many remote jobs apply would cancel (replacements included)."""
        return sum(len(entry.cancel) for entry in self.entries)


def _summarise(entries: Sequence[PlanEntry]) -> Summary:
    def count(action: Action, *, running: bool = False) -> int:
        return sum(1 for e in entries if e.action is action and (e.work_lost or not running))

    return Summary(
        create=count(Action.CREATE),
        replace=count(Action.REPLACE),
        replace_running=count(Action.REPLACE, running=True),
        cancel=count(Action.CANCEL),
        cancel_running=count(Action.CANCEL, running=True),
        unchanged=sum(1 for e in entries if e.action is Action.NONE and e.reason not in _NOT_UNCHANGED),
        blocked=sum(1 for e in entries if e.reason is Reason.PROTECTED),
        unmanaged=sum(1 for e in entries if e.reason is Reason.UNMANAGED),
        waiting=sum(1 for e in entries if e.action is Action.WAIT),
        stuck=sum(1 for e in entries if e.action is Action.NONE and e.reason in (Reason.BLOCKED, Reason.EXHAUSTED)),
    )


#: no-op reasons that are not "in sync or done"
_NOT_UNCHANGED = frozenset({Reason.PROTECTED, Reason.UNMANAGED, Reason.BLOCKED, Reason.EXHAUSTED})
