from __future__ import annotations

import subprocess
import sys

from gpulab_apply import __version__
from tests.conftest import RunCli


def test_version(cli: RunCli) -> None:
    result = cli("--version")
    assert result.exit_code == 0, result
    assert result.stdout == f"gpulab-apply, version {__version__}\n"


def test_usage_error_exits_64_not_2(cli: RunCli) -> None:
    # 2 means "changes present" for this tool, so click's usage errors are remapped.
    result = cli("no-such-command")
    assert result.exit_code == 64, result
    assert "No such command 'no-such-command'" in result.stderr


def test_python_dash_m_runs_the_same_cli() -> None:
    proc = subprocess.run([sys.executable, "-m", "gpulab_apply", "--version"], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"gpulab-apply, version {__version__}"
