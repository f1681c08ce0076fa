"""GitHub Actions workflow commands (``::error file=...,line=...::message``), escaped as the runner expects."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

from gpulab_apply.masking import safe
from gpulab_apply.problems import Location

Level = Literal["error", "warning", "notice"]


def _escape_data(text: str) -> str:
    # a message may span lines on purpose (a diff under a job); each line loses its control characters
    text = "\n".join(safe(line) for line in text.split("\n"))
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(safe(text)).replace(":", "%3A").replace(",", "%2C")


def annotation(level: Level, message: str, *, location: Location | None = None, title: str | None = None) -> str:
    """One workflow-command line; GitHub pins it to ``location`` in the pull request's diff."""
    properties = []
    if location is not None:
        properties.append(f"file={_escape_property(location.path)}")
        if location.line is not None:
            properties.append(f"line={location.line}")
            if location.column is not None:
                properties.append(f"col={location.column}")
    if title:
        properties.append(f"title={_escape_property(title)}")
    head = f"::{level} {','.join(properties)}" if properties else f"::{level}"
    return f"{head}::{_escape_data(message)}"


# --- many annotations: GitHub shows only so many per step ----------------------------------------------------

#: GitHub shows at most this many annotations of each level (error, warning, notice) per step; the rest are
#: dropped silently. docs/plan-apply.md#github-annotations
LIMIT_PER_LEVEL = 10
#: members a sweep's annotation names before counting the rest
SWEEP_NAMES = 20


class Annotation(NamedTuple):
    """One annotation to write, before the limits decide whether it is one or a plain log line."""

    level: Level
    message: str
    location: Location | None = None
    title: str | None = None


class JobRow(NamedTuple):
    """One job of a plan as its annotations show it: ``+ train-a: new``, with the lines under it."""

    symbol: str
    name: str
    why: str
    level: Level
    location: Location | None = None
    sweep: str | None = None
    details: tuple[str, ...] = ()


def job_annotations(rows: Sequence[JobRow], *, title: str) -> list[Annotation]:
    """One annotation per job outside a sweep, one per sweep (at its document, naming its members), and one
    for the jobs no file defines any more (to cancel: they have no line to pin to)."""
    groups: dict[tuple[str, str], list[JobRow]] = {}
    for row in rows:
        key = ("sweep", row.sweep) if row.sweep else ("gone", "") if row.location is None else ("job", row.name)
        groups.setdefault(key, []).append(row)
    found: list[Annotation] = []
    for (kind, sweep), members in groups.items():
        level: Level = "warning" if any(row.level == "warning" for row in members) else "notice"
        if kind == "job":
            (row,) = members
            found.append(Annotation(row.level, "\n".join([f"{row.symbol} {row.name}: {row.why}", *row.details]),
                                    row.location, title))
            continue
        counts: dict[str, int] = {}
        for row in members:
            counts[row.symbol] = counts.get(row.symbol, 0) + 1
        head = ", ".join(f"{symbol}{count}" for symbol, count in sorted(counts.items()))
        lines = [f"{row.symbol} {row.name}: {row.why}" for row in members[:SWEEP_NAMES]]
        if len(members) > SWEEP_NAMES:
            lines.append(f"… and {len(members) - SWEEP_NAMES} more")
        first = (f"sweep {sweep}: {head}" if kind == "sweep"
                 else f"{len(members)} job(s) no job file defines any more: {head}")
        found.append(Annotation(level, "\n".join([first, *lines]), members[0].location, title))
    return found


def within_limits(annotations: Sequence[Annotation], *, limit: int = LIMIT_PER_LEVEL) -> list[str]:
    """The lines to write: the annotations in order, at most ``limit`` of each level; past that, the last slot
    of the level says how many more there are, and those follow as plain log lines (never lost, never a
    workflow command)."""
    by_level: dict[str, int] = {}
    for item in annotations:
        by_level[item.level] = by_level.get(item.level, 0) + 1
    written: dict[str, int] = {}
    lines: list[str] = []
    overflow: list[str] = []
    for item in annotations:
        seen = written.get(item.level, 0)
        written[item.level] = seen + 1
        over = by_level[item.level] > limit
        if not over or seen < limit - 1:
            lines.append(annotation(item.level, item.message, location=item.location, title=item.title) + "\n")
            continue
        if seen == limit - 1:
            rest = by_level[item.level] - seen
            lines.append(annotation(item.level, f"{rest} more {item.level}s than GitHub shows per step: see the "
                                    "log of this step", title=item.title) + "\n")
        overflow.append(plain_line(item))
    return lines + overflow


def plain_line(item: Annotation) -> str:
    """An annotation as a log line: ``gpulab-apply plan: notice: jobs.d/a.yaml:3: + a: new``, the lines under
    it indented; it starts with the title, so never with ``::``."""
    where = f"{item.location}: " if item.location is not None else ""
    first, *rest = [safe(line) for line in item.message.split("\n")]
    return "".join([f"{safe(item.title or 'gpulab-apply')}: {item.level}: {safe(where)}{first}\n",
                    *(f"    {line}\n" for line in rest)])
