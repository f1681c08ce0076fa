"""Authoring: _defaults.yaml with provenance, matrix sweeps, ${VAR} variables (docs/authoring.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpulab_apply import masking
from gpulab_apply.jobfiles.validation import ValidationResult, validate_paths
from gpulab_apply.model import JobSpec
from gpulab_apply.problems import Location
from gpulab_apply.reconcile.planner import desired_spec_hash

DEFAULTS = """\
request:
  resources: {cpus: 2, gpus: 1, cpuMemoryGb: 8, gpuModel: [A100]}
  docker:
    image: pytorch/pytorch:2.4.0
    storage: [/project_ghent]
    environment: {PYTHONUNBUFFERED: "1"}
"""


@pytest.fixture
def jobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jobs.d").mkdir()
    return tmp_path / "jobs.d"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def problems(result: ValidationResult) -> list[str]:
    return [str(problem) for problem in result.problems]


def by_name(result: ValidationResult) -> dict[str, JobSpec]:
    return {spec.name: spec for spec in result.jobs}


# --- defaults -------------------------------------------------------------------------------------


def test_defaults_merge_deeply_lists_replace_and_nearer_files_win(jobs: Path) -> None:
    write(jobs / "_defaults.yaml", DEFAULTS)
    write(jobs / "sweep" / "_defaults.yml", "request:\n  resources: {gpus: 2}\n  docker:\n"
                                            "    storage: [/project_scratch]\n")
    write(jobs / "sweep" / "a.yaml", "name: a\nrequest:\n  docker:\n    command: python train.py\n"
                                     "    environment: {SEED: 1}\n")
    write(jobs / "b.yaml", "name: b\nrequest:\n  resources: {cpus: 4}\n")
    result = validate_paths(["jobs.d"])
    assert problems(result) == []
    a, b = by_name(result)["a"].job, by_name(result)["b"].job
    assert a["request"] == {
        "resources": {"cpus": 2, "gpus": 2, "cpuMemoryGb": 8, "gpuModel": ["A100"]},
        "docker": {"image": "pytorch/pytorch:2.4.0", "storage": ["/project_scratch"], "command": "python train.py",
                   "environment": {"PYTHONUNBUFFERED": "1", "SEED": 1}}}
    assert b["request"]["resources"] == {"cpus": 4, "gpus": 1, "cpuMemoryGb": 8, "gpuModel": ["A100"]}
    assert by_name(result)["a"].location == Location("jobs.d/sweep/a.yaml", 1, 1)


def test_a_problem_in_a_default_is_reported_in_the_defaults_file_naming_the_job(jobs: Path) -> None:
    write(jobs / "_defaults.yaml", DEFAULTS.replace("gpus: 1", "gpus: many"))
    write(jobs / "a.yaml", "name: a\nrequest:\n  docker: {command: run}\n")
    write(jobs / "b.yaml", "name: b\nrequest:\n  resources: {gpus: 0}\n")
    result = validate_paths(["jobs.d"])
    assert problems(result) == [
        ("jobs.d/_defaults.yaml:2:30: error: request.resources.gpus: 'many' is not of type 'integer' "
        "(in job 'a' of jobs.d/a.yaml:1:1)")]
    assert [spec.name for spec in result.jobs] == ["b"]  # b sets gpus itself


def test_a_problem_in_the_job_file_stays_there(jobs: Path) -> None:
    write(jobs / "_defaults.yaml", DEFAULTS)
    write(jobs / "a.yaml", "name: a\nrequest:\n  resources: {cpus: -1}\n")
    assert problems(validate_paths(["jobs.d"])) == [
        "jobs.d/a.yaml:3:21: error: request.resources.cpus: -1 is less than the minimum of 1"]


def test_changing_a_defaults_file_changes_every_job_it_reaches(jobs: Path) -> None:
    write(jobs / "_defaults.yaml", DEFAULTS)
    write(jobs / "sub" / "a.yaml", "name: a\n")
    write(jobs / "b.yaml", "name: b\n")
    before = {s.name: desired_spec_hash(s, None) for s in validate_paths(["jobs.d"]).jobs}
    write(jobs / "_defaults.yaml", DEFAULTS.replace("cpus: 2", "cpus: 3"))
    after = {s.name: desired_spec_hash(s, None) for s in validate_paths(["jobs.d"]).jobs}
    assert before.keys() == after.keys() == {"a", "b"}
    assert all(before[name] != after[name] for name in before)


def test_a_file_named_alone_gets_the_same_defaults_as_its_directory(jobs: Path) -> None:
    write(jobs / "_defaults.yaml", DEFAULTS)
    write(jobs / "sweep" / "a.yaml", "name: a\n")
    alone = validate_paths(["jobs.d/sweep/a.yaml"]).jobs
    assert alone == validate_paths(["jobs.d"]).jobs
    assert alone[0].job["request"]["docker"]["image"] == "pytorch/pytorch:2.4.0"


@pytest.mark.parametrize(("text", "expected"), [
    ("name: x\n", "jobs.d/_defaults.yaml:1:1: error: name: name cannot be a default: every job needs its own name"),
    ("x-gpulab-apply:\n  matrix: {a: [1]}\n",
     ("jobs.d/_defaults.yaml:2:3: error: x-gpulab-apply.matrix: x-gpulab-apply.matrix cannot be a default: "
     "a matrix belongs in a job file")),
    ("- a\n", "jobs.d/_defaults.yaml:1:1: error: a defaults file is a mapping of job fields"),
    ("a: [\n", "jobs.d/_defaults.yaml:2:1: error: YAML: expected the node content, but found '<stream end>'"),
])
def test_a_broken_defaults_file_is_reported_once(jobs: Path, text: str, expected: str) -> None:
    write(jobs / "_defaults.yaml", text)
    write(jobs / "a.yaml", "name: a\n")
    write(jobs / "b.yaml", "name: b\n")
    result = validate_paths(["jobs.d"])
    assert [p.split(" (")[0] for p in problems(result)] == [expected]
    assert result.jobs == ()


# --- matrix sweeps ---------------------------------------------------------------------------------

SWEEP = """\
name: train
request:
  resources: {{cpus: 2, gpus: 1, cpuMemoryGb: 8}}
  docker:
    image: pytorch/pytorch:2.4.0
    command: python train.py --lr ${{{{ matrix.lr }}}} --seed ${{{{ matrix.seed }}}}
    environment: {{SEED: "${{{{ matrix.seed }}}}"}}
x-gpulab-apply:
  matrix:
{matrix}
"""


def sweep(jobs: Path, matrix: str, name: str = "train") -> ValidationResult:
    write(jobs / "train.yaml", SWEEP.format(matrix=matrix).replace("name: train", f"name: {name}"))
    return validate_paths(["jobs.d"])


def test_a_matrix_makes_one_job_per_combination_with_values_as_written(jobs: Path) -> None:
    result = sweep(jobs, "    lr: [1e-4, 3e-4]\n    seed: [0, 1, 2]")
    assert problems(result) == []
    assert [spec.name for spec in result.jobs] == [
        "train-lr1e-4-seed0", "train-lr1e-4-seed1", "train-lr1e-4-seed2",
        "train-lr3e-4-seed0", "train-lr3e-4-seed1", "train-lr3e-4-seed2"]
    member = by_name(result)["train-lr3e-4-seed1"]
    assert member.job["request"]["docker"]["command"] == "python train.py --lr 3e-4 --seed 1"
    assert member.job["request"]["docker"]["environment"] == {"SEED": 1}  # the whole string: the typed value
    assert "x-gpulab-apply" not in member.job
    assert {spec.sweep for spec in result.jobs} == {"train"}
    assert member.location == Location("jobs.d/train.yaml", 1, 1)


def test_include_and_exclude_work_like_github_actions(jobs: Path) -> None:
    result = sweep(jobs, "    lr: [1e-4, 3e-4]\n    seed: [0, 1]\n"
                         "    exclude: [{lr: 3e-4, seed: 1}]\n"
                         "    include:\n"
                         "      - {lr: 1e-4, batch: 64}\n"  # extends the lr=1e-4 members
                         "      - {lr: 1e-3, seed: 7}\n")  # fits none: a member of its own
    assert problems(result) == []
    assert [spec.name for spec in result.jobs] == [
        "train-lr1e-4-seed0", "train-lr1e-4-seed1", "train-lr3e-4-seed0", "train-lr1e-3-seed7"]


def test_adding_a_value_keeps_every_name_and_reordering_changes_nothing(jobs: Path) -> None:
    def hashes(matrix: str) -> dict[str, str]:
        return {spec.name: desired_spec_hash(spec, None) for spec in sweep(jobs, matrix).jobs}

    before = hashes("    lr: [1e-4, 3e-4]\n    seed: [0, 1]")
    grown = hashes("    lr: [1e-4, 3e-4, 1e-3]\n    seed: [0, 1]")
    assert {name: grown[name] for name in before} == before
    assert set(grown) - set(before) == {"train-lr1e-3-seed0", "train-lr1e-3-seed1"}
    assert hashes("    lr: [3e-4, 1e-4]\n    seed: [1, 0]") == before


def test_names_too_long_or_shared_get_a_stable_hash(jobs: Path) -> None:
    result = sweep(jobs, "    lr: [a/b, a_b, " + "x" * 120 + "]\n    seed: [0]")
    names = [spec.name for spec in result.jobs]
    assert problems(result) == []
    assert names[0].startswith("train-lra_b-seed0-") and names[1].startswith("train-lra_b-seed0-")
    assert names[0] != names[1] and len(names[0]) == len("train-lra_b-seed0-") + 8
    assert len(names[2]) == 100
    assert names == [spec.name for spec in sweep(jobs, "    lr: [" + "x" * 120 + ", a_b, a/b]\n"
                                                       "    seed: [0]").jobs][::-1]


def test_names_the_user_writes_must_be_unique(jobs: Path) -> None:
    result = sweep(jobs, "    lr: [1e-4, 3e-4]\n    seed: [0, 1]", name="train-${{ matrix.lr }}")
    assert problems(result) == [
        ("jobs.d/train.yaml:1:7: error: name: matrix members {lr: 1e-4, seed: 0} and {lr: 1e-4, seed: 1} would both "
        "be named 'train-1e-4' (use every matrix key in the name, or leave ${{ }} out of it for generated names)"),
        ("jobs.d/train.yaml:1:7: error: name: matrix members {lr: 3e-4, seed: 0} and {lr: 3e-4, seed: 1} would both "
        "be named 'train-3e-4' (use every matrix key in the name, or leave ${{ }} out of it for generated names)")]
    ok = sweep(jobs, "    lr: [1e-4]\n    seed: [0, 1]", name="lr${{ matrix.lr }}-s${{ matrix.seed }}")
    assert [spec.name for spec in ok.jobs] == ["lr1e-4-s0", "lr1e-4-s1"]
    assert {spec.sweep for spec in ok.jobs} == {"lr-s"}


def test_a_member_named_like_another_job_is_a_duplicate_naming_both(jobs: Path) -> None:
    write(jobs / "other.yaml", "name: train-lr1-seed0\nrequest:\n  resources: {cpus: 1, gpus: 0, cpuMemoryGb: 2}\n"
                               "  docker: {image: debian}\n")
    result = sweep(jobs, "    lr: [1]\n    seed: [0]")
    assert [p.split(" (")[0] for p in problems(result)] == [
        "jobs.d/other.yaml:1:7: error: name: duplicate job name 'train-lr1-seed0', also at jobs.d/train.yaml:1:7",
        "jobs.d/train.yaml:1:7: error: name: duplicate job name 'train-lr1-seed0', also at jobs.d/other.yaml:1:7"]


@pytest.mark.parametrize(("matrix", "expected"), [
    ("    lr: []", "jobs.d/train.yaml:10:5: error: x-gpulab-apply.matrix.lr: matrix: lr must be a non-empty list"),
    ("    lr: [{a: 1}]", "jobs.d/train.yaml:10:5: error: x-gpulab-apply.matrix.lr: matrix: lr must be a non-empty"),
    ("    lr: [1]\n    exclude: [{lr: 1}]", ("jobs.d/train.yaml:9:3: error: x-gpulab-apply.matrix: matrix: every "
                                            "combination is excluded")),
    ("    lr: [" + ", ".join(map(str, range(400))) + "]\n    seed: [" + ", ".join(map(str, range(400))) + "]",
     "jobs.d/train.yaml:9:3: error: x-gpulab-apply.matrix: matrix: 160,000 combinations, more than the 10,000"),
    ("    lr: [1]\n    include: [3]", ("jobs.d/train.yaml:11:5: error: x-gpulab-apply.matrix.include: matrix: include "
                                      "must be a list of mappings")),
])
def test_a_malformed_matrix_is_located(jobs: Path, matrix: str, expected: str) -> None:
    [problem] = problems(sweep(jobs, matrix))
    assert problem.startswith(expected)


def test_an_unknown_expression_is_located_at_its_string(jobs: Path) -> None:
    write(jobs / "train.yaml", SWEEP.format(matrix="    lr: [1]\n    seed: [0]").replace("--lr ${{", "--lr ${{ github.sha }} ${{"))
    assert problems(validate_paths(["jobs.d"]))[0].startswith(
        "jobs.d/train.yaml:6:14: error: request.docker.command: ${{ github.sha }}: only ${{ matrix.<key> }}")


def test_a_problem_in_a_sweep_is_reported_once_per_member_at_the_template(jobs: Path) -> None:
    result = sweep(jobs, "    lr: [1e-4, 3e-4]\n    seed: [0]")
    assert problems(result) == []
    write(jobs / "train.yaml", (jobs / "train.yaml").read_text().replace("cpus: 2", "cpus: -2"))
    assert problems(validate_paths(["jobs.d"])) == [
        ("jobs.d/train.yaml:3:21: error: request.resources.cpus: -2 is less than the minimum of 1 "
        "(in job 'train-lr1e-4-seed0' of jobs.d/train.yaml:1:1)"),
        ("jobs.d/train.yaml:3:21: error: request.resources.cpus: -2 is less than the minimum of 1 "
        "(in job 'train-lr3e-4-seed0' of jobs.d/train.yaml:1:1)")]


# --- variables -------------------------------------------------------------------------------------

VARIABLE_JOB = """\
name: fetch
request:
  resources: {cpus: 1, gpus: 0, cpuMemoryGb: 2}
  docker:
    image: ${REGISTRY_USER:-bot}:${REGISTRY_PASSWORD}@registry.example.org/team/fetch:1
    command: echo $${NOT_A_VARIABLE}
    environment:
      WANDB_API_KEY: ${WANDB_API_KEY}
      MODE: ${MODE:-eval}
"""


def test_variables_come_from_the_environment_with_defaults(jobs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGISTRY_PASSWORD", "pa55-word-1")
    monkeypatch.setenv("WANDB_API_KEY", "wandb-secret-0123")
    monkeypatch.delenv("REGISTRY_USER", raising=False)
    monkeypatch.delenv("MODE", raising=False)
    write(jobs / "fetch.yaml", VARIABLE_JOB)
    result = validate_paths(["jobs.d"])
    assert problems(result) == []
    docker = result.jobs[0].job["request"]["docker"]
    assert docker["image"] == "bot:pa55-word-1@registry.example.org/team/fetch:1"
    assert docker["command"] == "echo ${NOT_A_VARIABLE}"
    assert docker["environment"] == {"WANDB_API_KEY": "wandb-secret-0123", "MODE": "eval"}


def test_values_from_the_environment_are_masked_everywhere(jobs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGISTRY_PASSWORD", "pa55-word-2")
    monkeypatch.setenv("WANDB_API_KEY", "wandb-secret-4567")
    monkeypatch.setenv("MODE", "train")
    write(jobs / "fetch.yaml", VARIABLE_JOB)
    result = validate_paths(["jobs.d"])
    job = result.secrets.mask_value(masking.mask_value(result.jobs[0].job))
    assert job["request"]["docker"]["environment"] == {"WANDB_API_KEY": "***", "MODE": "***"}
    assert result.secrets.mask("server said: bad token wandb-secret-4567 for train") == \
        "server said: bad token *** for ***"
    assert masking.mask_text("bad token wandb-secret-4567") == "bad token wandb-secret-4567"  # nothing ambient


def test_a_changed_secret_does_not_change_the_spec_hash(jobs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGISTRY_PASSWORD", "old-password")
    monkeypatch.setenv("WANDB_API_KEY", "old-key-0000")
    write(jobs / "fetch.yaml", VARIABLE_JOB)
    before = validate_paths(["jobs.d"]).jobs[0]
    monkeypatch.setenv("WANDB_API_KEY", "new-key-1111")
    after = validate_paths(["jobs.d"]).jobs[0]
    assert before.job != after.job
    assert desired_spec_hash(before, None) == desired_spec_hash(after, None)
    assert "old-key-0000" not in repr(before.hashed)
    write(jobs / "fetch.yaml", VARIABLE_JOB.replace("MODE:-eval", "MODE:-train"))  # the file changed: new spec
    assert desired_spec_hash(validate_paths(["jobs.d"]).jobs[0], None) != desired_spec_hash(after, None)


def test_a_missing_variable_is_an_error_at_its_string_for_a_submission(jobs: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REGISTRY_PASSWORD", raising=False)
    monkeypatch.setenv("WANDB_API_KEY", "k-0000")
    write(jobs / "fetch.yaml", VARIABLE_JOB)
    assert problems(validate_paths(["jobs.d"], submission=True)) == [
        ("jobs.d/fetch.yaml:5:12: error: request.docker.image: environment variable REGISTRY_PASSWORD is not set "
        "(set REGISTRY_PASSWORD, or give a default: ${REGISTRY_PASSWORD:-value})")]


def test_variables_in_a_sweep_and_in_defaults(jobs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUN_GROUP", "group-7")
    write(jobs / "_defaults.yaml", DEFAULTS.replace('PYTHONUNBUFFERED: "1"', 'GROUP: "${RUN_GROUP}"'))
    result = sweep(jobs, "    lr: [1e-4]\n    seed: [0, 1]")
    assert problems(result) == []
    assert [spec.job["request"]["docker"]["environment"] for spec in result.jobs] == [
        {"GROUP": "group-7", "SEED": 0}, {"GROUP": "group-7", "SEED": 1}]
    monkeypatch.delenv("RUN_GROUP")
    assert problems(validate_paths(["jobs.d"], submission=True)) == [
        "jobs.d/_defaults.yaml:6:26: error: request.docker.environment.GROUP: environment variable RUN_GROUP is not "
        f"set (in job 'train-lr1e-4-seed{seed}' of jobs.d/train.yaml:1:1) (set RUN_GROUP, or give a default: "
        "${RUN_GROUP:-value})" for seed in (0, 1)]


def test_a_defaults_file_named_explicitly_is_checked_as_a_defaults_file(jobs: Path) -> None:
    write(jobs / "_defaults.yaml", DEFAULTS)
    result = validate_paths(["jobs.d/_defaults.yaml"])
    assert (problems(result), result.jobs, result.files) == ([], (), 1)
    write(jobs / "_defaults.yaml", "name: x\n" + DEFAULTS)
    assert problems(validate_paths(["jobs.d/_defaults.yaml"])) == [
        "jobs.d/_defaults.yaml:1:1: error: name: name cannot be a default: every job needs its own name"]
