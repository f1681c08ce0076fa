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

from gpulab_apply.masking import markdown_text, mask_message, safe, safe_log

if TYPE_CHECKING:
    from gpulab_apply.reconcile.planner import Plan, PlanEntry
    from gpulab_apply.reconcile.results import JobResult, Results, SweepGrid
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
    # each report imports only its own kind's reporters: a status comment loads no planner
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
    from gpulab_apply.reporters.plan import diff_line  # as in report_plan: only a plan's comment loads it

    lines = "\n".join(html.escape(diff_line(diff)) for diff in entry.diffs)
    return f"<details><summary>{md(entry.name)}: {len(entry.diffs)} field(s)</summary>\n\n<pre>\n{lines}\n</pre>\n" \
           "</details>\n"


def report_status(report: StatusReport, stream: TextIO, *, color: bool = False) -> None:
    """One table row per job: status, age, GPUs, file, and why a queued job waits."""
    from gpulab_apply.reporters.status import (  # only a status comment loads it
        cells,
        counts_line,
        sweep_lines,
        usage_of_rows,
    )

    head = f"### gpulab-apply status of set {code(report.set_name)}\n\n**{counts_line(report)}**\n\n"
    # a line per sweep, above the table so that a long table cut to fit never loses it
    if summary := [*sweep_lines(report.rows), *usage_of_rows(report).lines()]:
        head += "".join(f"- {md(line)}\n" for line in summary) + "\n"
    if not report.rows:
        stream.write(head + "No managed jobs and no job files.\n")
        return
    sections = results_sections(report.results) if report.results is not None and report.results.jobs else []
    rows = ["| " + " | ".join(md(cell) for cell in cells(row, report.now)) + " |\n" for row in report.rows]
    table_head = "| job | status | age | GPUs | job id | file | waiting because |\n|---|---|---|---:|---|---|---|\n"
    jobs_heading = "#### Jobs\n\n" if sections else ""
    stream.write(fit(head, [*sections, (jobs_heading + table_head, "jobs", rows)]))


#: a state at a glance, in a sweep's grid and before a failed job's log
STATE_SYMBOLS = {"FINISHED": "✅", "FAILED": "❌", "CANCELLED": "⛔", "HALTED": "⏸️", "DELETED": "🗑️", "RUNNING": "▶️",
                 "STARTING": "▶️", "QUEUED": "⏳", "ONHOLD": "⏳", "ASSIGNED": "⏳", "NOT SUBMITTED": "·"}


def results_sections(results: Results) -> list[tuple[str, str, list[str]]]:
    """The results report (docs/results.md) as :func:`fit` sections: the summary and the merge that submitted the
    jobs, a grid per sweep, a row per ended job, and the last log lines of each failed job."""
    head = f"#### Results\n\n**{md(results.summary())}**\n\n"
    if results.commits:
        single = len(results.commits) == 1 and not results.without_commit
        parts = [code(commit.short) + (" (with uncommitted changes)" if commit.dirty else "")
                 + ("" if single else f" ({count})") for commit, count in results.commits]
        if results.without_commit:
            parts.append(f"no recorded commit ({results.without_commit})")
        head += f"Jobs submitted by merge{'' if single else 's'} {', '.join(parts)}.\n\n"
    sections: list[tuple[str, str, list[str]]] = [(head, "", [])]
    for grid in results.sweeps:
        sections.append(_grid(grid))
    ended = [job for job in results.jobs if job.final]
    rows = [f"| {STATE_SYMBOLS.get(job.status, '')} {md(job.name)} | {job.status} | "
            f"{'-' if job.exit_code is None else job.exit_code} | {run_time(job.run_seconds)} | "
            f"{job.used_hours:g} / {'-' if job.requested_hours is None else f'{job.requested_hours:g}'} |\n"
            for job in ended]
    if rows:
        table_head = "| ended job | state | exit code | run time | GPU-hours used / requested |\n|---|---|---:|---:|---:|\n"
        sections.append((table_head, "ended jobs", rows))
    logs = [_log_details(job) for job in results.jobs if job.log_tail is not None]
    if results.details_left_out:
        logs.append(f"… the logs of {results.details_left_out} more failed jobs were not read; "
                    "`gpulab-apply logs NAME` shows one.\n\n")
    if logs:
        sections.append(("", "failed-job logs", logs))
    return sections


def _grid(grid: SweepGrid) -> tuple[str, str, list[str]]:
    def state(members: Sequence[JobResult]) -> str:
        return " ".join(STATE_SYMBOLS.get(m.status, "") + ("" if m.status == "FINISHED" else f" {m.status}")
                        + (f" (exit {m.exit_code})" if m.status == "FAILED" and m.exit_code is not None else "")
                        for m in members) or " "

    title = f"**Sweep {code(grid.name)}**"
    if grid.axes is None:
        members = [f"{state([m])} {md(m.name)}" for m in grid.members]
        lines = [" · ".join(members[i:i + 6]) + "<br>\n" for i in range(0, len(members), 6)]
        return f"{title}: {len(grid.members)} members\n\n", "members", lines
    row_axis, column_axis = grid.axes
    heading = (f"{title} ({md(row_axis)} by {md(column_axis)})\n\n"
               f"| {md(row_axis)} \\ {md(column_axis)} | " + " | ".join(md(c) for c in grid.columns) + " |\n"
               + "|---" * (len(grid.columns) + 1) + "|\n")
    rows = [f"| **{md(row)}** | " + " | ".join(state(grid.cell(row, column)) for column in grid.columns) + " |\n"
            for row in grid.rows]
    return heading, "grid rows", rows


def _log_details(job: JobResult) -> str:
    """A failed job's last log lines, collapsed: a fenced block shows them as written (no markup, no mention),
    fenced by more backticks than any run in them; made safe (no control characters) and masked."""
    lines = [mask_message(safe_log(line)).replace("\n", " ") for line in job.log_tail or ()]
    longest = max((len(run) for line in lines for run in re.findall("`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    exit_code = "" if job.exit_code is None else f", exit code {job.exit_code}"
    return (f"<details><summary>❌ {md(job.name)}: FAILED{exit_code}; the last {len(lines)} log lines</summary>\n\n"
            f"{fence}text\n" + "".join(f"{line}\n" for line in lines) + f"{fence}\n\n</details>\n\n")


def run_time(seconds: float | None) -> str:
    """``45 s``, ``12 min``, ``3 h 05 min``, ``2 d 4 h``; ``-`` when the job never ran."""
    if seconds is None:
        return "-"
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min"
    if whole < 86400:
        return f"{whole // 3600} h {whole % 3600 // 60:02d} min"
    return f"{whole // 86400} d {whole % 86400 // 3600} h"


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
    # each section may end with a line saying how many of its items were left out
    budget = MARKDOWN_BUDGET - len(head) - sum(len(heading) + 100 for heading, _, _ in sections) - 200
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
