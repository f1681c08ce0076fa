"""Guards: plans apply refuses (exit 3) unless a flag says the change is meant (docs/plan-apply.md#guards-exit-3).

The refusals are computed with the plan and carried in it (:attr:`Plan.refusals`), so ``plan`` shows what
``apply`` would refuse, and apply refuses before any action.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gpulab_apply.reconcile.usage import Usage

DEFAULT_MAX_CANCEL = 10


@dataclass(frozen=True, kw_only=True)
class Guards:
    """What apply allows. The defaults are what ``plan`` assumes."""

    #: an empty desired set may cancel every managed job
    allow_empty: bool = False
    #: at most this many cancellations (replacements included)
    max_cancel: int = DEFAULT_MAX_CANCEL
    #: on a windowed listing (API v3.x), create names with no evidence that they are new
    allow_unseen: bool = False
    #: at most this many GPU-hours requested by creations (None: no limit)
    max_gpu_hours: float | None = None
    #: leave out jobs no node may ever run, and apply the rest (docs/capacity.md#apply)
    skip_impossible: bool = False


@dataclass(frozen=True)
class Refusal:
    """Why apply would refuse this plan, and what to do if the change is meant."""

    message: str
    hint: str


def refusals(guards: Guards, *, set_name: str, desired_count: int, managed_active: int, cancellations: int,
             unseen: int, window_hours: int | None, gpu_hours: float, named: bool = False,
             impossible: Sequence[str] = (), usage: Usage | None = None) -> tuple[Refusal, ...]:
    """Every guard the plan trips, in a fixed order. ``named``: the person named every change explicitly
    (``--target NAME --cancel-protected NAME``), so an empty desired set is what they meant."""
    found: list[Refusal] = []
    if desired_count == 0 and managed_active and not guards.allow_empty and not named:
        found.append(Refusal(
            f"the desired set is empty but set {set_name!r} has {managed_active} active job(s); applying would "
            "cancel them all",
            "check the job directory (a moved folder, a bad --target?); pass --allow-empty if this is meant"))
    if cancellations > guards.max_cancel:
        found.append(Refusal(
            f"the plan cancels {cancellations} jobs, more than --max-cancel {guards.max_cancel}",
            f"review the plan; pass --max-cancel {cancellations} if this is meant"))
    if unseen and not guards.allow_unseen:
        found.append(Refusal(
            f"{unseen} job(s) to create have no job in the listing, but GPULab lists only jobs whose status "
            f"changed in the last {window_hours} hours and their files are older than that (or their history is "
            "unknown): each may have run before, and creating it could rerun finished work or duplicate a job",
            "check on GPULab's web site; pass --allow-unseen if they are new, or use API v4.0, which lists every "
            "job (docs/plan-apply.md#limits-per-api-version)"))
    if guards.max_gpu_hours is not None and gpu_hours > guards.max_gpu_hours:
        found.append(Refusal(
            f"the plan requests {gpu_hours:g} GPU-hours, more than --max-gpu-hours {guards.max_gpu_hours:g}",
            f"review the plan; pass --max-gpu-hours {gpu_hours:g} if this is meant"))
    if impossible and not guards.skip_impossible:
        named_jobs = ", ".join(impossible[:5]) + (f" and {len(impossible) - 5} more" if len(impossible) > 5 else "")
        found.append(Refusal(
            f"{len(impossible)} job(s) can never start on a node this project may use: {named_jobs}",
            "change their requests (the capacity errors say what the nearest node lacks); pass --skip-impossible "
            "to apply the rest without them"))
    if usage is not None and usage.left is not None and usage.budget is not None and gpu_hours > usage.left:
        found.append(Refusal(
            f"the plan requests {gpu_hours:g} GPU-hours but the budget has {usage.left:g} left this "
            f"{usage.period.value} ({usage.used:g} of {usage.budget.gpu_hours:g} used since "
            f"{usage.since:%Y-%m-%d})",
            "submit fewer jobs or shorter maxDurations, wait for the next period, or raise budget.gpu-hours in "
            "gpulab-apply.yaml"))
    return tuple(found)
