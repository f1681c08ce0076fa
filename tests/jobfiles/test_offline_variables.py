"""Offline commands need no secrets (docs/authoring.md#variables-offline): with a ``${VAR}`` unset, every command
but apply reads the job files with the placeholder and says what a submission will need; apply refuses.

Through the real CLI, against the emulator where a command talks to GPULab.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gpulab_apply.emulator import EmulatorConfig, serve_in_thread
from tests.conftest import CliResult, RunCli
from tests.harness import Repo

BIN = Path(sys.executable).parent
SECRET = "wandb-offline-secret-0123"
#: WANDB_API_KEY in a defaults file (shared by every job), REGISTRY_PASSWORD in an image, TAG in a value whose
#: check (the image pattern) the placeholder would fail
DEFAULTS = """\
request:
  resources: {cpus: 1, gpus: 1, cpuMemoryGb: 4}
  docker:
    environment: {WANDB_API_KEY: "${WANDB_API_KEY}", GPULAB_EMULATOR_RUNTIME: 1 hour}
"""
JOBS = {
    "a": "name: a\nrequest:\n  docker:\n    image: debian:stable\n    command: train.sh\n",
    "b": "name: b\nrequest:\n  docker:\n    image: bot:${REGISTRY_PASSWORD}@registry.example.org/team/b:${TAG}\n"
         "    command: train.sh\n",
}
VARIABLES = ("REGISTRY_PASSWORD", "TAG", "WANDB_API_KEY")
UNSET = {name: None for name in VARIABLES}
SET = {"WANDB_API_KEY": SECRET, "REGISTRY_PASSWORD": "pa55-offline", "TAG": "v1"}


@pytest.fixture
def lab(tmp_path: Path, cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> Iterator[Repo]:
    monkeypatch.chdir(tmp_path)
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with serve_in_thread(config=EmulatorConfig(speed=200)) as running:
        lab = Repo(tmp_path, running, cli)
        (lab.jobs / "_defaults.yaml").write_text(DEFAULTS, encoding="utf-8")
        for name, text in JOBS.items():
            (lab.jobs / f"{name}.yaml").write_text(text, encoding="utf-8")
        yield lab


def run(lab: Repo, cli: RunCli, *args: str, connect: bool = True, env: dict[str, str | None] | None = None) -> CliResult:
    return cli(*args, *(lab.connection if connect else ()), env=UNSET if env is None else env)


def refused(result: CliResult) -> bool:
    return "is not set" in result.stdout + result.stderr


@pytest.mark.parametrize("fmt", ["text", "json", "github", "gitlab"])
def test_validate_needs_no_secret_and_says_what_a_submission_needs(lab: Repo, cli: RunCli, fmt: str) -> None:
    result = run(lab, cli, "validate", "--format", fmt, connect=False)
    assert result.exit_code == 0, result
    assert not refused(result)
    needs = "environment variables REGISTRY_PASSWORD, TAG, WANDB_API_KEY not set here"
    if fmt == "json":
        document = json.loads(result.stdout)
        assert (document["ok"], document["unsetVariables"]) == (True, list(VARIABLES))
        assert [job["name"] for job in document["jobs"]] == ["a", "b"]
    elif fmt == "text":
        assert f"Note: {needs}" in result.stdout and "2 jobs in 2 files are valid." in result.stdout
    elif fmt == "github":  # one notice for the set, not one per job
        assert [line for line in result.stdout.splitlines() if line.startswith("::")] == [
            f"::notice title=gpulab-apply validate::{needs}: shown as ${{NAME}} and left unchecked; "
            + "apply needs them to submit"]
    else:
        assert json.loads(result.stdout) == []


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_render_shows_the_placeholders(lab: Repo, cli: RunCli, fmt: str) -> None:
    result = run(lab, cli, "render", "b", "--format", fmt, connect=False)
    assert result.exit_code == 0, result
    image = "bot:${REGISTRY_PASSWORD}@registry.example.org/team/b:${TAG}"
    if fmt == "json":
        document = json.loads(result.stdout)
        assert document["unsetVariables"] == list(VARIABLES)
        assert document["jobs"][0]["job"]["request"]["docker"]["image"] == "bot:***@registry.example.org/team/b:${TAG}"
    else:
        assert result.stdout.startswith("# environment variables REGISTRY_PASSWORD, TAG, WANDB_API_KEY not set here")
        assert "registry.example.org/team/b:${TAG}" in result.stdout
    assert image.split("@")[1] in result.stdout


def test_only_apply_needs_the_values_and_plan_hashes_the_same_without_them(lab: Repo, cli: RunCli) -> None:
    before = run(lab, cli, "apply", "--yes")
    assert before.exit_code == 1 and refused(before), before
    assert "environment variable WANDB_API_KEY is not set" in before.stdout
    applied = run(lab, cli, "apply", "--yes", env=SET)
    assert applied.exit_code == 0, applied
    assert "2 created" in applied.stdout  # the refused apply sent nothing
    # without the values: the same spec hashes (${VAR} as written), so nothing to do, and a warning that apply
    # would need them, in every format
    for fmt in ("text", "json", "markdown", "github"):
        plan = run(lab, cli, "plan", "--detailed-exitcode", "--format", fmt)
        assert plan.exit_code == 0, plan
        assert "not set here" in plan.stdout and "WANDB" in plan.stdout, fmt
        assert not refused(plan) and SECRET not in plan.stdout + plan.stderr
    document = json.loads(run(lab, cli, "plan", "--format", "json").stdout)
    assert document["summary"]["create"] == 0 and document["summary"]["replace"] == 0
    status = run(lab, cli, "status")
    assert status.exit_code == 0 and not refused(status), status
    assert {line.split()[0] for line in status.stdout.splitlines()[1:] if line.strip()} >= {"a", "b"}
    wait = run(lab, cli, "wait", "--interval", "0.02")
    assert wait.exit_code == 0 and not refused(wait), wait
    logs = run(lab, cli, "logs", "a")
    assert not refused(logs), logs


def test_a_name_needs_its_variables_everywhere(lab: Repo, cli: RunCli) -> None:
    # the name is the job's identity: plan and status match GPULab's jobs by it, so a placeholder will not do
    (lab.jobs / "c.yaml").write_text("name: c-${RUN}\nrequest:\n  docker: {image: debian, command: x}\n",
                                     encoding="utf-8")
    result = run(lab, cli, "validate", connect=False)
    assert result.exit_code == 1
    assert "jobs.d/c.yaml:1:7: error: name: environment variable RUN is not set" in result.stdout
    assert "WANDB_API_KEY is not set" not in result.stdout


def test_a_placeholder_leaves_other_checks_of_the_job_in_force(lab: Repo, cli: RunCli) -> None:
    (lab.jobs / "b.yaml").write_text(JOBS["b"].replace("command: train.sh", "command: train.sh\n    sizeGb: 3"),
                                     encoding="utf-8")
    result = run(lab, cli, "validate", connect=False)
    assert result.exit_code == 1
    assert "jobs.d/b.yaml:6:5: error: request.docker.sizeGb: unknown key" in result.stdout


def test_the_values_are_checked_when_set(lab: Repo, cli: RunCli) -> None:
    result = run(lab, cli, "validate", connect=False, env={**SET, "TAG": "no tag"})
    assert result.exit_code == 1
    assert "request.docker.image" in result.stdout and "is not a valid image" in result.stdout


def test_completion_completes_names_without_the_secrets(lab: Repo) -> None:
    env = {key: value for key, value in os.environ.items() if key not in VARIABLES}
    env.update({"COMP_WORDS": "gpulab-apply plan --target ", "COMP_CWORD": "3",
                "_GPULAB_APPLY_COMPLETE": "bash_complete"})
    result = subprocess.run([str(BIN / "gpulab-apply")], cwd=lab.jobs.parent, env=env, capture_output=True,
                            text=True, check=False, timeout=60)
    assert (result.returncode, result.stderr) == (0, ""), result
    assert result.stdout.splitlines() == ["plain,a", "plain,b"]
