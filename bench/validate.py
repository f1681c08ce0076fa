"""Benchmark: `gpulab-apply validate` on 2,000 job files vs. only parsing them with ruamel's C loader.

Both are measured in the same run on the same files: the whole validate process (start-up,
imports, discovery, parsing, schema and cross-field checks, report) against one process's loop that
only parses the files with ``YAML(typ="safe", pure=False)``. Prints both medians and their ratio;
the target is a ratio of at most 1.5.

    python bench/validate.py [--files 2000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ruamel.yaml import YAML

JOB = """\
# generated job {i}
name: sweep-{i:05d}
description: learning-rate sweep, run {i}
request:
  resources:
    cpus: {cpus}
    gpus: {gpus}
    cpuMemoryGb: {memory}
    gpuModel: [A100, V100]
  docker:
    image: pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime
    command: ["python", "/project/train.py", "--lr", "{lr}", "--seed", "{i}"]
    environment:
      PYTHONUNBUFFERED: "1"
      RUN_INDEX: {i}
    storage:
      - hostPath: /project_ghent
        containerPath: /project
      - /project_scratch
    workingDir: /project/
  scheduling:
    restartable: {restartable}
    minDuration: 1 day
    maxDuration: 3 days
    notBefore: 2026-01-10T08:00:00Z
    notAfter: 2026-02-10T08:00:00Z
  extra:
    emailOnEnd: [researcher@example.com]
x-gpulab-apply:
  rerun: {i}
"""


def generate(directory: Path, count: int) -> list[Path]:
    paths = []
    for i in range(count):
        subdir = directory / f"group-{i % 20:02d}"
        subdir.mkdir(exist_ok=True)
        path = subdir / f"job-{i:05d}.yaml"
        path.write_text(JOB.format(i=i, cpus=1 + i % 16, gpus=i % 3, memory=4 + i % 60, lr=f"{1e-4 * (1 + i % 9):.4g}",
                                   restartable="true" if i % 2 else "false"), encoding="utf-8")
        paths.append(path)
    return paths


def parse_only(paths: list[Path]) -> float:
    yaml = YAML(typ="safe", pure=False)
    start = time.perf_counter()
    for path in paths:
        with open(path, encoding="utf-8") as stream:
            list(yaml.load_all(stream.read()))
    return time.perf_counter() - start


def validate_process(directory: Path) -> float:
    script = Path(sys.executable).with_name("gpulab-apply")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "gpulab_apply"]
    start = time.perf_counter()
    proc = subprocess.run([*command, "validate", str(directory)], capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"validate failed ({proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="200 files, 2 repeats (a smoke test, not a figure)")
    options = parser.parse_args()
    if options.quick:
        options.files, options.repeat = 200, 2
    directory = Path(tempfile.mkdtemp(prefix="gpulab-apply-bench-"))
    try:
        paths = generate(directory, options.files)
        validate_process(directory)  # warm the file cache and the byte-code cache for both sides
        parse_only(paths)
        validate_times, parse_times = [], []
        for _ in range(options.repeat):  # interleaved, so both see the same machine load
            validate_times.append(validate_process(directory))
            parse_times.append(parse_only(paths))
    finally:
        shutil.rmtree(directory)
    validate_s, parse_s = statistics.median(validate_times), statistics.median(parse_times)
    print(f"files:                        {options.files}")
    print(f"gpulab-apply validate:        {validate_s * 1000:8.1f} ms  (whole process, median of {options.repeat})")
    print(f"C safe loader, parse only:    {parse_s * 1000:8.1f} ms  (one process, median of {options.repeat})")
    print(f"ratio:                        {validate_s / parse_s:8.2f}x  (target <= 1.5x)")


if __name__ == "__main__":
    main()
