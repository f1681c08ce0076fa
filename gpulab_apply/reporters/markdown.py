"""Markdown reports for pull-request comments: the plan, the status, and a command that failed.

A comment is replaced in place on every push, so it must always say the truth: a plan that could not be
made is a comment saying so and why (:func:`report_failure`), never the previous plan left standing.
Every comment stays under :data:`MARKDOWN_BUDGET` characters for any number of jobs.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from gpulab_apply.masking import markdown_text, mask_message, safe

if TYPE_CHECKING:
    from gpulab_apply.reconcile.planner import Plan, PlanEntry
    from gpulab_apply.reporters import Failure
    from gpulab_apply.reporters.capacity import CapacityLine
    from gpulab_apply.reporters.status import StatusReport

#: GitHub refuses comments over 65,536 characters; leave room for a sticky-comment header
MARKDOWN_BUDGET = 60_000
#: capacity lines a plan comment shows (each is a distinct request; a sweep's members share one)
CAPACITY_LINES = 20


def md(text: str) -> str:
    """Text safe inside a Markdown table cell (names, server messages, paths are free text): no markup, no line
    breaks, no live mention, link or image (:func:`~gpulab_apply.masking.markdown_text`)."""
    return markdown_text(text)


def code(text: str) -> str:
    """``text`` as an inline code span, which Markdown shows as written (no mention, link or HTML): fenced by
    one backtick more than the longest run in it, so none of its own can close the span."""
    shown = safe(text)
    longest = max((len(run) for run in re.findall("`+", shown)), default=0)
    fence = "`" * (longest + 1)
    padded = f" {shown} " if longest else shown
    return f"{fence}{padded}{fence}"


def report_plan(plan: Plan, stream: TextIO, *, color: bool = False) -> None:
    """The summary first, then one table row per job, then collapsed field differences."""
    from gpulab_apply.reporters.capacity import capacity_lines
    from gpulab_apply.reporters.plan import (
        cost_line,
        explain,
        narrowed_line,
        no_changes,
        shown,
        summary_line,
        sweep_lines,
        symbol,
    )
    from gpulab_apply.reporters.problems import problem_text

    s = plan.summary
    head = (
        f"### gpulab-apply plan for set {code(plan.set_name)}\n\n"
        f"**{summary_line(s)}**\n\n" + (f"> {md(narrowed)}\n\n" if (narrowed := narrowed_line(plan)) else "")
        + (f"{cost}\n\n" if (cost := cost_line(plan)) else "") +
        "| create | replace | cancel | protected | unmanaged | unchanged |\n"
        "|---:|---:|---:|---:|---:|---:|\n"
        f"| {s.create} | {s.replace}{f' ({s.replace_running} running)' if s.replace_running else ''} | "
        f"{s.cancel}{f' ({s.cancel_running} running)' if s.cancel_running else ''} | {s.blocked} | "
        f"{s.unmanaged} | {s.unchanged} |\n\n"
    ) + "".join(f"> **Warning:** {md(str(problem.location))}: {md(problem_text(problem))}\n\n"
                for problem in plan.file_warnings) \
      + "".join(f"> **Warning:** {md(warning)}\n\n" for warning in plan.warnings) \
      + capacity_quotes(capacity_lines(plan)) + "".join(
        f"> **Apply will refuse:** {md(r.message)}. {md(r.hint)}\n\n" for r in plan.refusals) \
      + "".join(f"- {md(line)}\n" for line in sweep_lines(plan)) + ("\n" if sweep_lines(plan) else "")
    entries = shown(plan)
    if not entries:
        stream.write(head + no_changes(plan) + "\n")
        return
    rows = [f"| `{symbol(e)}` | {md(e.name)} | {md(explain(e))} | "
            f"{md(str(e.desired.location)) if e.desired else ''} |\n" for e in entries]
    details = [_details(e) for e in entries if e.diffs]
    stream.write(fit(head, [("| | job | what and why | file |\n|---|---|---|---|\n", "jobs", rows),
                            ("", "diffs", details)]))


def capacity_quotes(lines: Sequence[CapacityLine]) -> str:
    """The capacity findings as quoted lines, the first :data:`CAPACITY_LINES` of them: the comment must fit."""
    shown = "".join(f"> **{line.label}:** {md(line.names)}: {md(line.message)}\n\n" for line in lines[:CAPACITY_LINES])
    more = len(lines) - CAPACITY_LINES
    return shown + (f"> … {more} more capacity findings; see the CI log or `--format json`.\n\n" if more > 0 else "")


def _details(entry: PlanEntry) -> str:
    from gpulab_apply.reporters.plan import diff_line

    lines = "\n".join(html.escape(diff_line(diff)) for diff in entry.diffs)
    return f"<details><summary>{md(entry.name)}: {len(entry.diffs)} field(s)</summary>\n\n<pre>\n{lines}\n</pre>\n" \
           "</details>\n"


def report_status(report: StatusReport, stream: TextIO, *, color: bool = False) -> None:
    """One table row per job: status, age, GPUs, file, and why a queued job waits."""
    from gpulab_apply.reporters.status import cells, counts_line, sweep_lines, usage_of_rows

    head = f"### gpulab-apply status of set {code(report.set_name)}\n\n**{counts_line(report)}**\n\n"
    # a line per sweep, above the table so that a long table cut to fit never loses it
    if summary := [*sweep_lines(report.rows), *usage_of_rows(report).lines()]:
        head += "".join(f"- {md(line)}\n" for line in summary) + "\n"
    if not report.rows:
        stream.write(head + "No managed jobs and no job files.\n")
        return
    rows = ["| " + " | ".join(md(cell) for cell in cells(row, report.now)) + " |\n" for row in report.rows]
    table_head = "| job | status | age | GPUs | job id | file | waiting because |\n|---|---|---|---:|---|---|---|\n"
    stream.write(fit(head, [(table_head, "jobs", rows)]))


def report_failure(failure: Failure, stream: TextIO, *, color: bool = False) -> None:
    """What the command was doing, that it failed, why, and each problem at its file and line."""
    subject = f" for set {code(failure.set_name)}" if failure.set_name else ""
    head = (f"### gpulab-apply {failure.kind}{subject}: failed\n\n"
            f"**{md(mask_message(failure.message))}**\n\n"
            + (f"{md(mask_message(failure.hint))}\n\n" if failure.hint else ""))
    rows = [f"| {md(str(p.location))} | {p.severity.value} | {md(p.json_path)} | "
            f"{md(mask_message(p.message + (f' ({p.hint})' if p.hint else '')))} |\n" for p in failure.problems]
    table = "| file | severity | field | problem |\n|---|---|---|---|\n" if rows else ""
    stream.write(fit(head, [(table, "problems", rows)]))


def fit(head: str, sections: Sequence[tuple[str, str, Sequence[str]]]) -> str:
    """``head`` and each section's heading and items, in order, within :data:`MARKDOWN_BUDGET` characters;
    items that do not fit are counted ("… 12 more jobs not shown")."""
    budget = MARKDOWN_BUDGET - len(head) - sum(len(heading) for heading, _, _ in sections) - 200
    body, used = [head], 0
    for heading, noun, items in sections:
        body.append(heading)
        kept = 0
        for item in items:
            if used + len(item) > budget:
                break
            body.append(item)
            used += len(item)
            kept += 1
        if kept < len(items):
            more = f"\n… {len(items) - kept} more {noun} not shown; see the CI log or `--format json`.\n\n"
            body.append(more)
            used += len(more)
        if heading and items:
            body.append("\n")
    return "".join(body)
