"""The benchmarks' own measuring: each process's peak memory is its own, not the benchmark's."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
measure = pytest.importorskip("measure")


@pytest.mark.skipif(measure.GNU_TIME is None, reason="GNU time is not installed")
def test_a_child_s_peak_memory_is_its_own() -> None:
    ballast = bytearray(300 << 20)  # this process is now larger than either child
    ballast[::4096] = b"1" * len(ballast[::4096])  # resident, not just reserved
    small = measure.run([sys.executable, "-c", "pass"])
    big = measure.run([sys.executable, "-c", "x = bytearray(200 << 20); x[::4096] = b'1' * len(x[::4096])"])
    assert small.peak_mib < 100 < len(ballast) >> 20
    assert big.peak_mib - small.peak_mib > 150
    assert (small.returncode, small.stdout) == (0, "")
