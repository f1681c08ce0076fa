"""``gpulab-apply show PLANFILE``: a saved plan in every format, through the real CLI (docs/plan-format.md#show)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gpulab_apply.emulator import RunningEmulator
from gpulab_apply.reporters import VERSIONS
from tests.conftest import RunCli
from tests.harness import Repo

SWEEP = """\
name: sweep
request:
  resources: {cpus: 1, gpus: 1, cpuMemoryGb: 4}
  docker: {image: debian:stable, command: "train ${{ matrix.lr }}"}
x-gpulab-apply:
  matrix: {lr: [1, 2]}
"""


@pytest.fixture
def saved(tmp_path: Path, emulator: RunningEmulator, cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> tuple[Repo, Path]:
    """A set with one job running that a plan replaces, one to cancel, a new job and a new sweep of two, saved."""
    monkeypatch.chdir(tmp_path)
    lab = Repo(tmp_path, emulator, cli)
    lab.write("kept", runtime="1 hour")
    lab.write("changed", runtime="1 hour")
    lab.write("removed", runtime="1 hour")
    lab.apply()
    emulator.advance(60)
    (lab.jobs / "removed.yaml").unlink()
    lab.write("changed", runtime="2 hours")
    lab.write("new")
    (lab.jobs / "sweep.yaml").write_text(SWEEP, encoding="utf-8")
    result = lab("plan", "--out", "plan.json")
    assert result.exit_code == 0, result
    return lab, tmp_path / "plan.json"


def test_show_text_prints_the_decisions_it_holds(saved: tuple[Repo, Path], cli: RunCli) -> None:
    _, path = saved
    result = cli("show", str(path))  # no connection options, no certificate: the file only
    assert result.exit_code == 0, result
    text = result.stdout
    assert text.startswith(f"Saved plan {path}, made ")
    assert "For set lab at " in text
    assert "-/+ changed (changed; cancels RUNNING job " in text and "its work is lost)  jobs.d/changed.yaml:1:1" in text
    assert "  + new (new)  jobs.d/new.yaml:1:1" in text
    assert "  + sweep-lr1 (new) [sweep sweep]  jobs.d/sweep.yaml:1:1" in text
    assert "  - removed (no longer in the job files; cancels RUNNING job " in text
    assert "Plan: 3 to create, 1 to replace (1 running), 1 to cancel (1 running)." in text
    assert f"gpulab-apply apply {path}" in text


def test_show_json_is_a_versioned_document(saved: tuple[Repo, Path], cli: RunCli) -> None:
    _, path = saved
    document = json.loads(cli("show", str(path), "--format", "json").stdout)
    assert (document["version"], document["kind"], document["ok"]) == (VERSIONS["show"], "show", True)
    assert document["summary"]["create"] == 3 and document["summaryLine"].startswith("Plan: 3 to create")
    entries = {entry["name"]: entry for entry in document["entries"]}
    assert entries["sweep-lr2"]["sweep"] == "sweep"
    assert entries["new"]["location"] == {"file": "jobs.d/new.yaml", "line": 1, "column": 1}
    assert entries["removed"]["action"] == "cancel" and len(entries["removed"]["cancel"]) == 1
    # what the plan file holds, and the plan said: the same decisions as plan --format json
    plan_file = json.loads(path.read_text())
    assert [(e["name"], e["action"], e["spec"]) for e in document["entries"]] == [
        (a["name"], a["action"], a["spec"]) for a in plan_file["actions"]]


def test_show_markdown_and_github(saved: tuple[Repo, Path], cli: RunCli) -> None:
    _, path = saved
    markdown = cli("show", str(path), "--format", "markdown").stdout
    assert markdown.startswith("### gpulab-apply plan for set `lab` (saved ")
    assert "**Plan: 3 to create, 1 to replace (1 running), 1 to cancel (1 running).**" in markdown
    assert "| `+` | `new` | new | jobs.d/new.yaml:1:1 |" in markdown
    github = cli("show", str(path), "--format", "github").stdout.splitlines()
    assert github[0] == ("::notice title=gpulab-apply plan::Plan: 3 to create, 1 to replace (1 running), "
                         "1 to cancel (1 running).")
    [sweep] = [line for line in github if "sweep sweep" in line]
    assert sweep.startswith("::notice file=jobs.d/sweep.yaml,line=1,col=1,title=gpulab-apply plan::sweep sweep: +2")
    assert any(line.startswith("::warning file=jobs.d/changed.yaml,line=1,") for line in github)


def test_show_reads_plan_files_written_before_it_existed(saved: tuple[Repo, Path], cli: RunCli) -> None:
    # format 2 as earlier versions wrote it: the decisions only
    _, path = saved
    document = json.loads(path.read_text())
    for key in ("summary", "warnings"):
        del document[key]
    document["actions"] = [{key: action[key] for key in ("name", "action", "reason", "spec", "current", "cancel")}
                           for action in document["actions"]]
    path.write_text(json.dumps(document), encoding="utf-8")
    result = cli("show", str(path))
    assert result.exit_code == 0, result
    assert "  + new (new)\n" in result.stdout
    assert "  - removed (removed; cancels " in result.stdout
    assert "Plan: 3 to create, 1 to replace, 1 to cancel." in result.stdout


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "github"])
def test_show_refuses_what_is_not_a_plan_file_in_its_format(tmp_path: Path, cli: RunCli, fmt: str) -> None:
    (tmp_path / "x.json").write_text('{"kind": "something else"}', encoding="utf-8")
    result = cli("show", str(tmp_path / "x.json"), "--format", fmt)
    assert result.exit_code == 1
    assert "is not a gpulab-apply plan file" in result.stderr
    if fmt == "json":
        assert json.loads(result.stdout)["ok"] is False
    missing = cli("show", str(tmp_path / "nothing.json"))
    assert missing.exit_code == 1 and "cannot read plan file" in missing.stderr
