"""One grammar for every command (issue 19, docs/commands.md): the job directory, selectors, global options,
usage errors, options only where they mean something, and one natural order, through the real CLI."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import click
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpulab_apply.emulator import RunningEmulator
from gpulab_apply.errors import JobNotFoundError
from gpulab_apply.order import natural_key
from gpulab_apply.selectors import Candidate, resolve
from tests.conftest import RunCli
from tests.fixtures.jobs import job_yaml
from tests.harness import Repo

#: the names the lab's files define, in the one natural order
NATURAL = ["cc-1", "cc-2", "cc-10", "vit-wd0.05", "vit-wd0.1", "vit-wd0.2"]


@pytest.fixture
def lab(tmp_path: Path, emulator: RunningEmulator, cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> Repo:
    """Three plain jobs and a sweep of three, whose names sort wrong by text and by whole numbers."""
    monkeypatch.chdir(tmp_path)
    lab = Repo(tmp_path, emulator, cli)
    for name in ("cc-10", "cc-2", "cc-1"):
        lab.write(name)
    (lab.jobs / "vit.yaml").write_text(job_yaml("vit") + "x-gpulab-apply:\n  matrix: {wd: [0.1, 0.2, 0.05]}\n")
    return lab


def _status_names(lab: Repo, *args: str) -> list[str]:
    result = lab("status", "--format", "json", *args)
    assert result.exit_code == 0, result
    return [job["name"] for job in json.loads(result.stdout)["jobs"]]


# --- one natural order ---------------------------------------------------------------------------------------------

@pytest.mark.slow  # over a second on 2 cores (docs: README, Development)
def test_every_command_lists_names_in_the_one_natural_order(lab: Repo, cli: RunCli) -> None:
    plan = lab("plan", "--format", "json")
    assert [entry["name"] for entry in json.loads(plan.stdout)["entries"]] == NATURAL, plan
    render = cli("render", "--format", "json")
    assert [job["name"] for job in json.loads(render.stdout)["jobs"]] == NATURAL, render
    assert _status_names(lab) == NATURAL  # not submitted yet: from the files
    applied = lab("apply", "--yes", "--format", "json")
    assert [outcome["name"] for outcome in json.loads(applied.stdout)["outcomes"]] == NATURAL, applied
    assert _status_names(lab) == NATURAL  # submitted: from GPULab's listing
    waited = lab("wait", "--wait-timeout", "1", "--interval", "0.05")
    assert [line.split()[0] for line in waited.stdout.splitlines()] == NATURAL, waited
    apply = lab("apply", "--yes", "--rerun-failed", "--format", "json")
    assert [entry["name"] for entry in json.loads(apply.stdout)["plan"]["entries"]] == NATURAL, apply


def _number_text() -> st.SearchStrategy[str]:
    digits = st.integers(min_value=0, max_value=10**6)
    return st.one_of(
        digits.map(str),
        st.tuples(digits, st.integers(min_value=0, max_value=10**5)).map(lambda p: f"{p[0]}.{str(p[1]).zfill(3)}"),
        st.tuples(st.integers(1, 9), st.sampled_from("-+"), st.integers(0, 20)).map(lambda p: f"{p[0]}e{p[1]}{p[2]}"),
    )


#: text around a number: never a digit, a dot or an exponent's "e" next to it
_TEXT = st.text(alphabet="abcdfghxyz_-", max_size=6)


@given(_TEXT, _TEXT, _number_text(), _number_text())
def test_the_order_follows_the_numbers_value(prefix: str, suffix: str, a: str, b: str) -> None:
    """Property: between two names that differ only in a number, the smaller number sorts first, decimals and
    exponents included (0.05 < 0.1 < 0.2, 1e-4 < 1e-3, 2 < 10)."""
    first, second = f"{prefix}{a}{suffix}", f"{prefix}{b}{suffix}"
    if Decimal(a) < Decimal(b):
        assert natural_key(first) < natural_key(second)
    elif Decimal(a) > Decimal(b):
        assert natural_key(first) > natural_key(second)


@given(st.lists(st.text(alphabet="ab-._e0123456789", max_size=10), max_size=8).flatmap(
    lambda names: st.tuples(st.just(names), st.permutations(names))))
def test_the_order_is_total(given_names: tuple[list[str], list[str]]) -> None:
    """Property: any names sort the same whatever order they came in, and two names compare equal only when
    they are the same name (``a01`` and ``a1`` too)."""
    names, shuffled = given_names
    assert sorted(shuffled, key=natural_key) == sorted(names, key=natural_key)
    for one in names:
        for other in names:
            assert (natural_key(one) == natural_key(other)) == (one == other)
            if natural_key(one) < natural_key(other):
                assert not natural_key(other) < natural_key(one)


def test_the_issues_examples() -> None:
    assert sorted(["wd0.1", "wd0.2", "wd0.05"], key=natural_key) == ["wd0.05", "wd0.1", "wd0.2"]
    assert sorted(["lr0.01-seed0", "lr0.1-seed0", "lr0.01-seed1"], key=natural_key) == [
        "lr0.01-seed0", "lr0.01-seed1", "lr0.1-seed0"]
    assert sorted(["cc-10", "cc-1", "cc-2"], key=natural_key) == ["cc-1", "cc-2", "cc-10"]


# --- one selector grammar ------------------------------------------------------------------------------------------

#: every place a command takes selectors (docs/commands.md#selectors), with a selector that matches nothing
NOTHING = [
    ("plan", "--target", "nosuch"),
    ("apply", "--yes", "--target", "nosuch"),
    ("plan", "--cancel-protected", "nosuch"),
    ("apply", "--yes", "--cancel-protected", "nosuch"),
    ("status", "--target", "nosuch"),
    ("render", "nosuch"),
    ("logs", "nosuch"),
    ("wait", "nosuch"),
    ("import", "nosuch"),
]


def test_a_selector_that_matches_nothing_is_an_error_everywhere(lab: Repo) -> None:
    lab.apply()
    for command in NOTHING:
        result = lab.cli(*lab.connection, *command)  # the connection before the command: render takes none
        assert result.exit_code == 1, (command, result)
        assert "matches 'nosuch'" in result.stderr, (command, result)
    assert "did you mean 'cc-2' or 'cc-1'" in lab("status", "--target", "cc-l").stderr


def test_an_empty_selector_is_a_usage_error(lab: Repo) -> None:
    for command in (("status", "--target", ""), ("render", " "), ("plan", "--target", "")):
        result = lab.cli(*lab.connection, *command)
        assert result.exit_code == 64, (command, result)


@pytest.mark.slow  # over a second on 2 cores (docs: README, Development)
def test_each_kind_of_selector_selects_the_same_jobs_in_every_command(lab: Repo, cli: RunCli) -> None:
    lab.apply()
    uuids = {job["name"]: job["uuid"] for job in json.loads(lab("status", "--format", "json").stdout)["jobs"]}
    kinds = {
        "name": ("cc-2", ["cc-2"]),
        "glob": ("cc-?", ["cc-1", "cc-2"]),
        "sweep": ("vit", ["vit-wd0.05", "vit-wd0.1", "vit-wd0.2"]),
        "uuid prefix": (uuids["cc-10"][:8], ["cc-10"]),
        "whole uuid": (uuids["vit-wd0.1"].upper(), ["vit-wd0.1"]),
    }
    for kind, (selector, names) in kinds.items():
        assert _status_names(lab, "--target", selector) == names, kind
        plan = lab("plan", "--format", "json", "--target", selector)
        assert [entry["name"] for entry in json.loads(plan.stdout)["entries"]] == names, (kind, plan)
        waited = lab("wait", selector, "--wait-timeout", "1", "--interval", "0.05")
        assert [line.split()[0] for line in waited.stdout.splitlines()] == names, (kind, waited)
        if "uuid" not in kind:  # render is offline: the job files know no UUID
            render = cli("render", selector, "--format", "json")
            assert [job["name"] for job in json.loads(render.stdout)["jobs"]] == names, (kind, render)
        imported = lab("import", selector, "--jobs", f"imported-{len(names)}-{kind}", "--no-adopt")
        assert imported.exit_code == 0, (kind, imported)
        assert sorted(p.stem for p in Path(f"imported-{len(names)}-{kind}").iterdir()) == sorted(names), kind
    # logs prints one job: a selector of several is refused, one of one is taken
    assert lab("logs", "vit").exit_code == 1 and "matches 3 jobs" in lab("logs", "vit").stderr
    assert lab("logs", uuids["cc-2"][:8]).exit_code == 0


def test_a_uuid_prefix_is_taken_only_when_unique_and_a_name_wins_over_it() -> None:
    jobs = [Candidate("a", uuid="deadbeef-0001"), Candidate("b", uuid="deadbeef-0002"),
            Candidate("deadbeef", uuid="12345678-0003")]
    with pytest.raises(JobNotFoundError, match="the UUID prefix 'deadbeef-000' starts 2 jobs"):
        resolve(["deadbeef-000"], jobs)
    assert [c.name for c in resolve(["deadbeef-0002"], jobs)] == ["b"]
    assert [c.name for c in resolve(["deadbeef"], jobs)] == ["deadbeef"]  # the name, not the two UUIDs
    with pytest.raises(JobNotFoundError):
        resolve(["dead"], jobs)  # too short to be a UUID prefix, and no name


# --- the job directory, global options, -C ------------------------------------------------------------------------

def test_deprecated_job_directory_spellings_still_work_with_a_warning(lab: Repo, cli: RunCli) -> None:
    new = cli("render", "cc-1", "--jobs", "jobs.d")
    for old in ("-p", "--path"):
        result = cli("render", "cc-1", old, "jobs.d")
        assert (result.exit_code, result.stdout) == (0, new.stdout), result
        assert "-p/--path is deprecated; use --jobs PATH" in result.stderr
    assert "--path" not in cli("render", "--help").stdout
    lab.apply()
    result = lab("import", "cc-1", "--dir", "old", "--no-adopt")
    assert result.exit_code == 0 and (lab.jobs.parent / "old" / "cc-1.yaml").is_file(), result
    assert "--dir is deprecated; use --jobs DIR" in result.stderr
    assert "--dir" not in lab("import", "--help").stdout


@pytest.mark.slow  # over a second on 2 cores (docs: README, Development)
def test_global_options_go_before_the_command_too(lab: Repo, cli: RunCli) -> None:
    lab.apply()
    connection = lab.connection
    for command in (("plan",), ("status",), ("whoami",), ("wait", "cc-1", "--wait-timeout", "1")):
        before = cli("-v", *connection, *command)
        after = cli(*command, "-v", *connection)
        assert before.exit_code == after.exit_code and before.exit_code in (0, 4), (command, before)
        assert "gpulab-apply: set:" in before.stderr and "[--set]" in before.stderr, (command, before)
    # given on both sides, the one after the command wins
    both = cli("--set", "other", "status", *connection, "--format", "json")
    assert json.loads(both.stdout)["set"] == "lab"


def test_dash_c_runs_as_if_started_in_the_directory(lab: Repo, cli: RunCli, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    here = cli("render", "--format", "json")
    elsewhere = tmp_path.parent
    monkeypatch.chdir(elsewhere)
    there = cli("-C", str(tmp_path), "render", "--format", "json")
    assert (there.exit_code, there.stdout) == (0, here.stdout), there
    assert Path.cwd() == elsewhere  # only for that command
    validate = cli("-C", str(tmp_path), "validate", "jobs.d/cc-1.yaml")
    assert validate.exit_code == 0, validate  # paths are relative to DIR
    assert cli("-C", str(tmp_path), *lab.connection, "plan").exit_code == 0
    missing = cli("-C", str(tmp_path / "nope"), "validate")
    assert missing.exit_code == 64 and "-C" in missing.stderr, missing


def test_config_and_verbose_before_validate_and_render(lab: Repo, cli: RunCli) -> None:
    (lab.jobs / "_notes.yaml").write_text(job_yaml("notes"))
    (lab.jobs / ".draft.yml").write_text(job_yaml("draft"))
    quiet = cli("validate")
    assert "skipped" not in quiet.stderr
    for args in (("-v", "validate"), ("validate", "-v"), ("render", "--verbose"), ("-v", "render")):
        result = cli(*args)
        assert result.exit_code == 0, (args, result)
        assert "skipped jobs.d/_notes.yaml: a file whose name starts with '_' is not a job file" in result.stderr
        assert "skipped jobs.d/.draft.yml" in result.stderr
        assert "_defaults" not in result.stderr
    assert "skipped jobs.d/_notes.yaml" in cli("-v", *lab.connection, "plan").stderr
    config = lab.jobs.parent / "elsewhere.yaml"
    config.write_text("jobs: other.d\n")
    (lab.jobs.parent / "other.d").mkdir()
    (lab.jobs.parent / "other.d" / "x.yaml").write_text(job_yaml("from-other"))
    assert "1 job in 1 file" in cli("--config", str(config), "validate").stdout
    assert cli("--config", "nope.yaml", "validate").exit_code == 64
    assert cli(*lab.connection, "plan", "--config", "nope.yaml").exit_code == 64
    assert cli(*lab.connection, "plan", env={"GPULAB_APPLY_CONFIG": "nope.yaml"}).exit_code == 1
    assert "from-other" in cli("--config", str(config), "render").stdout


def test_a_mistyped_command_gets_a_suggestion(cli: RunCli) -> None:
    result = cli("plna")
    assert result.exit_code == 64
    assert "No such command 'plna'. Did you mean 'plan'?" in result.stderr
    assert "Did you mean" not in cli("xyzzy").stderr and cli("xyzzy").exit_code == 64


# --- usage errors exit 64 everywhere; the same value elsewhere is a configuration error ----------------------------

#: flag values each setting's own parser refuses, and the flags the check needs beside it
BAD_VALUES = [
    ("--timeout", "abc", (), "GPULAB_APPLY_TIMEOUT"),
    ("--set", "my set", (), "GPULAB_APPLY_SET"),
    ("--endpoint", "ftp://gpulab.example.org/", (), "GPULAB_ENDPOINT"),
    ("--endpoint", "http://gpulab.example.org/api/", (), "GPULAB_ENDPOINT"),
    ("--api-version", "9.9", (), "GPULAB_API_VERSION"),
    ("--speed", "fast", ("--local",), "GPULAB_APPLY_SPEED"),
]


def _networked() -> list[str]:
    from gpulab_apply.cli import COMMANDS
    from gpulab_apply.cli.group import cli as group

    context = click.Context(group)
    return [entry.name for entry in COMMANDS
            if any(param.name == "endpoint" for param in group.get_command(context, entry.name).params)]  # type: ignore[union-attr]


@pytest.mark.parametrize(("flag", "value", "extra", "variable"), BAD_VALUES, ids=lambda v: str(v))
def test_a_bad_flag_value_is_a_usage_error_and_from_the_environment_a_config_error(
        cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flag: str, value: str,
        extra: tuple[str, ...], variable: str) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jobs.d").mkdir()
    (tmp_path / "jobs.d" / "a.yaml").write_text(job_yaml("a"))
    arguments = {"logs": ("a",), "wait": ("a",), "import": ("a",)}
    for command in _networked():
        args = arguments.get(command, ())
        given = cli(command, *args, *extra, flag, value)
        assert given.exit_code == 64, (command, given)
        assert f"Error: {flag}" in given.stderr or f"'{flag}'" in given.stderr, (command, given)
        before = cli(*extra, flag, value, command, *args)
        assert before.exit_code == 64, (command, before)
        from_env = cli(command, *args, *extra, env={variable: value})
        assert from_env.exit_code == 1, (command, from_env)
        assert from_env.stderr.startswith(f"Error: {variable}"), (command, from_env)


# --- options only where they mean something ------------------------------------------------------------------------

def test_a_job_name_given_as_a_path_is_a_usage_error_that_points_at_target(lab: Repo) -> None:
    for command in ("plan", "apply", "status"):
        result = lab(command, "vit")
        assert result.exit_code == 64, result
        assert "Path 'vit' does not exist. To select jobs by name, give --target vit." in result.stderr, result


def test_strict_is_offered_only_by_commands_that_check_job_files(cli: RunCli) -> None:
    for command in ("logs", "wait", "whoami", "import"):
        assert "--strict" not in cli(command, "--help").stdout, command
        result = cli(command, "--strict", "x")
        assert result.exit_code == 64 and "No such option '--strict'" in result.stderr, command
    for command in ("validate", "plan", "apply", "status"):
        assert "--strict" in cli(command, "--help").stdout, command


# --- status: selectors and a line per sweep ------------------------------------------------------------------------

def test_status_narrows_by_selector_and_ends_with_a_line_per_sweep(lab: Repo) -> None:
    lab.apply()
    text = lab("status", "--target", "vit")
    assert text.exit_code == 0, text
    assert text.stdout.rstrip().splitlines()[-1].startswith("sweep vit: 3 jobs: 3 ")
    assert "cc-1" not in text.stdout
    markdown = lab("status", "--format", "markdown")
    assert "- sweep vit: 3 jobs: 3 " in markdown.stdout, markdown


# --- a name that does not resolve fails fast -----------------------------------------------------------------------

def test_a_host_that_does_not_resolve_fails_at_once_without_retries(cli: RunCli, login_pem: Path,
                                                                     tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("-v", "whoami", "--endpoint", "https://gpulab.nosuch.invalid/api/gpulab/v4.0/", "--cert",
                 str(login_pem))
    assert result.exit_code == 1, result
    assert "the host name gpulab.nosuch.invalid does not resolve" in result.stderr, result
    assert "retrying" not in result.stderr and "attempts" not in result.stderr, result
