"""``apply --watch``: the reconcile loop (:mod:`gpulab_apply.reconcile.loop`) with its rounds rendered
(docs/workflows.md#the-reconcile-loop).

Text and ``github``: the first plan as ``plan`` shows it, then one line per change, prefixed with the round
(``[round 3] train-lr1: QUEUED -> RUNNING``), and a last line when the set is settled; on a terminal, a live
line under them says where the jobs are until the next round. JSON: one document per round (JSON Lines,
``"kind": "round"``). Every string from a job file or GPULab goes through ``safe``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from gpulab_apply.app.applying import watch_rounds
from gpulab_apply.cli.output import Output
from gpulab_apply.cli.signals import settling
from gpulab_apply.errors import ExitStatus, InterruptedByUser, JobsFailedError
from gpulab_apply.gpulab.client import GpulabClient
from gpulab_apply.masking import mask_text, safe
from gpulab_apply.reconcile.guards import Guards
from gpulab_apply.reconcile.loop import Round
from gpulab_apply.reconcile.plan import Plan, Reason
from gpulab_apply.reporters.github import annotation
from gpulab_apply.settings import Settings
from gpulab_apply.workspace import Selection

#: reasons a settled job did not do its work: the loop exits 1 naming them
_FAILED = frozenset({Reason.FAILED, Reason.CANCELLED, Reason.HALTED, Reason.DELETED, Reason.EXHAUSTED,
                     Reason.BLOCKED})


def watch(output: Output, selection: Selection, client: GpulabClient, settings: Settings, *, guards: Guards,
          targets: Sequence[str], rerun_failed: bool, cancel_protected: Sequence[str], parallelism: int,
          interval: float, forever: bool) -> int:
    """Run rounds until the set is settled (or stopped), rendering each; the job files are read every round."""
    last: Round | None = None
    with settling() as stop:
        for last in watch_rounds(selection, client, settings, guards=guards, targets=targets,
                                 rerun_failed=rerun_failed, cancel_protected=cancel_protected,
                                 parallelism=parallelism, interval=interval, forever=forever, stop=stop.event,
                                 hide=output.hide):
            _render(output, last, first=last.number == 1)
    output.done = True
    if stop.signal is not None:
        raise InterruptedByUser(f"apply --watch was stopped by {stop.signal.name} after {last.number if last else 0} "
                                "round(s)", exit_status=stop.exit_status,
                                hint="run it again: it goes on from what GPULab lists")
    failed = _failed(last.plan if last is not None else None)
    if failed:
        raise JobsFailedError(f"{len(failed)} job(s) did not finish: {', '.join(failed[:10])}",
                              hint="see the plan above; rerun them with a new rerun token or --rerun-failed")
    return ExitStatus.OK


def _failed(plan: Plan | None) -> list[str]:
    if plan is None:
        return []
    return [safe(entry.name) for entry in plan.entries if entry.desired is not None and entry.reason in _FAILED]


def _render(output: Output, round_: Round, *, first: bool) -> None:
    write = output.write
    if output.fmt == "json":
        write(output.masked(json.dumps(_document(round_))) + "\n")
        return
    if first and round_.plan is not None:
        output.emit(round_.plan, kind="plan", final=False)
    live = output.fmt == "text" and output.is_terminal()
    if live:  # the live line of the round before gives way to this round's lines, then comes back below them
        write("\r\x1b[K")
    _render_lines(output, round_)
    if live and not round_.done and round_.plan is not None:
        write(output.masked(f"[round {round_.number}] {_counts(round_.plan)}; next round in {round_.delay:g} s"))


def _counts(plan: Plan) -> str:
    """``3 FINISHED, 2 RUNNING, 1 waiting``: where the set's jobs are, for the live line on a terminal."""
    counts: dict[str, int] = {}
    for entry in plan.entries:
        if entry.desired is not None:
            state = ("waiting" if entry.waits else entry.reason.value if entry.reason in _FAILED
                     else entry.current.status.name if entry.current is not None else "submitted")
            counts[state] = counts.get(state, 0) + 1
    return ", ".join(f"{count} {state}" for state, count in sorted(counts.items(), key=lambda item: -item[1]))


def _render_lines(output: Output, round_: Round) -> None:
    """The round's lines, masked with the command's secrets (a job name built from ``${VAR}``)."""

    def write(text: str) -> None:
        output.write(output.masked(text))

    head = f"[round {round_.number}] "
    if round_.error is not None:
        message = f"{safe(mask_text(round_.error.message))}; next round in {round_.delay:g} s"
        write((annotation("warning", message, title="gpulab-apply apply --watch") if output.fmt == "github"
               else f"{head}error: {message}") + "\n")
        return
    if round_.note is not None:
        write(f"{head}{safe(round_.note)}\n")
    write("".join(f"{head}{safe(line)}\n" for line in round_.changes))
    if round_.done and round_.plan is not None:
        write(f"[round {round_.number}] settled: {_settled_line(round_.plan)}\n")


def _settled_line(plan: Plan) -> str:
    counts: dict[str, int] = {}
    for entry in plan.entries:
        if entry.desired is None:
            continue
        state = entry.reason.value if entry.reason in _FAILED else (
            entry.current.status.name if entry.current is not None else entry.reason.value)
        counts[state] = counts.get(state, 0) + 1
    return "every job has ended (" + ", ".join(f"{count} {state}" for state, count in sorted(counts.items())) + ")"


def _document(round_: Round) -> dict[str, Any]:
    plan, report = round_.plan, round_.report
    return {
        "version": 1, "kind": "round", "number": round_.number, "done": round_.done, "delay": round_.delay,
        "changes": list(round_.changes),
        "summary": None if plan is None else {"create": plan.summary.create, "replace": plan.summary.replace,
                                              "cancel": plan.summary.cancel, "waiting": plan.summary.waiting,
                                              "stuck": plan.summary.stuck},
        "outcomes": [] if report is None else [{"name": o.name, "result": o.result.value, "created": o.created,
                                                 "error": o.error} for o in report.outcomes],
        "error": None if round_.error is None else mask_text(round_.error.message),
        "note": round_.note,
    }

