"""Crash reports: what a bug leaves behind for the person who reports it (docs/plan-apply.md#crash-reports).

An exception the tool did not expect is never shown as a bare traceback: the command boundary writes this
report to a file, says where, and exits 70. The report holds what a maintainer needs (versions, the command
line, the traceback) with every secret masked, in a file only its owner may read. Nothing here prints.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from gpulab_apply import __version__

#: the prefix of every crash report's file name, in the system's temporary directory
PREFIX = "gpulab-apply-crash-"


def write_crash_report(error: BaseException, argv: Sequence[str], *, mask: Callable[[str], str],
                       directory: Path | None = None, now: datetime | None = None) -> Path:
    """Write the report of ``error`` (raised by the command ``argv``) and return its path.

    ``mask`` hides secrets in every line (the command line may hold a token, the traceback a value).
    The file is created new (never follows or overwrites an existing path) with mode 600.
    """
    when = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    text = mask(report_text(error, argv))
    fd, name = tempfile.mkstemp(prefix=f"{PREFIX}{when}-", suffix=".txt",
                                dir=str(directory) if directory is not None else None)
    try:
        os.write(fd, text.encode("utf-8", "backslashreplace"))
    finally:
        os.close(fd)
    return Path(name)


def report_text(error: BaseException, argv: Sequence[str]) -> str:
    """The report itself: versions, platform, command line and traceback."""
    lines = [
        "gpulab-apply crash report",
        f"version: gpulab-apply {__version__}",
        f"python: {platform.python_implementation()} {platform.python_version()} ({sys.executable})",
        f"platform: {platform.platform()}",
        f"command: gpulab-apply {' '.join(argv)}",
        "",
        "".join(traceback.format_exception(error)).rstrip("\n"),
        "",
    ]
    return "\n".join(lines)
