"""``apply`` for the command line: the plan it carries out, checked against a saved plan, and its execution; and
``apply --watch``'s rounds (docs/workflows.md#the-reconcile-loop).

The command keeps what needs a person (the plan shown, the question, the progress bar, Ctrl-C, the rounds rendered)
and calls these for the rest (docs/plan-apply.md#apply).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime

from gpulab_apply.app.planning import endpoint_of, load_desired, make_plan
from gpulab_apply.gpulab.client import GpulabClient
from gpulab_apply.gpulab.listing import Listing
from gpulab_apply.jobfiles.validation import ValidationResult
from gpulab_apply.masking import Secrets
from gpulab_apply.reconcile.capacity import without_impossible
from gpulab_apply.reconcile.executor import ApplyOptions, ApplyReport, Progress, execute
from gpulab_apply.reconcile.guards import Guards
from gpulab_apply.reconcile.loop import Round, reconcile
from gpulab_apply.reconcile.marker import RunCommit, new_run_id
from gpulab_apply.reconcile.planfile import SavedPlan, check_fresh
from gpulab_apply.reconcile.planner import Plan
from gpulab_apply.settings import Settings
from gpulab_apply.workspace import Selection


def plan_to_apply(desired: ValidationResult, client: GpulabClient, settings: Settings, *, selection: Selection,
                  guards: Guards, saved: SavedPlan | None, targets: Sequence[str], rerun_failed: bool,
                  cancel_protected: Sequence[str], remote: Listing | None = None) -> Plan:
    """The plan apply carries out: made afresh, and for a saved plan (``apply FILE``) checked to be still the same
    (docs/plan-format.md); with ``guards.skip_impossible``, without the jobs no node may ever run. ``remote``: the
    listing, when it was read already (:class:`gpulab_apply.app.prefetch.ListingAhead`)."""
    plan = make_plan(desired, client, settings, selection=selection, targets=targets, rerun_failed=rerun_failed,
                     cancel_protected=cancel_protected, guards=guards, remote=remote)
    if saved is not None:
        check_fresh(saved, plan, endpoint=endpoint_of(settings), secrets=desired.secrets)
    if guards.skip_impossible:
        plan = without_impossible(plan, now=client.server_time)
    return plan


def run_commit(settings: Settings) -> RunCommit | None:
    """The commit an apply applies, recorded in its run id (docs/results.md#the-commit-an-apply-applied); None
    outside git."""
    commit = settings.workspace.head_commit()
    return RunCommit(*commit) if commit else None


def apply_plan(plan: Plan, client: GpulabClient, *, parallelism: int, stop: threading.Event,
               progress: Progress | None = None, commit: RunCommit | None = None) -> ApplyReport:
    """Carry the plan out under a new run id (guards first, before any action); failures are outcomes."""
    options = ApplyOptions(run_id=new_run_id(datetime.now(UTC), commit), parallelism=parallelism, stop=stop)
    return execute(plan, client, options=options, progress=progress)


def watch_rounds(selection: Selection, client: GpulabClient, settings: Settings, *, guards: Guards,
                 targets: Sequence[str], rerun_failed: bool, cancel_protected: Sequence[str], parallelism: int,
                 interval: float, forever: bool, stop: threading.Event,
                 hide: Callable[[Secrets], None]) -> Iterator[Round]:
    """``apply --watch``: rounds of plan and apply until the set is settled or ``stop`` is set
    (:func:`gpulab_apply.reconcile.loop.reconcile`). The job files are read again every round (``hide`` told
    their secrets); a guard's refusal or invalid job files end the rounds with the error."""

    def plan() -> Plan:
        desired = load_desired(selection, settings)
        hide(desired.secrets)
        return make_plan(desired, client, settings, selection=selection, targets=targets, rerun_failed=rerun_failed,
                         cancel_protected=cancel_protected, guards=guards)

    def apply(made: Plan) -> ApplyReport:
        return apply_plan(made, client, parallelism=parallelism, stop=stop)

    return reconcile(plan, apply, interval=interval, stop=stop, forever=forever)
