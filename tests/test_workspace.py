"""The workspace (docs/plan-apply.md#workspace): every command finds the repository's job root and config from any
directory, a job's effective form is the repository's whatever path is given, and paths narrow, never redefine,
the set. End to end through the real CLI against the emulator."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import chdir
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpulab_apply.emulator import RunningEmulator
from gpulab_apply.git import Repository, find_repository
from gpulab_apply.workspace import find_workspace
from tests.conftest import CliResult, RunCli
from tests.harness import TO_RUNNING, Repo

DEFAULTS = """\
request:
  resources: {cpus: 1, gpus: 1, cpuMemoryGb: 4}
  docker:
    environment: {SHARED: from-the-root-defaults}
"""
EXP_DEFAULTS = "request: {docker: {environment: {EXPERIMENT: 'yes'}}}\n"


def job(name: str, seed: int = 1) -> str:
    return (f"name: {name}\nrequest:\n  docker:\n    image: debian:stable\n    command: train.sh\n"
            f"    environment: {{SEED: {seed}}}\n")


@pytest.fixture
def ws(tmp_path: Path, emulator: RunningEmulator, cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> Repo:
    """A repository: ``.git``, ``gpulab-apply.yaml`` naming the set and project, ``_defaults.yaml`` at the job root
    and jobs in subdirectories, and the CLI pointed at the emulator by endpoint only (the rest is the config's)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".git").mkdir()
    (tmp_path / "gpulab-apply.yaml").write_text("set: lab\nproject: local\n")
    repo = Repo(tmp_path, emulator, cli, set_name=None, version="4.0")
    for directory in ("exp", "baselines"):
        (repo.jobs / directory).mkdir()
    (tmp_path / "docs" / "deep").mkdir(parents=True)
    (repo.jobs / "_defaults.yaml").write_text(DEFAULTS)
    (repo.jobs / "exp" / "_defaults.yaml").write_text(EXP_DEFAULTS)
    for name in ("a", "b"):
        (repo.jobs / "exp" / f"{name}.yaml").write_text(job(name))
    for name in ("quick", "slow"):
        (repo.jobs / "baselines" / f"{name}.yaml").write_text(job(name))
    return repo


@pytest.fixture
def applied(ws: Repo) -> Repo:
    result = ws("apply", "--yes")
    assert result.exit_code == 0, result
    assert [j.name for j in ws.active()] == ["a", "b", "quick", "slow"]
    return ws


def plan_json(result: CliResult) -> dict[str, dict[str, object]]:
    assert result.exit_code == 0, result
    return {entry["name"]: entry for entry in json.loads(result.stdout)["entries"]}


# --- every command, from a subdirectory --------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["jobs.d/exp", "docs/deep", "jobs.d"])
def test_every_command_run_in_a_subdirectory_finds_the_job_root_and_config(
        applied: Repo, where: str, monkeypatch: pytest.MonkeyPatch) -> None:
    applied.emulator.advance(TO_RUNNING)
    monkeypatch.chdir(applied.root / where)
    validated = applied.cli("validate")
    assert (validated.exit_code, validated.stdout) == (0, "4 jobs in 4 files are valid.\n"), validated
    planned = applied("plan", "--detailed-exitcode")
    assert planned.exit_code == 0 and "No changes: GPULab matches the job files." in planned.stdout, planned
    status = applied("status", "--format", "json")
    assert status.exit_code == 0, status
    assert sorted(row["name"] for row in json.loads(status.stdout)["jobs"]) == ["a", "b", "quick", "slow"]
    rendered = applied.cli("render", "a", "--format", "json")
    assert rendered.exit_code == 0, rendered
    assert json.loads(rendered.stdout)["jobs"][0]["job"]["request"]["docker"]["environment"] == {
        "SHARED": "from-the-root-defaults", "EXPERIMENT": "yes", "SEED": 1}
    # logs and wait take the set and the project from the config file, found from here
    logs = applied("logs", "a")
    assert logs.exit_code == 0, logs
    waited = applied("wait", "--wait-timeout", "60s", "--interval", "0.01")
    assert waited.exit_code == 0, waited
    assert [line.split()[0] for line in waited.stdout.splitlines()] == ["a", "b", "quick", "slow"]
    imported = applied("import", "a", "--no-adopt")
    assert imported.exit_code == 0, imported
    assert (applied.jobs / "imported" / "a.yaml").is_file()


def test_verbose_says_which_repository_job_root_and_config(applied: Repo,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(applied.jobs / "exp")
    result = applied("plan", "--verbose")
    assert result.exit_code == 0, result
    shown = {line.split(":")[1].strip(): line for line in result.stderr.splitlines() if line.count(":") >= 2}
    assert f"{applied.root}  [git]" in shown["repository"]
    assert f"{applied.jobs}  [default]" in shown["job root"]
    assert f"{applied.root / 'gpulab-apply.yaml'}  [found at {applied.root}]" in shown["config file"]


def test_the_config_file_can_name_the_job_root(tmp_path: Path, cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "gpulab-apply.yaml").write_text("jobs: experiments\n")
    (tmp_path / "experiments" / "vision").mkdir(parents=True)
    (tmp_path / "experiments" / "_defaults.yaml").write_text(DEFAULTS)
    (tmp_path / "experiments" / "vision" / "v.yaml").write_text(job("v"))
    monkeypatch.chdir(tmp_path / "experiments" / "vision")
    workspace = find_workspace()
    assert (workspace.root, workspace.job_root) == (tmp_path, tmp_path / "experiments")
    result = cli("validate")
    assert (result.exit_code, result.stdout) == (0, "1 job in 1 file is valid.\n"), result


def test_paths_select_the_whole_job_root_part_of_it_or_nothing_of_it(ws: Repo) -> None:
    workspace = find_workspace(cwd=ws.root)
    whole = ("jobs.d",)
    assert workspace.select([]) == workspace.select(["."]) == workspace.select(["jobs.d/"]) == (whole, (), ())
    absolute = str(ws.jobs)
    assert workspace.select([absolute]).paths == (absolute,)  # kept as the user wrote it
    assert workspace.select(["jobs.d/exp", "jobs.d/baselines/quick.yaml"]).narrowed_to == (
        "jobs.d/exp", "jobs.d/baselines/quick.yaml")
    assert workspace.select(["jobs.d/exp", "jobs.d"]).narrowed_to == ()  # with the whole set: not narrowed
    assert workspace.select(["docs"]).outside == ("docs",)
    deep = find_workspace(cwd=ws.root / "docs" / "deep")
    assert (deep.root, deep.job_root, deep.config) == (ws.root, ws.jobs, ws.root / "gpulab-apply.yaml")
    assert deep.select([]).paths == ("../../jobs.d",)
    assert deep.select(["../../jobs.d/exp/a.yaml"]).narrowed_to == ("jobs.d/exp/a.yaml",)


# --- the same job from every directory and every path -------------------------------------------------------------

def test_a_plan_from_a_subdirectory_with_any_path_keeps_the_parent_defaults(applied: Repo,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    at_root = plan_json(applied("plan", "--format", "json"))
    monkeypatch.chdir(applied.jobs / "exp")
    for paths in (["../../jobs.d"], [".."], ["."], ["a.yaml"], [str(applied.jobs / "exp" / "a.yaml")]):
        entries = plan_json(applied("plan", *paths, "--format", "json"))
        assert entries["a"]["action"] == "none" and entries["a"]["reason"] == "in-sync", paths
        assert entries["a"]["spec"] == at_root["a"]["spec"], paths
    monkeypatch.chdir(applied.root)
    for paths in (["jobs.d/exp"], ["jobs.d/exp/a.yaml"]):
        assert plan_json(applied("plan", *paths, "--format", "json"))["a"]["spec"] == at_root["a"]["spec"]


DIRECTORIES = (".", "jobs.d", "jobs.d/exp", "jobs.d/baselines", "docs/deep")
PATH_KINDS = ("none", "job root", "its directory", "its file", "its file, absolute", "the repository")


def test_the_same_job_is_the_same_from_every_directory_and_every_path(applied: Repo) -> None:
    """Property: for a job name, the effective job (render) and its plan decision (plan) do not depend on the
    directory the command runs in nor on the path that selects it."""
    root = applied.root
    baseline_plan = plan_json(applied("plan", "--format", "json"))
    baseline_render = json.loads(applied.cli("render", "--format", "json").stdout)["jobs"]
    files = {"a": root / "jobs.d/exp/a.yaml", "quick": root / "jobs.d/baselines/quick.yaml"}
    rendered = {entry["name"]: entry["job"] for entry in baseline_render}

    @settings(max_examples=15)
    @given(st.sampled_from(DIRECTORIES), st.sampled_from(PATH_KINDS), st.sampled_from(sorted(files)))
    def same(directory: str, kind: str, name: str) -> None:
        cwd = root / directory
        target = {"none": None, "job root": applied.jobs, "its directory": files[name].parent,
                  "its file": files[name], "its file, absolute": files[name], "the repository": root}[kind]
        paths = [] if target is None else [str(target) if "absolute" in kind else os.path.relpath(target, cwd)]
        with chdir(cwd):
            entries = plan_json(applied("plan", *paths, "--format", "json"))
            render = applied.cli("render", *[arg for path in paths for arg in ("--jobs", path)], name,
                                  "--format", "json")
        decided = {key: entries[name][key] for key in ("action", "reason", "spec")}
        assert decided == {key: baseline_plan[name][key] for key in ("action", "reason", "spec")}
        assert render.exit_code == 0, render
        assert json.loads(render.stdout)["jobs"][0]["job"] == rendered[name]

    same()


# --- paths narrow, never redefine the set ---------------------------------------------------------------------------

def test_a_plan_of_one_file_cancels_nothing_outside_it_in_every_format(applied: Repo) -> None:
    (applied.jobs / "baselines" / "slow.yaml").unlink()  # a plan of the whole set cancels slow
    (applied.jobs / "baselines" / "quick.yaml").write_text(job("quick", seed=2))
    whole = plan_json(applied("plan", "--format", "json"))
    assert (whole["slow"]["action"], whole["quick"]["action"]) == ("cancel", "replace")

    narrowed = applied("plan", "jobs.d/baselines/quick.yaml", "--format", "json")
    document = json.loads(narrowed.stdout)
    assert document["narrowedTo"] == ["jobs.d/baselines/quick.yaml"]
    assert {e["name"]: e["action"] for e in document["entries"]} == {"quick": "replace"}
    assert json.loads(applied("plan", "--format", "json").stdout)["narrowedTo"] == []
    text = applied("plan", "jobs.d/baselines/quick.yaml")
    assert text.stdout.startswith("Set: lab\nNarrowed to jobs.d/baselines/quick.yaml: creates and replaces only "
                                  "the jobs defined there, and cancels nothing"), text
    assert "Plan: 0 to create, 1 to replace, 0 to cancel." in text.stdout
    assert "Narrowed to jobs.d/baselines/quick.yaml" in applied("plan", "jobs.d/baselines/quick.yaml",
                                                                "--format", "markdown").stdout
    github = applied("plan", "jobs.d/baselines/quick.yaml", "--format", "github").stdout
    assert "::notice title=gpulab-apply plan::Narrowed to jobs.d/baselines/quick.yaml" in github
    assert "Narrowed" not in applied("plan").stdout


def test_status_of_part_of_the_job_root_lists_only_its_jobs(applied: Repo) -> None:
    rows = json.loads(applied("status", "jobs.d/baselines", "--format", "json").stdout)["jobs"]
    assert [(row["name"], row["inSync"]) for row in rows] == [("quick", True), ("slow", True)]


def test_apply_of_one_file_does_not_cancel_the_others(applied: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    (applied.jobs / "exp" / "b.yaml").unlink()
    (applied.jobs / "baselines" / "new.yaml").write_text(job("new"))
    before = {j.name: j.uuid for j in applied.active()}
    result = applied("apply", "jobs.d/baselines/new.yaml", "--yes")
    assert result.exit_code == 0, result
    assert result.stdout.endswith("Apply complete: 1 created, 0 replaced, 0 cancelled.\n")
    after = {j.name: j.uuid for j in applied.active()}
    assert after == {**before, "new": after["new"]}  # b, gone from the files, waits for a plan of the whole set
    monkeypatch.chdir(applied.jobs / "exp")
    whole = applied("apply", "--yes")
    assert whole.stdout.endswith("Apply complete: 0 created, 0 replaced, 1 cancelled.\n"), whole


def test_a_saved_narrowed_plan_records_it_and_applies_from_anywhere(applied: Repo,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    (applied.jobs / "exp" / "b.yaml").unlink()
    (applied.jobs / "exp" / "a.yaml").write_text(job("a", seed=3))
    monkeypatch.chdir(applied.jobs / "exp")
    saved = applied("plan", "a.yaml", "--out", "plan.json")
    assert saved.exit_code == 0, saved
    document = json.loads((applied.jobs / "exp" / "plan.json").read_text())
    assert document["paths"] == ["jobs.d/exp/a.yaml"]
    assert document["options"]["narrowed_to"] == ["jobs.d/exp/a.yaml"]
    assert [action["name"] for action in document["actions"]] == ["a"]
    (applied.jobs / "exp" / "plan.json").rename(applied.root / "docs" / "plan.json")
    monkeypatch.chdir(applied.root / "docs" / "deep")
    result = applied("apply", "../plan.json")
    assert result.exit_code == 0, result
    assert result.stdout.endswith("Apply complete: 0 created, 1 replaced, 0 cancelled.\n")
    assert "b" in {j.name for j in applied.active()}


def test_a_path_outside_the_job_root_is_refused_by_plan(applied: Repo) -> None:
    (applied.root / "scratch").mkdir()
    (applied.root / "scratch" / "x.yaml").write_text(job("x"))
    result = applied("plan", "scratch")
    assert result.exit_code == 1
    assert "scratch: not inside the job root jobs.d" in result.stderr
    assert applied.cli("validate", "scratch").exit_code == 1  # offline, it is checked on its own: no resources


# --- reading git's files safely -------------------------------------------------------------------------------------

@pytest.fixture
def repository(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / ".git").mkdir()
    yield tmp_path


def _origin_in_time(repository: Path) -> str | None:
    found: list[str | None] = []
    reader = threading.Thread(target=lambda: found.append(find_workspace([repository]).set_name), daemon=True)
    reader.start()
    reader.join(10)
    assert not reader.is_alive(), "reading the git config hung"
    return found[0]


def test_a_git_config_that_is_a_fifo_does_not_hang(repository: Path) -> None:
    os.mkfifo(repository / ".git" / "config")
    assert _origin_in_time(repository) == repository.name


def test_a_git_config_that_is_a_device_or_huge_is_not_read_whole(repository: Path) -> None:
    (repository / ".git" / "config").symlink_to("/dev/zero")
    assert _origin_in_time(repository) == repository.name
    (repository / ".git" / "config").unlink()
    with (repository / ".git" / "config").open("wb") as sparse:  # 8 GiB of nothing, then a remote
        sparse.truncate(8 * 1024**3)
    assert _origin_in_time(repository) == repository.name
    (repository / ".git" / "config").write_text('[remote "origin"]\n\turl = git@host:lab/proj.git\n')
    assert _origin_in_time(repository) == "proj"


def test_a_dot_git_file_that_is_a_fifo_does_not_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / ".git")
    repository = find_repository(tmp_path)
    assert repository == Repository(top=tmp_path, config_dir=tmp_path / ".git")
    assert _origin_in_time(tmp_path) == tmp_path.name


# --- the planner, given a selection ---------------------------------------------------------------------------------

NAMES = ("a", "b", "c", "d", "e")
STATUSES = ("QUEUED", "RUNNING", "FINISHED", "FAILED", "CANCELLED")


@settings(max_examples=60)
@given(desired=st.sets(st.sampled_from(NAMES)), selected=st.sets(st.sampled_from(NAMES), min_size=1),
       jobs=st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(STATUSES), st.booleans(), st.booleans()),
                     max_size=8))
def test_a_narrowed_plan_decides_its_names_as_the_whole_plan_does_and_cancels_no_other(
        desired: set[str], selected: set[str], jobs: list[tuple[str, str, bool, bool]]) -> None:
    """Property: a plan narrowed to some desired jobs has, for each of them, the whole set's decision, and no entry
    for any other name (so nothing else is cancelled); its guards count only what it touches."""
    from tests.reconcile.test_planner import plan, remote, spec

    specs = {name: spec(name) for name in desired}
    listing = [remote(name, status, of=specs.get(name) if same else spec(name, gpus=2), set_name="lab" if ours else
                      "other") for name, status, same, ours in jobs]
    whole = plan(list(specs.values()), listing)
    part = [specs[name] for name in sorted(desired & selected)]
    narrowed = plan(part, listing, narrowed_to=("jobs.d/part",))
    assert narrowed.narrowed and not whole.narrowed
    assert {e.name for e in narrowed.entries} <= desired & selected
    assert [e for e in whole.entries if e.name in desired & selected] == list(narrowed.entries)
    assert narrowed.cancellations == sum(len(e.cancel) for e in whole.entries if e.name in desired & selected)
    assert not any("empty" in refusal.message for refusal in narrowed.refusals)


def test_a_plan_file_written_before_narrowing_existed_plans_the_whole_set(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from gpulab_apply.reconcile.planfile import dump_plan, load_plan
    from tests.reconcile.test_planner import plan, spec

    document = json.loads(dump_plan(plan([spec("a")], [], narrowed_to=("jobs.d/a.yaml",)), endpoint="local",
                                    paths=["jobs.d/a.yaml"], created=datetime.now(UTC)))
    assert document["options"].pop("narrowed_to") == ["jobs.d/a.yaml"]
    (tmp_path / "old.json").write_text(json.dumps(document))
    assert load_plan(tmp_path / "old.json").options.narrowed_to == ()
