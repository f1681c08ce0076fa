"""apply of 40 jobs over mutual TLS vs the loop a user would write instead: ``gpulab-cli submit`` per job.

Run: ``.venv/bin/python bench/versus_cli.py [--quick]``. Both talk HTTPS with a client certificate (an
RSA login PEM, as GPULab issues) to the same bench-only GPULab stand-in (``bench/standin.py``: GPULab's
own job models, in memory, not the project's emulator), emptied before each run. Runs alternate, A B
A B, and the ratio is taken pair by pair. Target: gpulab-apply >= 50x faster.

GPULab's official CLI (GPL, a test oracle) lives in its own virtual environment: ``.venv-oracle``
(``python3 -m venv .venv-oracle && .venv-oracle/bin/pip install imecilabt-gpulab-cli==3.11.12``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.fixtures: the certificates

from measure import Run, ratios, run, spread
from standin import serve

from tests.fixtures.certificates import CertificateAuthority

GPULAB_CLI = Path(os.environ.get("GPULAB_ORACLE_VENV") or ROOT / ".venv-oracle") / "bin" / "gpulab-cli"
GPULAB_APPLY = Path(sys.executable).with_name("gpulab-apply")
PROJECT = "local"
TARGET = 50.0


def job(index: int) -> dict[str, object]:
    return {"name": f"sweep-{index:03d}", "description": f"learning-rate sweep, run {index}",
            "request": {"resources": {"cpus": 4, "gpus": 1, "cpuMemoryGb": 16},
                        "docker": {"image": "pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime",
                                   "command": ["python", "train.py", f"--seed={index}"],
                                   "environment": {"SEED": index}}}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3, help="pairs of runs")
    parser.add_argument("--quick", action="store_true", help="10 jobs, one pair (a smoke test, not a figure)")
    options = parser.parse_args()
    if options.quick:
        options.jobs, options.repeat = 10, 1
    if not GPULAB_CLI.exists():
        sys.exit(f"the official GPULab CLI is not at {GPULAB_CLI} (see this script's docstring)")
    authority = CertificateAuthority.create()
    with tempfile.TemporaryDirectory(prefix="gpulab-bench-") as scratch:
        directory = Path(scratch)
        cert_pem, key_pem = authority.server_pems("127.0.0.1")
        (directory / "server.pem").write_bytes(cert_pem)
        (directory / "server.key").write_bytes(key_pem)
        (directory / "ca.pem").write_bytes(authority.cert_pem)
        (directory / "login.pem").write_bytes(authority.login_pem("jdoe"))
        (directory / "home").mkdir()
        jobs_dir = directory / "jobs.d"
        jobs_dir.mkdir()
        bodies = [job(index) for index in range(options.jobs)]
        for body in bodies:
            (jobs_dir / f"{body['name']}.json").write_text(json.dumps(body))
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(directory / "home"),
               "REQUESTS_CA_BUNDLE": str(directory / "ca.pem")}  # the official CLI's way to trust a CA
        with serve(directory / "server.pem", directory / "server.key", directory / "ca.pem") as (server, base_url):
            apply_command = [str(GPULAB_APPLY), "apply", str(jobs_dir), "--yes", "--max-cancel", "0",
                             "--endpoint", base_url + "gpulab/v4.0/", "--cert", str(directory / "login.pem"),
                             "--ca-bundle", str(directory / "ca.pem"), "--set", "bench", "--project", PROJECT]

            def apply_once() -> Run:
                server.reset()
                result = run(apply_command, env=env)
                assert len(server.jobs) == options.jobs, result.stdout
                return result

            def cli_loop() -> tuple[float, float]:
                server.reset()
                wall, peak = 0.0, 0.0
                for body in bodies:
                    result = run([str(GPULAB_CLI), "--cert", str(directory / "login.pem"), "--custom-master-url",
                                  base_url, "submit", "--project", PROJECT], env=env, stdin=json.dumps(body))
                    wall, peak = wall + result.wall, max(peak, result.peak_mib)
                assert len(server.jobs) == options.jobs
                return wall, peak

            apply_once()  # warm-up: byte-code and file caches for both
            cli_loop()
            applies: list[Run] = []
            loops: list[tuple[float, float]] = []
            for _ in range(options.repeat):
                applies.append(apply_once())
                loops.append(cli_loop())
    apply_times = [result.wall for result in applies]
    loop_times = [wall for wall, _ in loops]
    speedups = ratios(loop_times, apply_times)
    print(f"{options.jobs} jobs over mutual TLS to a GPULab stand-in (GPULab's models, not the emulator), "
          f"{os.cpu_count()} CPUs")
    print(f"gpulab-apply apply:          {spread(apply_times)}, peak {max(r.peak_mib for r in applies):.0f} MiB")
    print(f"gpulab-cli submit, per job:  {spread(loop_times)}, peak {max(p for _, p in loops):.0f} MiB per process")
    print(f"speed-up (loop / apply):     {spread(speedups, unit='x', digits=1)}  target >= {TARGET:g}x")


if __name__ == "__main__":
    main()
