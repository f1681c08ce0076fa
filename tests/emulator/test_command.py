"""``gpulab-apply emulator``: serves until interrupted, with its settings from flags or a config file."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from gpulab_apply.emulator import EmulatorConfig, TLSSettings, serve_in_thread
from gpulab_apply.emulator.config import NodeConfig
from gpulab_apply.errors import ConfigError
from gpulab_apply.gpulab.api import DEFAULT_API_VERSION
from tests.conftest import RunCli
from tests.emulator.test_api import TIMEOUT, status_of, submit
from tests.fixtures.jobs import make_job


@contextmanager
def serving(*options: str) -> Iterator[tuple[str, list[str]]]:
    """Run ``gpulab-apply emulator --port 0 OPTIONS`` in a child process: (API root, 4 banner lines).

    On exit it sends Ctrl-C and checks that the command stops cleanly.
    """
    process = subprocess.Popen([sys.executable, "-m", "gpulab_apply", "emulator", "--port", "0", *options],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert process.stdout is not None
        banner = [process.stdout.readline() for _ in range(4)]
        yield banner[0].split()[3], banner
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    assert (process.returncode, out) == (0, "Stopped.\n"), err


def test_serves_until_interrupted(tmp_path: Path) -> None:
    database = tmp_path / "state.sqlite3"
    with serving("--db", str(database), "--nodes", "1", "--gpus-per-node", "2", "--speed", "10") as (root, banner):
        # the banner advertises the API version clients use by default (issue 19)
        assert root.startswith("http://127.0.0.1:") and root.endswith(f"/api/gpulab/v{DEFAULT_API_VERSION}/")
        assert banner == [
            f"GPULab emulator serving {root} (also v3.0 and v3.1), state in {database}\n",
            f"Use: gpulab-apply plan --endpoint {root}\n",
            "Plain HTTP: every request acts as urn:publicid:IDN+ilabt.imec.be+user+local\n",
            "Press Ctrl-C to stop.\n",
        ]
        slaves = requests.get(root + "slaves", timeout=TIMEOUT).json()
        assert [(slave["name"], slave["gpu"]["systemTotal"]) for slave in slaves] == [("gpu1", 2)]
    assert database.exists()


def test_refuses_a_remote_address_without_allow_remote(cli: RunCli) -> None:
    result = cli("emulator", "--host", "0.0.0.0", "--port", "0")
    assert result.exit_code == 1
    assert result.stderr == ("Error: refusing to serve the emulator on 0.0.0.0: it is not a loopback address\n"
                             "Hint: use 127.0.0.1, or allow it explicitly (--allow-remote)\n")


def test_tls_flags_go_together(cli: RunCli, tmp_path: Path) -> None:
    result = cli("emulator", "--tls-cert", str(tmp_path / "c.pem"))
    assert result.exit_code == 64
    assert "--tls-cert, --tls-key and --client-ca go together" in result.stderr


def test_config_file(tmp_path: Path) -> None:
    path = tmp_path / "emulator.json"
    path.write_text(json.dumps({"speed": 5, "nodes": [{"name": "v100", "gpus": 8, "gpu_model": "Tesla V100"}]}))
    config = EmulatorConfig.from_file(path)
    assert config.nodes == (NodeConfig(name="v100", gpus=8, gpu_model="Tesla V100"),)
    assert config.speed == 5
    path.write_text(json.dumps({"sped": 5}))
    with pytest.raises(ConfigError, match="unknown emulator setting"):
        EmulatorConfig.from_file(path)
    path.write_text("{")
    with pytest.raises(ConfigError, match=r"emulator.json:1:2: not valid JSON"):
        EmulatorConfig.from_file(path)


def test_sped_up_clock_runs_jobs_in_real_seconds() -> None:
    # 1 real second = 1 simulated hour: a 10-minute job takes well under a second
    with serve_in_thread(config=EmulatorConfig(speed=3600)) as emulator:
        uuid = submit(emulator, make_job(runtime="10 min"))
        deadline = time.monotonic() + 60  # 615 simulated s are 0.17 s: a generous bound, it does not hang
        while status_of(emulator, uuid) != "FINISHED":
            assert time.monotonic() < deadline, status_of(emulator, uuid)
            time.sleep(0.02)


def _ipv6_loopback_works() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback_works(), reason="this host has no IPv6 loopback")
def test_ipv6_loopback() -> None:
    with serve_in_thread(host="::1", config=EmulatorConfig(clock="manual")) as emulator:
        assert emulator.base_url.startswith("http://[::1]:")
        assert requests.get(emulator.api_root() + "version", timeout=TIMEOUT).status_code == 200


def test_tls_banner(tmp_path: Path, server_tls: TLSSettings) -> None:
    with serving("--db", str(tmp_path / "t.db"), "--tls-cert", str(server_tls.cert_file), "--tls-key",
                 str(server_tls.key_file), "--client-ca", str(server_tls.client_ca_file)) as (root, banner):
        assert root.startswith("https://127.0.0.1:")
        assert banner[1:] == [
            (f"Use: gpulab-apply plan --endpoint {root} --cert LOGIN.pem --ca-bundle CA.pem (the CA of the server "
             "certificate)\n"),
            f"Client certificates must be signed by {server_tls.client_ca_file}; the user is read from them\n",
            "Press Ctrl-C to stop.\n",
        ]


def test_a_busy_port_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "gpulab_apply", "emulator", "--port", str(port), "--db",
                               str(tmp_path / "e.db")], capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 1, proc
    assert proc.stderr == (f"Error: port {port} on 127.0.0.1 is in use (another emulator, or another program)\n"
                           "Hint: Stop that program, pick another --port, or use --port 0 for any free port.\n")


def test_the_nodes_help_states_the_real_default(cli: RunCli) -> None:
    """Without --nodes the emulator serves the mixed cluster, not 2 nodes: the help says so."""
    from gpulab_apply.emulator.config import default_cluster

    help_text = " ".join(cli("emulator", "--help").stdout.split())
    assert f"[default: the mixed cluster of docs/emulator.md, {len(default_cluster())} nodes]" in help_text
    assert "(default 2)" not in help_text
