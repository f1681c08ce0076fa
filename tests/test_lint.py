"""The static checks the README promises run with the suite, so they stay true: mypy (strict) and ruff."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

#: mypy --strict over the package takes many seconds: the fast tier leaves it out, CI runs it
pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    "command",
    [
        [str(BIN / "mypy")],
        [str(BIN / "ruff"), "check", "gpulab_apply", "tests", "bench"],
    ],
    ids=["mypy", "ruff"],
)
def test_static_checks_pass(command: list[str]) -> None:
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
