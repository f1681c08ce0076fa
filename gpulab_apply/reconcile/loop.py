"""The reconcile loop behind ``apply --watch``: plan and apply in rounds until the set is settled
(docs/workflows.md#the-reconcile-loop).

Each round lists GPULab once, plans (so every guard sees the whole remaining work, the waiting cascade
included), applies what the plan says, and reports what changed since the round before. Nothing here prints or
knows about click: :func:`reconcile` yields :class:`Round` values and the CLI renders them. Every decision is
made from what GPULab lists, so several loops, applies and CI runs side by side converge as racing applies do.

Errors reaching GPULab are rounds with an ``error``; the next round comes after a delay that doubles up to
:data:`MAX_BACKOFF`. A refusal by a guard, invalid job files and other mistakes a person must fix end the loop
(the exception propagates). A stop request (SIGTERM, Ctrl-C) is honoured between rounds at once and, inside a
round, the way apply honours it: requests in flight settle, nothing new starts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace

from gpulab_apply.errors import RemoteError
from gpulab_apply.reconcile.executor import ApplyReport, check_guards
from gpulab_apply.reconcile.plan import Action, Plan, PlanEntry, Reason

#: the longest pause between rounds after errors, in seconds
MAX_BACKOFF = 300.0


@dataclass(frozen=True, kw_only=True)
class Round:
    """One round: its plan, what apply did (None: nothing to do), or the error that stopped it."""

    number: int
    plan: Plan | None = None
    report: ApplyReport | None = None
    error: RemoteError | None = None
    #: what changed since the previous round, one line each (``train-lr1: QUEUED -> RUNNING``)
    changes: tuple[str, ...] = ()
    #: the set is settled and the loop ends (never with ``forever``)
    done: bool = False
    #: seconds until the next round
    delay: float = 0.0
    #: why the round did nothing, when it held back on purpose
    note: str | None = None


def reconcile(plan: Callable[[], Plan], apply: Callable[[Plan], ApplyReport], *, interval: float,
              stop: threading.Event, forever: bool = False,
              wait: Callable[[float], bool] | None = None) -> Iterator[Round]:
    """Rounds until the set is settled (:attr:`Plan.settled`), or, with ``forever``, until ``stop`` is set.

    ``wait(seconds)`` pauses between rounds and returns True when stopped (default: ``stop.wait``).
    """
    pause = wait or stop.wait
    seen: dict[str, str] = {}
    failures = held = 0
    number = 0
    while not stop.is_set():
        number += 1
        try:
            current = plan()
            if _racers_settling(current) and held < _MAX_HELD:
                # another loop's duplicates, which its verification is cancelling this very moment: look again
                held += 1
                yield Round(number=number, plan=current, delay=interval, note=_HELD_NOTE)
                if pause(interval):
                    return
                continue
            held = 0
            check_guards(current)  # the guards see the whole remaining work: a refusal ends the loop
            report = apply(current) if current.has_changes else None
        except RemoteError as exc:
            failures += 1
            delay = min(MAX_BACKOFF, interval * 2 ** failures)
            yield Round(number=number, error=exc, delay=delay)
            if pause(delay):
                return
            continue
        failures = 0 if report is None or report.ok else failures + 1
        state = _state(current)
        changes = tuple(_changes(seen, state, current, report))
        seen = state
        done = not forever and current.settled and report is None
        delay = 0.0 if done else (interval if failures == 0 else min(MAX_BACKOFF, interval * 2 ** failures))
        yield Round(number=number, plan=current, report=report, changes=changes, done=done, delay=delay)
        if done or (report is not None and report.interrupted) or pause(delay):
            return


#: rounds a loop waits for racing loops to cancel their duplicates before a guard's refusal ends it
_MAX_HELD = 5
_HELD_NOTE = "racing applies left duplicates beyond --max-cancel; waiting for them to cancel their own"


def _racers_settling(plan: Plan) -> bool:
    """Whether the plan trips a guard only because of duplicates (several loops submitted the same jobs at once,
    and each one's verification cancels the newer ones within moments): without them it would pass."""
    if not plan.refusals or not any(entry.reason is Reason.DUPLICATE for entry in plan.entries):
        return False
    others = tuple(entry for entry in plan.entries if entry.reason is not Reason.DUPLICATE)
    return not replace(plan, entries=others).refusals


def _state(plan: Plan) -> dict[str, str]:
    """Per name, what a person would notice changing: the current run's status and the plan's decision."""
    return {entry.name: f"{_status(entry)}|{_decision(entry)}" for entry in plan.entries}


def _status(entry: PlanEntry) -> str:
    return entry.current.status.name if entry.current is not None else "-"


def _decision(entry: PlanEntry) -> str:
    if entry.action is Action.NONE and not entry.waits_for:
        return entry.reason.value if entry.reason.value in ("blocked", "exhausted") else ""
    return f"{entry.action.value} {entry.reason.value}"


def _changes(before: Mapping[str, str], after: Mapping[str, str], plan: Plan,
             report: ApplyReport | None) -> Iterator[str]:
    """Lines for what changed: statuses that moved, decisions that appeared, and what apply did."""
    entries = {entry.name: entry for entry in plan.entries}
    # the first round's plan is shown whole: only what apply did is news
    for name in sorted(after) if before else ():
        if before.get(name) == after[name]:
            continue
        old_status = before.get(name, "-|").split("|")[0]
        new_status, decision = after[name].split("|")
        entry = entries[name]
        if old_status != new_status and new_status != "-":
            yield f"{name}: {old_status} -> {new_status}" if old_status != "-" else f"{name}: {new_status}"
        if decision and (before.get(name, "|").split("|")[1] != decision):
            yield f"{name}: {decision}" + (f" ({', '.join(f'{n}: {s}' for n, s in entry.waits_for)})"
                                           if entry.waits_for else "")
    if report is not None:
        for outcome in report.outcomes:
            what = outcome.result.value + (f" job {outcome.created[:8]}" if outcome.created else "")
            yield f"{outcome.name}: {what}" + (f": {outcome.error}" if outcome.error else "")
