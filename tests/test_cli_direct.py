"""``validate`` without click (gpulab_apply/cli/direct.py): the same answers as through click, and the fallback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gpulab_apply.cli import direct
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


PLAIN = [
    [],
    ["jobs.d"],
    ["jobs.d", "broken.yaml"],
    ["--strict", "jobs.d"],
    ["jobs.d", "--strict"],
    ["--format", "json", "jobs.d/ok.yaml", "broken.yaml"],
    ["--format=github", "broken.yaml"],
    ["jobs.d", "--format", "text", "--format", "json"],
    ["--", "-dash.yaml"],
    ["--strict", "--", "--strict"],
    ["missing.yaml"],
]


@pytest.mark.parametrize("args", PLAIN, ids=lambda args: " ".join(args) or "no-arguments")
def test_a_plain_command_line_gives_what_click_gives(project: Path, cli: RunCli, monkeypatch: pytest.MonkeyPatch,
                                                      args: list[str]) -> None:
    assert direct.parse_validate(args) is not None
    taken = cli("validate", *args)
    monkeypatch.setattr(direct, "parse_validate", lambda args: None)  # every command line through click
    assert taken == cli("validate", *args)


def test_auto_format_is_github_under_github_actions_on_both_paths(project: Path, cli: RunCli,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    taken = cli("validate", "broken.yaml", env={"GITHUB_ACTIONS": "true"})
    assert taken.stdout.startswith("::error file=broken.yaml,"), taken
    monkeypatch.setattr(direct, "parse_validate", lambda args: None)
    assert taken == cli("validate", "broken.yaml", env={"GITHUB_ACTIONS": "true"})


@pytest.mark.parametrize("args", [
    ["--help"], ["-h"], ["jobs.d", "--help"], ["--format"], ["--format", "xml"], ["--format="], ["--formats", "json"],
    ["--bogus"], ["-"], ["--strict=yes"], ["-s"],
])
def test_anything_else_is_left_to_click(args: list[str]) -> None:
    assert direct.parse_validate(args) is None


@pytest.mark.parametrize(("args", "exit_code", "says"), [
    (["--help"], 0, "Usage: gpulab-apply validate [OPTIONS] [PATHS]..."),
    (["--format", "xml"], 64, "Invalid value for '--format'"),
    (["--bogus"], 64, "No such option '--bogus'"),
])
def test_click_answers_what_the_direct_path_leaves(project: Path, cli: RunCli, args: list[str], exit_code: int,
                                                   says: str) -> None:
    result = cli("validate", *args)
    assert result.exit_code == exit_code, result
    assert says in result.stdout + result.stderr


def test_the_parser_knows_exactly_the_options_the_click_command_declares() -> None:
    import click

    from gpulab_apply.cli.validate import validate
    from gpulab_apply.reporters import AUTO, formats

    options = {param.name: param for param in validate.params if isinstance(param, click.Option)}
    assert {opt for param in options.values() for opt in param.opts} == direct.OPTIONS
    assert [opt for param in options.values() if param.is_flag for opt in param.opts] == ["--strict"]
    choice = options["fmt"].type
    assert isinstance(choice, click.Choice)
    assert set(choice.choices) == {*formats("validate"), AUTO}
    assert [param.name for param in validate.params if isinstance(param, click.Argument)] == ["paths"]


def test_validate_starts_without_click_dataclasses_or_package_resources(project: Path) -> None:
    """What validate's start-up figure rests on (docs/validate.md#start-up), through the real entry point."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "gpulab_apply", "validate", "jobs.d/ok.yaml"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "1 job in 1 file is valid.\n"
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "gpulab_apply.jobfiles.validation" in imported  # the listing is real
    heavy = {"click", "dataclasses", "inspect", "importlib.resources", "hashlib", "requests", "jsonschema", "deepdiff"}
    assert imported & heavy == set()


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
