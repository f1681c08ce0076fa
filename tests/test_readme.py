"""The README's promises that a newcomer relies on first."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import RunCli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _code_blocks(language: str = "") -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, flags=re.DOTALL | re.MULTILINE)


def test_ci_runs_exactly_the_readme_test_command() -> None:
    test_command = next(block.strip() for block in _code_blocks() if "pytest" in block)
    ci_commands = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
                   if line and not line.startswith(("#", "set ", "cd "))]
    assert ci_commands == [test_command]


def test_the_readme_example_job_validates(tmp_path: Path, cli: RunCli) -> None:
    (example,) = _code_blocks("yaml")
    (tmp_path / "example.yaml").write_text(example, encoding="utf-8")
    result = cli("validate", str(tmp_path))
    assert result.exit_code == 0, result
