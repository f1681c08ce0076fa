"""`gpulab-apply render`: the effective jobs as submitted, with --explain provenance; through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.conftest import RunCli

DEFAULTS = """\
request:
  resources: {cpus: 2, gpus: 1, cpuMemoryGb: 8}
  docker:
    image: pytorch/pytorch:2.4.0
    environment: {WANDB_API_KEY: "${WANDB_API_KEY}"}
"""
SWEEP = """\
name: train
description: lr ${{ matrix.lr }}
request:
  docker:
    command: python train.py --lr ${{ matrix.lr }}
x-gpulab-apply:
  matrix: {lr: [1e-4, 3e-4]}
"""
SINGLE = "name: eval\nrequest:\n  docker: {command: python eval.py}\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jobs.d" / "sweep").mkdir(parents=True)
    (tmp_path / "jobs.d" / "_defaults.yaml").write_text(DEFAULTS, encoding="utf-8")
    (tmp_path / "jobs.d" / "sweep" / "train.yaml").write_text(SWEEP, encoding="utf-8")
    (tmp_path / "jobs.d" / "eval.yaml").write_text(SINGLE, encoding="utf-8")
    return tmp_path


ENV = {"WANDB_API_KEY": "wandb-render-secret"}


def test_render_prints_every_effective_job_as_yaml_that_reads_back(project: Path, cli: RunCli) -> None:
    result = cli("render", env=ENV)
    assert result.exit_code == 0, result.stderr
    assert "wandb-render-secret" not in result.stdout
    documents = list(YAML(typ="safe").load_all(result.stdout))
    assert [d["name"] for d in documents] == ["eval", "train-lr1e-4", "train-lr3e-4"]
    assert documents[2] == {
        "name": "train-lr3e-4", "description": "lr 3e-4",
        "request": {"resources": {"cpus": 2, "gpus": 1, "cpuMemoryGb": 8},
                    "docker": {"image": "pytorch/pytorch:2.4.0", "environment": {"WANDB_API_KEY": "***"},
                               "command": "python train.py --lr 3e-4"}}}
    assert "# train-lr3e-4: from jobs.d/sweep/train.yaml:1:1, sweep train\n" in result.stdout


def test_render_selects_by_name_or_sweep(project: Path, cli: RunCli) -> None:
    by_sweep = cli("render", "train", "--format", "json", env=ENV)
    assert [job["name"] for job in json.loads(by_sweep.stdout)["jobs"]] == ["train-lr1e-4", "train-lr3e-4"]
    by_glob = cli("render", "*3e-4", "eval", "--format", "json", env=ENV)
    assert [job["name"] for job in json.loads(by_glob.stdout)["jobs"]] == ["eval", "train-lr3e-4"]
    none = cli("render", "nope", env=ENV)
    assert none.exit_code == 1
    assert "no job in the job files matches 'nope'" in none.stderr


def test_explain_names_the_file_and_line_that_set_each_field(project: Path, cli: RunCli) -> None:
    result = cli("render", "train-lr1e-4", "--explain", "--format", "json", env=ENV)
    [job] = json.loads(result.stdout)["jobs"]
    sources = {path: f"{where['file']}:{where['line']}" for path, where in job["sources"].items()}
    assert sources == {
        "name": "jobs.d/sweep/train.yaml:1", "description": "jobs.d/sweep/train.yaml:2",
        "request.resources.cpus": "jobs.d/_defaults.yaml:2", "request.resources.gpus": "jobs.d/_defaults.yaml:2",
        "request.resources.cpuMemoryGb": "jobs.d/_defaults.yaml:2",
        "request.docker.image": "jobs.d/_defaults.yaml:4",
        "request.docker.environment.WANDB_API_KEY": "jobs.d/_defaults.yaml:5",
        "request.docker.command": "jobs.d/sweep/train.yaml:5"}
    text = cli("render", "eval", "--explain", env=ENV).stdout
    assert "#   request.docker.image: jobs.d/_defaults.yaml:4:12\n" in text
    assert "#   request.docker.command: jobs.d/eval.yaml:3:21\n" in text


def test_render_refuses_invalid_files_with_the_validate_report(project: Path, cli: RunCli) -> None:
    (project / "jobs.d" / "eval.yaml").write_text(SINGLE.replace("request:", "request:\n  resources: {cpus: -1}"),
                                                  encoding="utf-8")
    result = cli("render", env=ENV)
    assert result.exit_code == 1
    assert "jobs.d/eval.yaml:3:21: error: request.resources.cpus: -1 is less than the minimum of 1" in result.stdout


@pytest.mark.parametrize("fmt", ["text", "json", "github"])
def test_a_value_from_the_environment_quoted_by_a_check_is_masked(tmp_path: Path, cli: RunCli,
                                                                  monkeypatch: pytest.MonkeyPatch, fmt: str) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jobs.d").mkdir()
    (tmp_path / "jobs.d" / "a.yaml").write_text(
        'name: a\nrequest:\n  resources: {cpus: 1, gpus: "${GPUS}", cpuMemoryGb: 2}\n  docker: {image: x}\n',
        encoding="utf-8")
    result = cli("validate", "--format", fmt, env={"GPUS": "hf_leaky_token_123"})
    assert result.exit_code == 1
    assert "hf_leaky_token_123" not in result.stdout + result.stderr
    assert "'***' is not of type 'integer'" in result.stdout


def test_explain_works_for_jobs_checked_in_worker_processes(tmp_path: Path, cli: RunCli,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # 200+ files are checked in forked workers: the maps travel back as file and index and read again
    from gpulab_apply.jobfiles.validation import PARALLEL_MIN_FILES

    monkeypatch.chdir(tmp_path)
    jobs = tmp_path / "jobs.d"
    jobs.mkdir()
    (jobs / "_defaults.yaml").write_text(DEFAULTS.replace('"${WANDB_API_KEY}"', "x"), encoding="utf-8")
    for index in range(PARALLEL_MIN_FILES + 10):
        (jobs / f"j{index}.yaml").write_text(f"name: j{index}\nrequest:\n  docker: {{command: run}}\n",
                                             encoding="utf-8")
    result = cli("render", "j7", "--explain")
    assert "#   request.docker.image: jobs.d/_defaults.yaml:4:12\n" in result.stdout
    assert "#   request.docker.command: jobs.d/j7.yaml:3:21\n" in result.stdout
