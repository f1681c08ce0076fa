"""The official GPULab CLI (imecilabt-gpulab-cli 3.11.12, GPL, test-only) works against the emulator in TLS mode.

It pins old requests/cryptography, so it lives in its own virtual environment: ``.venv-oracle`` beside
the project, or the one named by ``GPULAB_ORACLE_VENV``. Create it with
``python3 -m venv .venv-oracle && .venv-oracle/bin/pip install -q imecilabt-gpulab-cli==3.11.12``.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from gpulab_apply.emulator import RunningEmulator
from gpulab_apply.jobmodel.status import JobStatus

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ORACLE_VENV = Path(os.environ.get("GPULAB_ORACLE_VENV") or PROJECT_ROOT / ".venv-oracle")
GPULAB_CLI = ORACLE_VENV / "bin" / "gpulab-cli"

#: each test drives the official CLI in subprocesses for seconds: slow
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not GPULAB_CLI.exists(),
    reason=f"the official GPULab CLI is not installed at {GPULAB_CLI}; create it with: python3 -m venv "
           ".venv-oracle && .venv-oracle/bin/pip install -q imecilabt-gpulab-cli==3.11.12")]

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def gpulab_cli(tls_emulator: RunningEmulator, login_pem: Path, ca_file: Path, tmp_path: Path) -> Run:
    """``gpulab_cli("jobs", stdin=None)``: run the official CLI as jdoe against the emulator (reference §4.1)."""
    home = tmp_path / "home"  # the CLI writes ~/.ssh config entries
    home.mkdir()
    # REQUESTS_CA_BUNDLE, not --servercert: the CLI's client-certificate adapter ignores the latter
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "REQUESTS_CA_BUNDLE": str(ca_file)}

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(GPULAB_CLI), "--cert", str(login_pem), "--custom-master-url", tls_emulator.base_url, *args],
            input=stdin, capture_output=True, text=True, env=env, timeout=120, check=False)
        assert result.returncode == 0, f"gpulab-cli {' '.join(args)}\n{result.stdout}\n{result.stderr}"
        return result

    return run


def test_official_cli_submits_lists_shows_and_cancels(gpulab_cli: Run, tls_emulator: RunningEmulator) -> None:
    job = {"name": "oracle-job", "description": "submitted by gpulab-cli",
           "request": {"resources": {"cpus": 1, "gpus": 1, "cpuMemoryGb": 2},
                       "docker": {"image": "debian:stable", "command": "nvidia-smi"}}}
    uuid = gpulab_cli("submit", "--project", "myproj", stdin=json.dumps(job)).stdout.strip()
    stored = tls_emulator.emulator.job_text(uuid, "4.0")
    owner = json.loads(stored)["owner"]
    assert (owner["userUrn"], owner["projectUrn"]) == ("urn:publicid:IDN+ilabt.imec.be+user+jdoe",
                                                      "urn:publicid:IDN+ilabt.imec.be+project+myproj")
    tls_emulator.advance(20)

    listing = gpulab_cli("jobs").stdout.splitlines()
    assert listing[0].split()[:3] == ["TASK", "ID", "NAME"]
    row = next(line for line in listing if line.startswith(uuid))
    assert row.split()[1] == "oracle-job" and row.split()[-1] == "RUNNING"

    details = gpulab_cli("jobs", uuid).stdout
    assert f"Job ID: {uuid}" in details
    assert "Status: RUNNING" in details
    assert "Worker Name: gpu1" in details

    assert gpulab_cli("cancel", uuid).stdout.strip() == uuid
    assert JobStatus.parse(json.loads(tls_emulator.emulator.job_text(uuid, "4.0"))["state"]["status"]) \
        is JobStatus.CANCELLED
    assert "Status: CANCELLED" in gpulab_cli("jobs", uuid).stdout


def test_official_cli_holds_releases_logs_halts_and_removes(gpulab_cli: Run, tls_emulator: RunningEmulator) -> None:
    job = {"name": "oracle-restartable",
           "request": {"resources": {"cpus": 1, "gpus": 0, "cpuMemoryGb": 2},
                       "docker": {"image": "debian:stable", "command": "train",
                                  "environment": {"GPULAB_EMULATOR_RUNTIME": "20 s"}},
                       "scheduling": {"restartable": True}}}
    uuid = gpulab_cli("submit", "--project", "myproj", "--hold", stdin=json.dumps(job)).stdout.strip()
    assert gpulab_cli("release", uuid).stdout.strip() == uuid
    tls_emulator.advance(25)  # running since 15 s: half of its 20 s of work done
    assert gpulab_cli("log", uuid).stdout.splitlines()[-1] == "[gpulab-emulator] progress 50% (10 s of 20 s)"
    assert [line.split(" -> ")[-1] for line in gpulab_cli("debug", uuid).stdout.splitlines()] == [
        "ONHOLD", "QUEUED", "ASSIGNED", "STARTING", "RUNNING"]
    assert gpulab_cli("halt", uuid).stdout.strip() == uuid
    tls_emulator.advance(10)
    assert "Status: HALTED" in gpulab_cli("jobs", uuid).stdout
    gpulab_cli("rm", "--finished", uuid)
    assert "Status: DELETED" in gpulab_cli("jobs", uuid).stdout
