"""Benchmark masking with many secrets: N distinct ``${V}`` values, then validate and render them.

One job file sets N environment variables, each from its own ``${V<i>}`` with a distinct value; the CLI
validates it and renders it (every value goes through masking). Linear masking means 2,000 values cost
about twice 1,000 (docs/security.md). Times are wall seconds of one in-process run each.

Usage: ``python bench/masking.py [N ...]`` (default: 500 1000 2000).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

from gpulab_apply.cli import run


def job_file(count: int) -> str:
    environment = "".join(f"      V{i}: ${{V{i}}}\n" for i in range(count))
    return ("name: many-secrets\nrequest:\n  resources: {cpus: 1, gpus: 1, cpuMemoryGb: 4}\n"
            "  docker:\n    image: debian:stable\n    command: nvidia-smi\n    environment:\n" + environment)


def measure(count: int) -> float:
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / "jobs.d").mkdir()
        (root / "jobs.d" / "many.yaml").write_text(job_file(count))
        for i in range(count):
            os.environ[f"V{i}"] = f"value-{i:05d}-{i * 7919 % 100003:06d}"
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()) as out:
            for command in ("validate", "render"):
                status = run([command, str(root / "jobs.d")] if command == "validate"
                             else [command, "--jobs", str(root / "jobs.d")])
                assert status == 0, out.getvalue()[-2000:]
        elapsed = time.perf_counter() - start
        assert f"value-{count - 1:05d}" not in out.getvalue()
        return elapsed


def main(sizes: list[int]) -> None:
    for count in sizes:
        print(f"{count:>6} distinct ${{V}} values: validate + render in {measure(count):6.2f} s", flush=True)


if __name__ == "__main__":
    # --quick: a smoke test of the script itself (tests/test_bench.py), no figure
    main([50] if sys.argv[1:] == ["--quick"] else [int(arg) for arg in sys.argv[1:]] or [500, 1000, 2000])
