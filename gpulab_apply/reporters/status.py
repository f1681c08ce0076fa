"""Status reporters: an aligned table for people, versioned JSON for scripts."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from gpulab_apply.model import format_timestamp
from gpulab_apply.reconcile.status import StatusRow

JSON_FORMAT_VERSION = 1


def age_text(seconds: int | None) -> str:
    """``45s``, ``12m``, ``3h05m``, ``2d04h``."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds}s"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if hours == 0:
        return f"{minutes}m"
    if days == 0:
        return f"{hours}h{minutes % 60:02d}m"
    return f"{days}d{hours % 24:02d}h"


def _cells(row: StatusRow) -> list[str]:
    job = row.job
    if row.source is None:
        source = "(not in the job files)"
    else:
        source = str(row.source) + (" (changed since submitted)" if row.in_sync is False else "")
    return [
        row.name,
        job.status.name if job else "(not submitted)",
        age_text(row.age_seconds),
        "-" if row.gpus is None else str(row.gpus),
        job.uuid if job else "-",
        source,
    ]


def report_text(rows: Sequence[StatusRow], stream: TextIO, *, set_name: str, color: bool = False) -> None:
    stream.write(f"Set: {set_name}\n")
    if not rows:
        stream.write("No managed jobs and no job files.\n")
        return
    table = [["NAME", "STATUS", "AGE", "GPUS", "JOB", "FILE"], *(_cells(row) for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]) - 1)]
    stream.writelines("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=False))
                     + "  " + line[-1] + "\n" for line in table)


def report_json(rows: Sequence[StatusRow], stream: TextIO, *, set_name: str, color: bool = False) -> None:
    document: dict[str, Any] = {
        "format_version": JSON_FORMAT_VERSION,
        "set": set_name,
        "jobs": [{
            "name": row.name,
            "uuid": row.job.uuid if row.job else None,
            "status": row.job.status.name if row.job else None,
            "created": format_timestamp(row.job.created) if row.job and row.job.created else None,
            "age_seconds": row.age_seconds,
            "gpus": row.gpus,
            "in_sync": row.in_sync,
            "source": {"file": row.source.path, "line": row.source.line} if row.source else None,
        } for row in rows],
    }
    json.dump(document, stream, indent=2, ensure_ascii=False)
    stream.write("\n")


REPORTERS: dict[str, Callable[..., None]] = {"text": report_text, "json": report_json}
