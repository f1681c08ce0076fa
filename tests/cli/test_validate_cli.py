"""`gpulab-apply validate` end to end: exact output in every format, exit codes, default path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import RunCli
from tests.job_texts import MINIMAL_JOB_YAML

REPO = Path(__file__).resolve().parents[2]

TRAIN = """\
name: train
request:
  resources:
    cpus: 4
    gpus: two
    cpuMemoryGb: 16
  docker:
    image: pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime
    storage:
      - /project_scratch
      - hostPath: /project_ghent
        sizeGb: 2
---
name: eval
request:
  resources: {cpus: 1, gpus: 0, cpuMemoryGB: 4}
  docker:
    image: debian:stable
    environment:
      MY-VAR: "1"
  scheduling:
    maxDuration: 2d
"""

VALID = MINIMAL_JOB_YAML

EXPECTED_TEXT = """\
jobs.d/train.yaml:5:11: error: request.resources.gpus: 'two' is not of type 'integer'
jobs.d/train.yaml:12:9: error: request.docker.storage[1].sizeGb: unknown key (a directory mount takes only hostPath \
and containerPath; sizeGb is for hostPath: tmpfs)
jobs.d/train.yaml:16:3: error: request.resources: 'cpuMemoryGb' is a required property
jobs.d/train.yaml:16:33: error: request.resources.cpuMemoryGB: unknown key (did you mean `cpuMemoryGb`?)
jobs.d/train.yaml:20:7: error: request.docker.environment.MY-VAR: 'MY-VAR' is not a valid environment variable name \
(letters, digits and _, not starting with a digit)
jobs.d/train.yaml:22:18: error: request.scheduling.maxDuration: '2d' is not a duration GPULab accepts: a number and a \
unit (s, sec, second(s), m, min(s), minute(s), h, hour(s), day(s), week(s)), e.g. "3 days"; d, w, months and years \
are not accepted
Found 6 errors in 1 of 2 files.
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with jobs.d/train.yaml (two broken jobs) and jobs.d/ok.yaml (one valid job)."""
    (tmp_path / "jobs.d").mkdir()
    (tmp_path / "jobs.d" / "train.yaml").write_text(TRAIN)
    (tmp_path / "jobs.d" / "ok.yaml").write_text(VALID.format(name="ok"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_text_lists_every_problem_sorted_then_a_summary(cli: RunCli, project: Path) -> None:
    result = cli("validate", "jobs.d")
    assert result.exit_code == 1, result
    assert result.stdout == EXPECTED_TEXT
    assert result.stderr == ""


def test_default_path_is_jobs_d(cli: RunCli, project: Path) -> None:
    result = cli("validate")
    assert result.exit_code == 1, result
    assert result.stdout == EXPECTED_TEXT


def test_github_annotations(cli: RunCli, project: Path) -> None:
    result = cli("validate", "--format", "github")
    assert result.exit_code == 1, result
    lines = result.stdout.splitlines()
    assert lines[0] == ("::error file=jobs.d/train.yaml,line=5,col=11,title=gpulab-apply validate::"
                        "request.resources.gpus: 'two' is not of type 'integer'")
    assert lines[3] == ("::error file=jobs.d/train.yaml,line=16,col=33,title=gpulab-apply validate::"
                        "request.resources.cpuMemoryGB: unknown key (did you mean `cpuMemoryGb`?)")
    assert len(lines) == 7
    assert lines[-1] == "Found 6 errors in 1 of 2 files."


def test_json_document(cli: RunCli, project: Path) -> None:
    (project / "jobs.d" / "train.yaml").write_text(TRAIN.split("---\n")[0] + "---\n" + VALID.format(name="eval"))
    result = cli("validate", "--format", "json")
    assert result.exit_code == 1, result
    assert json.loads(result.stdout) == {
        "version": 2,
        "kind": "validate",
        "ok": False,
        "files": 2,
        "summary": "Found 2 errors in 1 of 2 files.",
        "jobs": [
            {"name": "ok", "location": {"file": "jobs.d/ok.yaml", "line": 1, "column": 1}},
            {"name": "eval", "location": {"file": "jobs.d/train.yaml", "line": 14, "column": 1}},
        ],
        "unsetVariables": [],
        "problems": [
            {"location": {"file": "jobs.d/train.yaml", "line": 5, "column": 11}, "severity": "error",
             "jsonPath": "request.resources.gpus", "message": "'two' is not of type 'integer'", "hint": None},
            {"location": {"file": "jobs.d/train.yaml", "line": 12, "column": 9}, "severity": "error",
             "jsonPath": "request.docker.storage[1].sizeGb", "message": "unknown key",
             "hint": "a directory mount takes only hostPath and containerPath; sizeGb is for hostPath: tmpfs"},
        ],
        "error": None,
    }


def test_valid_set_exits_0(cli: RunCli, project: Path) -> None:
    (project / "jobs.d" / "train.yaml").write_text(VALID.format(name="train"))
    for output_format, expected in [("text", "2 jobs in 2 files are valid.\n"),
                                    ("github", "2 jobs in 2 files are valid.\n")]:
        result = cli("validate", "--format", output_format)
        assert (result.exit_code, result.stdout) == (0, expected), result
    result = cli("validate", "--format", "json")
    assert result.exit_code == 0, result
    document = json.loads(result.stdout)
    assert (document["ok"], document["problems"], document["summary"]) == (True, [], "2 jobs in 2 files are valid.")


def test_the_example_jobs_are_valid(cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    result = cli("validate")
    assert (result.exit_code, result.stdout) == (0, "20 jobs in 7 files are valid.\n"), result


def test_several_paths_and_a_single_file(cli: RunCli, project: Path) -> None:
    (project / "more").mkdir()
    (project / "more" / "x.yml").write_text(VALID.format(name="x"))
    result = cli("validate", "jobs.d/ok.yaml", "more")
    assert (result.exit_code, result.stdout) == (0, "2 jobs in 2 files are valid.\n"), result


def test_missing_default_directory(cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("validate")
    assert result.exit_code == 1, result
    assert result.stdout == "jobs.d: error: no such file or directory\nFound 1 error; no job file was read.\n"


def test_a_missing_default_job_root_is_a_located_error_and_a_missing_named_path_a_usage_error(
        cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The user typed nothing wrong when the job root is missing (exit 1, in the command's format); a PATH they
    named that does not exist is a usage error (64), as in check-jsonschema and every command here."""
    monkeypatch.chdir(tmp_path)
    result = cli("validate")
    assert result.exit_code == 1, result
    assert result.stdout == "jobs.d: error: no such file or directory\nFound 1 error; no job file was read.\n"
    for command in ("validate", "plan", "apply", "status"):
        named = cli(command, "no-such-dir", "--local") if command != "validate" else cli(command, "no-such-dir")
        assert named.exit_code == 64, named
        assert "Path 'no-such-dir' does not exist" in named.stderr


@pytest.mark.parametrize("args", [("validate", "--format", "xml"), ("validate", "--no-such-option")])
def test_usage_errors_exit_64(cli: RunCli, project: Path, args: tuple[str, ...]) -> None:
    result = cli(*args)
    assert result.exit_code == 64, result
    assert result.stdout == ""
    assert "Usage: gpulab-apply validate [OPTIONS] [PATHS]..." in result.stderr


def test_validate_of_valid_files_imports_no_network_diff_or_jsonschema_library(tmp_path: Path) -> None:
    # jsonschema is only needed to explain an invalid job; valid ones pass the compiled predicate.
    import subprocess
    import sys

    code = ("import sys; from gpulab_apply.cli import run; run(['validate', sys.argv[1]]); "
            "print(sorted(m for m in ('requests', 'deepdiff', 'urllib3', 'jsonschema', 'cryptography') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code, str(REPO / "jobs.d")], capture_output=True, text=True,
                          check=False)
    assert proc.stdout.splitlines()[-1] == "[]", proc.stderr


LAX = """\
name: lax
request:
  resources: {cpus: "4", gpus: 0, cpu_memory_gb: 4}
  docker: {image: "debian:stable"}
  scheduling: {interactive: yes}
"""


def test_accepted_but_not_canonical_forms_are_warnings_and_strict_makes_them_errors(cli: RunCli, tmp_path: Path,
                                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "jobs.d").mkdir()
    (tmp_path / "jobs.d" / "lax.yaml").write_text(LAX)
    monkeypatch.chdir(tmp_path)
    expected = [
        "jobs.d/lax.yaml:3:21: {}: request.resources.cpus: '4' is read by GPULab as 4 (write 4)",
        ("jobs.d/lax.yaml:3:35: {}: request.resources.cpu_memory_gb: GPULab reads cpu_memory_gb as cpuMemoryGb "
         "(write cpuMemoryGb)"),
        "jobs.d/lax.yaml:5:29: {}: request.scheduling.interactive: 'yes' is read by GPULab as true (write true)",
    ]
    result = cli("validate")
    assert result.exit_code == 0, result
    assert result.stdout.splitlines() == [line.format("warning") for line in expected] + [
        "1 job in 1 file is valid, with 3 warnings."]
    strict = cli("validate", "--strict")
    assert strict.exit_code == 1, strict
    assert strict.stdout.splitlines() == [line.format("error") for line in expected] + [
        "Found 3 errors in 1 of 1 file."]


@pytest.mark.parametrize(("config", "env", "exit_code"), [
    ("strict: true\n", {}, 1), ("strict: false\n", {}, 0), ("", {"GPULAB_APPLY_STRICT": "1"}, 1),
    ("strict: true\n", {"GPULAB_APPLY_STRICT": "false"}, 0)])
def test_strict_from_the_config_file_or_the_environment(cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        config: str, env: dict[str, str], exit_code: int) -> None:
    (tmp_path / "jobs.d").mkdir()
    (tmp_path / "jobs.d" / "lax.yaml").write_text(LAX)
    (tmp_path / "gpulab-apply.yaml").write_text(config)
    monkeypatch.chdir(tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert cli("validate").exit_code == exit_code


def test_gitlab_format_is_a_code_quality_report_with_stable_unique_fingerprints(project: Path, cli: RunCli) -> None:
    result = cli("validate", "--format", "gitlab")
    assert result.exit_code == 1, result
    findings = json.loads(result.stdout)  # the whole of stdout is the report: nothing else may be in the artifact
    expected = [line.split(": ", 1) for line in EXPECTED_TEXT.splitlines()[:-1]]
    assert [f["location"] for f in findings] == [
        {"path": "jobs.d/train.yaml", "lines": {"begin": int(where.split(":")[1])}} for where, _ in expected]
    assert [f["description"] for f in findings] == [what.split(": ", 1)[1] for _, what in expected]
    assert {(f["severity"], f["check_name"]) for f in findings} == {("major", "gpulab-apply/error")}
    fingerprints = [f["fingerprint"] for f in findings]
    assert len(set(fingerprints)) == len(fingerprints)
    # an edit above the problems moves them down a line but leaves them the same findings
    train = project / "jobs.d" / "train.yaml"
    train.write_text("# a comment\n" + train.read_text())
    moved = json.loads(cli("validate", "--format", "gitlab").stdout)
    assert [f["fingerprint"] for f in moved] == fingerprints
    assert [f["location"]["lines"]["begin"] for f in moved] == [f["location"]["lines"]["begin"] + 1 for f in findings]
    train.unlink()
    assert cli("validate", "--format", "gitlab").stdout == "[]\n"


def test_gitlab_format_reports_two_equal_problems_as_two_findings(tmp_path: Path, cli: RunCli,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jobs.d").mkdir()
    (tmp_path / "jobs.d" / "a.yaml").write_text("name: a\n---\nname: a\n")  # the same problems in two documents
    findings = json.loads(cli("validate", "--format", "gitlab").stdout)
    assert len(findings) > 2 and len({f["fingerprint"] for f in findings}) == len(findings)
