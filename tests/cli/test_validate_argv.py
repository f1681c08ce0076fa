"""``validate``'s command line, read by click: plain ones, what click answers, the one setting it reads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import RunCli
from tests.job_texts import MINIMAL_JOB_YAML

#: accepted by GPULab but not canonical: a warning, an error with --strict
LAX_JOB = MINIMAL_JOB_YAML.format(name="lax").replace("cpus: 1", 'cpus: "1"')


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    jobs = tmp_path / "jobs.d"
    jobs.mkdir()
    (jobs / "ok.yaml").write_text(MINIMAL_JOB_YAML.format(name="ok"))
    (jobs / "lax.yaml").write_text(LAX_JOB)
    (tmp_path / "broken.yaml").write_text("name: [unclosed\n")
    (tmp_path / "-dash.yaml").write_text(MINIMAL_JOB_YAML.format(name="dash"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


#: command lines, and what each gives: the exit status and how stdout starts (click reads every one)
PLAIN: list[tuple[list[str], int, str]] = [
    ([], 0, "jobs.d/lax.yaml:3:21: warning: "),
    (["jobs.d"], 0, "jobs.d/lax.yaml:3:21: warning: "),
    (["jobs.d", "broken.yaml"], 1, "broken.yaml:2:1: error: YAML: "),
    (["--strict", "jobs.d"], 1, "jobs.d/lax.yaml:3:21: error: "),
    (["jobs.d", "--strict"], 1, "jobs.d/lax.yaml:3:21: error: "),
    (["--format", "json", "jobs.d/ok.yaml", "broken.yaml"], 1, '{\n  "version": 2,\n  "kind": "validate",\n  "ok": false'),
    (["--format=github", "broken.yaml"], 1, "::error file=broken.yaml,line=2,col=1,"),
    (["jobs.d", "--format", "text", "--format", "json"], 0, '{\n  "version": 2,\n  "kind": "validate",\n  "ok": true'),
    (["--", "-dash.yaml"], 0, "1 job in 1 file is valid.\n"),
]


@pytest.mark.parametrize(("args", "exit_code", "starts"), PLAIN, ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_a_plain_command_line(project: Path, cli: RunCli, args: list[str], exit_code: int, starts: str) -> None:
    result = cli("validate", *args)
    assert result.exit_code == exit_code, result
    assert result.stdout.startswith(starts), result
    assert result.stderr == ""


def test_auto_format_is_github_under_github_actions(project: Path, cli: RunCli) -> None:
    taken = cli("validate", "broken.yaml", env={"GITHUB_ACTIONS": "true"})
    assert taken.stdout.startswith("::error file=broken.yaml,"), taken


@pytest.mark.parametrize(("args", "exit_code", "says"), [
    (["--help"], 0, "Usage: gpulab-apply validate [OPTIONS] [PATHS]..."),
    (["--format", "xml"], 64, "Invalid value for '--format'"),
    (["--bogus"], 64, "No such option '--bogus'"),
    # a PATH named that does not exist is a usage error, as the docs say (docs/commands.md#exit-codes)
    (["--strict", "--", "--strict"], 64, "Path '--strict' does not exist"),
    (["missing.yaml"], 64, "Path 'missing.yaml' does not exist"),
])
def test_click_answers_help_and_usage_errors(project: Path, cli: RunCli, args: list[str], exit_code: int,
                                                   says: str) -> None:
    result = cli("validate", *args)
    assert result.exit_code == exit_code, result
    assert says in result.stdout + result.stderr


def test_validate_is_offline_and_explains_only_invalid_jobs_with_jsonschema(project: Path) -> None:
    """Through the real entry point: a valid file imports no network stack (validate is offline), no plan
    machinery, and not jsonschema, which only explains a job the compiled checker refuses (it costs ~75 ms)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "gpulab_apply", "validate", "jobs.d/ok.yaml"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "1 job in 1 file is valid.\n"
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "gpulab_apply.jobfiles.validation" in imported  # the listing is real
    assert imported & {"requests", "jsonschema", "deepdiff", "gpulab_apply.reconcile.planner"} == set()


def test_an_unknown_config_key_is_named_with_every_known_one_unmasked(project: Path, cli: RunCli) -> None:
    (project / "gpulab-apply.yaml").write_text("stric: true\n")
    result = cli("validate")
    assert result.exit_code == 1, result
    assert "unknown setting 'stric'" in result.stderr
    assert "endpoint, api-version" in result.stderr and "***" not in result.stderr


def test_on_a_terminal_the_error_line_is_red_and_the_hint_plain(project: Path) -> None:
    from tests.fixtures.terminal import Terminal

    (project / "gpulab-apply.yaml").write_text("stric: true\n")
    with Terminal("validate", cwd=project) as terminal:
        terminal.read_to_end()
    assert terminal.returncode == 1, terminal.text
    lines = terminal.text.replace("\r\n", "\n").splitlines()
    assert lines[0].startswith("\x1b[31mError: ") and lines[0].endswith("unknown setting 'stric'\x1b[0m"), lines
    assert lines[1].startswith("Hint: The settings a config file may hold: endpoint, ")
