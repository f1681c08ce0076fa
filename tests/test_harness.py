"""The suite's own tools: the one job builder, the one harness, and the guard against a run that tests nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ruamel.yaml import YAML

from gpulab_apply.emulator import RunningEmulator
from tests.conftest import RunCli
from tests.fixtures.collection import TESTS, collection_problem
from tests.fixtures.jobs import MINIMAL_JOB, job_yaml, make_job
from tests.harness import Repo
from tests.job_texts import MINIMAL_JOB_YAML

# --- the job builder ------------------------------------------------------------------------------------------

words = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)
values = st.one_of(words, st.integers(-(2**63), 2**63 - 1), st.booleans())


@given(name=words, environment=st.dictionaries(st.from_regex(r"[A-Z_][A-Z0-9_]{0,10}", fullmatch=True), values,
                                               max_size=4),
       description=st.none() | words, gpus=st.integers(0, 8), cpus=st.integers(1, 8) | st.sampled_from(["1", "2"]),
       runtime=st.none() | st.sampled_from(["100 s", "1 hour", "60 days"]),
       scheduling=st.dictionaries(st.sampled_from(["maxDuration", "notAfter", "restartable"]),
                                  st.sampled_from(["2 days", "2026-01-01T00:00:00Z", True]), max_size=2))
def test_the_yaml_text_is_the_dict(name: str, environment: dict[str, object], description: str | None, gpus: int,
                                   cpus: int | str, runtime: str | None, scheduling: dict[str, object]) -> None:
    """Property: a job file from job_yaml reads back as exactly the body make_job builds from the same options."""
    options = dict(environment=environment, description=description, gpus=gpus, cpus=cpus, runtime=runtime,
                   extension={"protect": True}, project_urn="urn:x", **scheduling)
    assert YAML(typ="safe", pure=True).load(job_yaml(name, **options)) == make_job(name, **options)


def test_the_yaml_text_is_laid_out_as_people_write_it() -> None:
    assert job_yaml("a", gpus=0, command=None) == MINIMAL_JOB_YAML.format(name="a")
    assert job_yaml("b", runtime="100 s", exit_code=0, restartable=True) == (
        "name: b\nrequest:\n  resources: {cpus: 1, gpus: 1, cpuMemoryGb: 2}\n"
        "  docker:\n    image: debian:stable\n    command: nvidia-smi\n"
        "    environment: {GPULAB_EMULATOR_RUNTIME: 100 s, GPULAB_EMULATOR_EXIT_CODE: 0}\n"
        "  scheduling: {restartable: true}\n")
    assert make_job() == MINIMAL_JOB and "environment" not in MINIMAL_JOB["request"]["docker"]


# --- the harness ----------------------------------------------------------------------------------------------


def test_the_harness_drives_the_cli_against_its_emulator_set_and_project(repo: Repo, tmp_path: Path) -> None:
    assert Path.cwd() == tmp_path == repo.root and repo.jobs == tmp_path / "jobs.d"
    repo.write("a")
    applied = repo.apply()
    assert "Apply run" in applied.stdout and "(set lab)" in applied.stdout
    [job] = repo.active()
    assert job.name == "a" and job.owner["projectUrn"] == "urn:publicid:IDN+ilabt.imec.be+project+local"
    assert repo.remote() == [job]


def test_without_a_set_the_config_names_it(tmp_path: Path, emulator: RunningEmulator, cli: RunCli,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "gpulab-apply.yaml").write_text("set: from-config\nproject: local\n")
    repo = Repo(tmp_path, emulator, cli, set_name=None, options=("--verbose",))
    assert repo.connection == ("--endpoint", emulator.api_root("3.1"), "--verbose")
    repo.write("a")
    assert "(set from-config)" in repo.apply().stdout


# --- no run that tests nothing ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_session_that_selects_nothing_fails() -> None:
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_readme.py",
                             "-k", "no_test_has_this_name"], cwd=TESTS.parent, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout + result.stderr
    assert "no tests collected: a run that tests nothing must not pass" in result.stderr


def test_a_whole_run_fails_on_a_test_file_that_gave_no_test() -> None:
    files = [TESTS / "test_a.py", TESTS / "emulator" / "test_b.py"]
    assert collection_problem(3, files[:1], files, whole_suite=True) == (
        "1 test file(s) gave no test: tests/emulator/test_b.py; name tests test_* (in Test* classes without "
        "__init__) or remove the file")
    assert collection_problem(3, files, files, whole_suite=True) is None
    assert collection_problem(3, files[:1], files, whole_suite=False) is None  # a chosen path: the rest is not asked
    assert collection_problem(0, files, files, whole_suite=False) is not None
