"""The benchmarks' own measuring: each process's peak memory is its own, not the benchmark's."""

from __future__ import annotations

import subprocess
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


#: the scripts quick enough to run as a smoke test with every suite (the others take 8 to 40 s with --quick)
QUICK = ("client", "emulator", "emulator_scale", "fidelity", "masking", "plan_apply", "standin", "startup", "sweep",
         "validate", "workflows")


@pytest.mark.slow
@pytest.mark.parametrize("script", QUICK)
def test_a_benchmark_script_runs(script: str, tmp_path: Path) -> None:
    """A script that no longer runs (a changed banner, a renamed option) fails here, not the day a figure is
    wanted. At --quick's small scale a target may be missed (exit 1 saying so); anything else is a failure."""
    bench = Path(__file__).resolve().parent.parent / "bench"
    result = subprocess.run([sys.executable, str(bench / f"{script}.py"), "--quick"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300, check=False)
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.returncode == 0 or (result.returncode == 1 and "TARGET MISSED" in result.stdout), result
