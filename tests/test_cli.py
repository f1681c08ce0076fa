from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


def test_a_reader_that_leaves_early_gets_no_traceback(tmp_path: Path) -> None:
    # `gpulab-apply validate | head -1`: more output than a pipe holds, and the reader closes it.
    # click turns the broken pipe into exit 1; nothing between it and the exit may catch it otherwise.
    jobs = tmp_path / "jobs.d"
    jobs.mkdir()
    for index in range(800):
        (jobs / f"j{index}.yaml").write_text(f"name: j{index}\nrequest: {{resources: {{gpus: zero}}}}\n")
    with subprocess.Popen([sys.executable, "-m", "gpulab_apply", "validate", str(jobs)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None and process.stderr is not None
        first = process.stdout.readline()
        process.stdout.close()
        error = process.stderr.read()
        assert process.wait(timeout=60) == 1
    assert first.startswith(str(jobs))
    assert "Traceback" not in error, error
