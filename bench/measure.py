"""Helpers the benchmarks share: run a whole process and read its wall time and peak memory; summarise runs.

Peak memory is the command's own maximum resident set size, as GNU ``/usr/bin/time`` reads it. Without
``time`` in between, Linux would report at least this (large) benchmark process's size for every
child: a child's peak starts from the memory it was forked from.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Run:
    wall: float  # seconds
    peak_mib: float
    returncode: int
    stdout: str
    stderr: str


GNU_TIME = shutil.which("time", path="/usr/bin:/bin")


def run(command: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None,
        stdin: str | None = None, check: bool = True) -> Run:
    """Run ``command`` to its end; its wall time, peak RSS and output."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r") as peak_file:
        timed = [GNU_TIME, "-f", "%M", "-o", peak_file.name, *command] if GNU_TIME else list(command)
        start = time.perf_counter()
        process = subprocess.Popen(timed, stdout=out, stderr=err, env=dict(env) if env else None, cwd=cwd,
                                   stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL)
        if stdin is not None:
            assert process.stdin is not None
            process.stdin.write(stdin.encode())
            process.stdin.close()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        peak_kib = float(peak_file.read().split()[-1]) if GNU_TIME else usage.ru_maxrss
        result = Run(wall, peak_kib / 1024, process.returncode, out.read().decode(errors="replace"),
                     err.read().decode(errors="replace"))
    if check and result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {result.returncode}:\n{result.stdout[-2000:]}"
                         f"{result.stderr[-2000:]}")
    return result


def spread(values: Sequence[float], unit: str = "s", scale: float = 1.0, digits: int = 2) -> str:
    """``median (min, max)`` of ``values``."""
    shown = [value * scale for value in values]
    return (f"{statistics.median(shown):.{digits}f} {unit} "
            f"(min {min(shown):.{digits}f}, max {max(shown):.{digits}f}, n={len(shown)})")


def ratios(first: Sequence[float], second: Sequence[float]) -> list[float]:
    """Pair by pair (the runs were interleaved, so each pair saw the same machine load)."""
    return [a / b for a, b in zip(first, second, strict=True)]
