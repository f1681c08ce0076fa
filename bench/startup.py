"""Start-up: ``gpulab-apply --help`` and ``gpulab-apply validate`` of one job file, beside its peers on the same file.

Run: ``.venv/bin/python bench/startup.py [--quick]``. Whole processes, as a user or CI starts them
(the installed ``gpulab-apply`` script), interleaved so each round sees the same machine load; the
ratio to a bare interpreter start is taken round by round. The peers, when installed in the same
environment (``pip install check-jsonschema yamllint``; neither is a dependency): check-jsonschema
against the same schema (the peer that does the same job) and yamllint (YAML only, no schema).
Target: validate well ahead of check-jsonschema and near yamllint.

Run it from a regular install, as users have (``python -m venv /tmp/v && /tmp/v/bin/pip install . &&
/tmp/v/bin/python bench/startup.py``): an editable install (``pip install -e``) adds its import hook,
about 10 ms, to every start, ``python -c pass`` included, and the script says so.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from measure import run, spread

SCHEMA = Path(__file__).resolve().parent.parent / "gpulab_apply" / "schemas" / "job2.schema.json"
JOB = """\
name: hello
description: one job, one file
request:
  resources: {cpus: 1, gpus: 1, cpuMemoryGb: 4}
  docker:
    image: debian:stable
    command: [nvidia-smi]
"""


def editable_install() -> bool:
    """Whether gpulab-apply is installed in editable mode (PEP 660's direct_url.json says so)."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        text = distribution("gpulab-apply").read_text("direct_url.json")
    except PackageNotFoundError:
        return False
    return bool(text and json.loads(text).get("dir_info", {}).get("editable"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="3 rounds")
    options = parser.parse_args()
    rounds = 3 if options.quick else options.rounds
    script = Path(sys.executable).with_name("gpulab-apply")
    with tempfile.TemporaryDirectory(prefix="gpulab-bench-") as scratch:
        job_file = Path(scratch) / "hello.yaml"
        job_file.write_text(JOB)
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "gpulab-apply --help": [str(script), "--help"],
            "gpulab-apply validate (1 file)": [str(script), "validate", str(job_file)],
        }
        peers = {"check-jsonschema (1 file)": ["--schemafile", str(SCHEMA), str(job_file)],
                 "yamllint (1 file)": ["-d", "relaxed", str(job_file)]}
        for name, args in peers.items():
            peer = Path(sys.executable).with_name(name.split()[0])
            if peer.exists():
                commands[name] = [str(peer), *args]
            else:
                print(f"note: {peer.name} is not installed beside this Python; pip install it to compare")
        env = {**os.environ, "NO_COLOR": "1"}
        for command in commands.values():  # warm-up: byte code, file cache
            run(command, env=env)
        times: dict[str, list[float]] = {name: [] for name in commands}
        peaks: dict[str, float] = dict.fromkeys(commands, 0.0)
        for _ in range(rounds):
            for name, command in commands.items():
                result = run(command, env=env)
                times[name].append(result.wall)
                peaks[name] = max(peaks[name], result.peak_mib)
    floor = times["python -c pass"]
    print(f"whole processes, {rounds} interleaved rounds, {os.cpu_count()} CPUs")
    if editable_install():
        print("note: an editable install: every start, python -c pass included, pays its import hook; "
              "install with 'pip install .' for the figures users see")
    for name, values in times.items():
        line = f"{name:32} {spread(values, unit='ms', scale=1000, digits=0)}, peak {peaks[name]:.0f} MiB"
        if values is not floor:
            relative = [a / b for a, b in zip(values, floor, strict=True)]
            line += f"; {spread(relative, unit='x python -c pass', digits=1)}"
        print(line)


if __name__ == "__main__":
    main()
