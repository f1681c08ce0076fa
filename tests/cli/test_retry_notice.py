"""Retries are visible on a terminal: a "retrying…" line instead of seconds of silence (docs/client.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import RunCli
from tests.fixtures.terminal import Terminal

UNREACHABLE = "http://127.0.0.1:9/api/gpulab/v3.1/"  # the discard port: nothing listens on loopback


def project(tmp_path: Path) -> Path:
    (tmp_path / "jobs.d").mkdir()
    (tmp_path / "jobs.d" / "a.yaml").write_text("name: a\nrequest:\n  resources: {cpus: 1, gpus: 0, cpuMemoryGb: 4}\n"
                                                "  docker: {image: debian, command: x}\n")
    (tmp_path / "gpulab-apply.yaml").write_text("retries: 1\n")
    return tmp_path


@pytest.mark.slow
def test_a_retry_says_so_on_a_terminal(tmp_path: Path) -> None:
    with Terminal("status", "jobs.d", "--endpoint", UNREACHABLE, "--project", "p", cwd=project(tmp_path)) as terminal:
        terminal.read_to_end()
    text = terminal.text.replace("\r\n", "\n")
    assert terminal.returncode == 1, text
    lines = text.splitlines()
    retry = next(line for line in lines if "retrying" in line)
    assert retry.startswith("gpulab-apply: GET jobs failed (connection refused); retrying in ")
    assert retry.endswith(" s (attempt 2 of 2)…"), retry
    assert lines.index(retry) < next(i for i, line in enumerate(lines) if "Error: " in line)  # red on a terminal


def test_no_retry_line_when_not_on_a_terminal(tmp_path: Path, cli: RunCli, monkeypatch: pytest.MonkeyPatch,
                                              quick_retries: None) -> None:
    monkeypatch.chdir(project(tmp_path))
    result = cli("status", "jobs.d", "--endpoint", UNREACHABLE, "--project", "p")
    assert result.exit_code == 1
    assert "retrying" not in result.stderr and result.stderr.startswith("Error: Could not list jobs"), result
