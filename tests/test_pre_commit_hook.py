"""The pre-commit hook in .pre-commit-hooks.yaml: its entry runs, on the whole set, as pre-commit would run it."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from tests.job_texts import MINIMAL_JOB_YAML

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def hooks() -> dict[str, dict[str, Any]]:
    listed = YAML(typ="safe").load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert isinstance(listed, list) and all(isinstance(item, dict) for item in listed)
    return {item["id"]: item for item in listed}


def hook(hook_id: str = "gpulab-apply-validate") -> dict[str, Any]:
    return hooks()[hook_id]


def run_hook(repo: Path, *changed: str, hook_id: str = "gpulab-apply-validate",
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """What pre-commit does for a commit touching ``changed``: skip when no file matches, else run the entry
    (with its args and no file names: ``pass_filenames: false``) at the repository's top level."""
    definition = hook(hook_id)
    matching = [name for name in changed if re.search(definition["files"], name)
                and name.endswith((".yaml", ".yml"))]
    if not matching:
        return subprocess.CompletedProcess([], 0, "(skipped)", "")
    command = shlex.split(definition["entry"]) + list(definition.get("args", []))
    if definition.get("pass_filenames", True):
        command += matching
    command[0] = str(BIN / command[0])  # the console script pip installs into the hook's environment
    return subprocess.run(command, cwd=repo, capture_output=True, text=True, check=False, timeout=60, env=env)


def test_the_hook_is_well_formed() -> None:
    definition = hook()
    assert definition["id"] == "gpulab-apply-validate"
    assert definition["language"] == "python"
    assert definition["pass_filenames"] is False
    assert shlex.split(definition["entry"]) == ["gpulab-apply", "validate"]


def test_the_hook_checks_the_whole_set_so_duplicates_across_files_fail(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.d"
    jobs.mkdir()
    (jobs / "a.yaml").write_text(MINIMAL_JOB_YAML.format(name="train"))
    (jobs / "b.yaml").write_text(MINIMAL_JOB_YAML.format(name="other"))
    assert run_hook(tmp_path, "jobs.d/b.yaml").returncode == 0
    # only b.yaml changes, but its new name collides with a.yaml's: the whole set is what gets checked
    (jobs / "b.yaml").write_text(MINIMAL_JOB_YAML.format(name="train"))
    result = run_hook(tmp_path, "jobs.d/b.yaml")
    assert result.returncode == 1
    assert "jobs.d/b.yaml:1" in result.stdout and "train" in result.stdout


def test_the_hook_runs_only_when_a_job_file_changes(tmp_path: Path) -> None:
    (tmp_path / "jobs.d").mkdir()
    (tmp_path / "jobs.d" / "broken.yaml").write_text("name: [\n")
    assert run_hook(tmp_path, "README.md", "src/config.yaml").stdout == "(skipped)"
    assert run_hook(tmp_path, "jobs.d/broken.yaml").returncode == 1


def test_the_hook_needs_no_secret(tmp_path: Path) -> None:
    # a contributor's laptop, a fork's pull request: ${VAR} unset is a placeholder, not a failed commit
    jobs = tmp_path / "jobs.d"
    jobs.mkdir()
    (jobs / "a.yaml").write_text(MINIMAL_JOB_YAML.format(name="train")
                                 + "    environment: {WANDB_API_KEY: '${WANDB_API_KEY}'}\n")
    environment = {key: value for key, value in os.environ.items() if key != "WANDB_API_KEY"}
    result = run_hook(tmp_path, "jobs.d/a.yaml", env=environment)
    assert result.returncode == 0, result
    assert "WANDB_API_KEY not set here" in result.stdout


def test_the_fmt_hook_fails_with_the_diff_until_the_files_are_canonical(tmp_path: Path) -> None:
    definition = hook("gpulab-apply-fmt")
    assert shlex.split(definition["entry"]) == ["gpulab-apply", "fmt", "--check"]
    assert definition["pass_filenames"] is True and definition["language"] == "python"
    jobs = tmp_path / "jobs.d"
    jobs.mkdir()
    (jobs / "a.yaml").write_text(MINIMAL_JOB_YAML.format(name="a").replace("cpus: 1", "cpus: '1'"))
    (jobs / "b.yaml").write_text(MINIMAL_JOB_YAML.format(name="b").replace("cpus: 1", "cpus: '1'"))
    result = run_hook(tmp_path, "jobs.d/a.yaml", hook_id="gpulab-apply-fmt")
    assert result.returncode == 1, result
    assert "-  resources: {cpus: '1', gpus: 0, cpuMemoryGb: 2}\n+  resources: {cpus: 1, gpus: 0, cpuMemoryGb: 2}" \
        in result.stdout
    assert "jobs.d/b.yaml" not in result.stdout + result.stderr  # the changed files only
    subprocess.run([str(BIN / "gpulab-apply"), "fmt", "jobs.d/a.yaml"], cwd=tmp_path, check=True, capture_output=True)
    assert run_hook(tmp_path, "jobs.d/a.yaml", hook_id="gpulab-apply-fmt").returncode == 0
