"""One reporter contract: --format auto, one JSON envelope, and every format holding on failure.

Through the real CLI against the emulator: an invalid job file, an unreachable GPULab and a guard refusal
each come out in the format asked for (a Markdown plan that says it failed, a plan-shaped JSON document
with the problems), with the exit code unchanged.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gpulab_apply.reporters import REGISTRY, VERSIONS, Kind, formats
from tests.conftest import RunCli
from tests.harness import Repo

UNREACHABLE = "http://127.0.0.1:9/api/gpulab/v3.1/"  # the discard port: nothing listens on loopback
BAD_JOB = "name: bad\nrequest: {}\n"
CAMEL = re.compile(r"^[a-z][A-Za-z0-9]*$")


@pytest.fixture
def repo(tmp_path: Path, emulator: Any, cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> Repo:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "gpulab-apply.yaml").write_text("retries: 0\n")  # an unreachable GPULab fails at once
    return Repo(tmp_path, emulator, cli)


def keys(document: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every (path, key) of a JSON document, skipping values that are data, not fields: diffs' old and new
    and render's jobs (job values, in GPULab's own spelling) and maps keyed by names (sweeps, render's sources)."""
    if isinstance(document, dict):
        for key, value in document.items():
            yield path, key
            if key not in ("old", "new", "sweeps", "job", "sources"):
                yield from keys(value, f"{path}.{key}")
    elif isinstance(document, list):
        for item in document:
            yield from keys(item, path)


def assert_envelope(document: dict[str, Any], kind: str) -> None:
    assert (document["version"], document["kind"]) == (VERSIONS[kind], kind)  # type: ignore[index]
    assert {"ok", "problems", "error"} <= set(document)
    bad = [f"{path}.{key}" for path, key in keys(document) if not CAMEL.match(key)]
    assert not bad, f"keys not in camelCase: {bad}"


def test_every_command_offers_its_registered_formats_and_auto(cli: RunCli) -> None:
    for kind in ("validate", "plan", "apply", "status", "whoami", "show"):
        text = " ".join(cli(kind, "--help").stdout.split())
        assert f"--format [{'|'.join(formats(kind))}]" in text, text
        assert "[default: auto]" in text
    text = " ".join(cli("render", "--help").stdout.split())  # yaml is the default: its output is a job file set
    assert "--format [yaml|json]" in text and "[default: yaml]" in text
    assert {kind for kind, _ in REGISTRY} == {"validate", "plan", "apply", "status", "whoami", "render", "show"}


@pytest.mark.parametrize(("env", "expected"), [({"GITHUB_ACTIONS": "true"}, "github"), ({}, "text"),
                                               ({"GITHUB_ACTIONS": "false"}, "text")])
def test_auto_is_github_under_github_actions(repo: Repo, cli: RunCli, env: dict[str, str], expected: str) -> None:
    repo.write("bad", BAD_JOB)
    result = cli("validate", "jobs.d", env=env)
    assert result.exit_code == 1
    assert result.stdout.startswith("::error file=jobs.d/bad.yaml,line=2,") == (expected == "github"), result
    assert result.stdout.startswith("jobs.d/bad.yaml:2:") == (expected == "text"), result
    # status has no github format: auto is text there
    status = cli("status", "jobs.d", *repo.connection, env=env)
    assert status.stdout.startswith("jobs.d/bad.yaml:2:"), status


def test_every_json_document_has_one_envelope_and_one_naming_convention(repo: Repo, cli: RunCli) -> None:
    repo.write("a", gpus=2)
    documents = {
        "validate": cli("validate", "jobs.d", "--format", "json"),
        "plan": repo("plan", "jobs.d", "--format", "json"),
        "apply": repo("apply", "jobs.d", "--yes", "--format", "json"),
        "status": repo("status", "jobs.d", "--format", "json"),
        "whoami": repo("whoami", "--format", "json"),
        "render": cli("render", "--format", "json"),
    }
    location = {"file": "jobs.d/a.yaml", "line": 1, "column": 1}
    parsed = {}
    for kind, result in documents.items():
        assert result.exit_code == 0, (kind, result)
        parsed[kind] = json.loads(result.stdout)
        assert_envelope(parsed[kind], kind)
        assert parsed[kind]["ok"] is True and parsed[kind]["error"] is None
    assert parsed["validate"]["jobs"][0]["location"] == location
    assert parsed["plan"]["entries"][0]["location"] == location
    assert parsed["apply"]["outcomes"][0]["location"] == location
    assert parsed["status"]["jobs"][0]["location"] == location
    assert parsed["whoami"]["set"] == "lab"
    assert parsed["render"]["jobs"][0]["location"] == location


# --- every format holds on failure ----------------------------------------------------------------------


def break_it(repo: Repo, failure: str) -> list[str]:
    """Set up one kind of failure; the connection arguments to use."""
    if failure == "invalid":
        repo.write("bad", BAD_JOB)
        return repo.connection
    if failure == "unreachable":
        repo.write("a")
        return ["--endpoint", UNREACHABLE, "--set", "lab", "--project", "local"]
    repo.write("a")  # "guard": the job files emptied while a managed job runs
    assert repo("apply", "jobs.d", "--yes").exit_code == 0
    (repo.jobs / "a.yaml").unlink()
    return repo.connection


EXIT = {"invalid": 1, "unreachable": 1, "guard": 3}
CASES = [(command, fmt, failure)
         for command, fmts in (("plan", ("text", "json", "markdown", "github")),
                               ("apply", ("text", "json", "github")),
                               ("status", ("text", "json", "markdown")))
         for fmt in fmts
         for failure in ("invalid", "unreachable", "guard") if failure != "guard" or command == "apply"]


@pytest.mark.parametrize(("command", "fmt", "failure"), CASES)
def test_failures_come_out_in_the_format_asked_for(repo: Repo, cli: RunCli, command: str, fmt: str,
                                                   failure: str) -> None:
    connection = break_it(repo, failure)
    extra = ["--yes"] if command == "apply" else []
    result = cli(command, "jobs.d", *extra, "--format", fmt, *connection)
    assert result.exit_code == EXIT[failure], result
    assert result.stderr.startswith("Error: "), result
    message = result.stderr.splitlines()[0].removeprefix("Error: ")
    out = result.stdout
    if fmt == "json":
        document = json.loads(out)
        assert_envelope(document, command)
        assert document["ok"] is False
        assert document["error"]["message"] == message and document["error"]["exitStatus"] == EXIT[failure]
        if failure == "invalid":
            assert document["problems"][0]["location"] == {"file": "jobs.d/bad.yaml", "line": 2, "column": 1}
            assert document["problems"][0]["jsonPath"] == "request"
        if failure == "guard":  # the refused plan is in the document
            assert document["plan"]["summary"]["cancel"] == 1
        assert document["set"] == "lab"
    elif fmt == "markdown":
        assert out.startswith(f"### gpulab-apply {command} for set `lab`: failed\n\n**{message}**\n"), out
        if failure == "invalid":
            assert "| jobs.d/bad.yaml:2:1 | error | request | " in out
    elif fmt == "github":
        if failure == "invalid":
            assert out.startswith(f"::error file=jobs.d/bad.yaml,line=2,col=1,title=gpulab-apply {command}::")
        else:
            assert out.splitlines()[-1].startswith(f"::error title=gpulab-apply {command}::{message}"), out
    elif failure == "invalid":
        assert out.startswith("jobs.d/bad.yaml:2:1: error: request: ") and out.endswith(" 1 file.\n"), out
    elif failure == "unreachable":
        assert out == ""


@pytest.mark.parametrize("command", ["validate", "plan", "apply", "status", "render"])
def test_a_failed_document_has_the_keys_of_a_successful_one(repo: Repo, cli: RunCli, command: str) -> None:
    repo.write("a")
    args = {"apply": ["jobs.d", "--yes"], "render": []}.get(command, ["jobs.d"])  # render reads jobs.d itself
    connection = [] if command in ("validate", "render") else repo.connection
    good = json.loads(cli(command, *args, "--format", "json", *connection).stdout)
    repo.write("bad", BAD_JOB)
    bad = json.loads(cli(command, *args, "--format", "json", *connection).stdout)
    assert (good["ok"], bad["ok"]) == (True, False)
    assert list(bad) == list(good)


def _document_from_nothing(kind: str) -> dict[str, Any]:
    """A successful document of ``kind`` made from nothing: what a failure report once built to learn the keys."""
    from datetime import UTC, datetime

    from gpulab_apply.jobfiles.validation import ValidationResult
    from gpulab_apply.reconcile.planfile import SavedPlan
    from gpulab_apply.reconcile.planner import PlanOptions, build_plan
    from gpulab_apply.reporters.apply import ApplyResult, apply_document
    from gpulab_apply.reporters.identity import IdentityReport, identity_document
    from gpulab_apply.reporters.plan import plan_document
    from gpulab_apply.reporters.problems import validate_document
    from gpulab_apply.reporters.render import RenderResult, render_document
    from gpulab_apply.reporters.show import ShownPlan, show_document
    from gpulab_apply.reporters.status import StatusReport, status_document

    plan = build_plan((), (), set_name="-", options=PlanOptions())
    made: dict[str, Callable[[], dict[str, Any]]] = {
        "plan": lambda: plan_document(plan),
        "apply": lambda: apply_document(ApplyResult(plan=plan, report=None)),
        "status": lambda: status_document(StatusReport(set_name="-", rows=(), now=datetime.now(UTC))),
        "render": lambda: render_document(RenderResult(jobs=())),
        "validate": lambda: validate_document(ValidationResult(jobs=(), problems=(), files=0)),
        "whoami": lambda: identity_document(IdentityReport(
            user=None, email=None, certificate=None, valid_until=None, days_left=None, endpoint="", api_version="",
            project=None, set_name="", local=False)),
        "show": lambda: show_document(ShownPlan(Path(), SavedPlan(
            set_name="", endpoint="", api_version=None, paths=(), options=PlanOptions(), created="",
            remote_fingerprint="", desired_fingerprint="", actions=()))),
    }
    return made[kind]()


@pytest.mark.parametrize("kind", list(VERSIONS))
def test_each_kind_declares_the_keys_of_its_document_for_failures(kind: Kind) -> None:
    from gpulab_apply.reporters import EMPTY_BODIES, Failure
    from gpulab_apply.reporters.failure import document

    good = _document_from_nothing(kind)
    failed = document(Failure(kind=kind, message="stopped", set_name="lab"))
    assert list(failed) == list(good)
    assert failed["ok"] is False and failed["error"]["message"] == "stopped"
    assert all(failed[key] in ([], None, "lab") for key in EMPTY_BODIES[kind])
    # a list on success is an empty list on failure, anything else null (the set: the command's set)
    assert {key for key in EMPTY_BODIES[kind] if isinstance(good[key], list)} == {
        key for key in EMPTY_BODIES[kind] if failed[key] == []}


def test_every_registered_format_reports_a_failure() -> None:
    from gpulab_apply.reporters import REGISTRY, Failure, fail_reporter

    for kind, fmt in REGISTRY:
        stream = io.StringIO()
        fail_reporter(kind, fmt)(Failure(kind=kind, message="stopped"), stream)
        assert fmt == "text" or fmt == "yaml" or stream.getvalue(), (kind, fmt)
