"""The CI recipes in docs/ci/ run as written: their shell steps, with the real ``gpulab-apply`` entry point,
against the emulator over mutual TLS.

A small runner plays GitHub Actions (``run:`` steps in bash with ``$GITHUB_ENV``/``$GITHUB_OUTPUT``, the
expressions and conditions the workflow uses, step and job outputs, a fake ``gh`` naming the pull request of a
commit) and GitLab CI (``before_script`` + ``script`` in one bash session, the merge-request note posted to a fake
GitLab on loopback). Only what needs the internet is left out: ``uses:`` actions (the sticky comment's file and
pull request are recorded instead) and the ``pip install`` of the pinned requirement (whose pin is checked
instead). The one addition is where GPULab is: ``GPULAB_ENDPOINT`` and ``GPULAB_CA_BUNDLE`` point at the emulator.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from ruamel.yaml import YAML

from gpulab_apply import __version__
from gpulab_apply.emulator import RunningEmulator
from gpulab_apply.gpulab.certificate import load_credentials
from gpulab_apply.gpulab.client import GpulabClient
from gpulab_apply.reconcile.marker import parse_marker
from tests.fixtures.certificates import MakeLoginPem
from tests.job_texts import MINIMAL_JOB_YAML

ROOT = Path(__file__).resolve().parent.parent
CI_DOCS = ROOT / "docs" / "ci"
BIN = Path(sys.executable).parent
REQUIREMENT = f"gpulab-apply @ git+https://github.com/gpulab-apply/gpulab-apply@v{__version__}"
PASSWORD = "correct horse"
GITHUB_TOKEN = "ghs_workflow-token"
_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")

pytestmark = pytest.mark.skipif(shutil.which("bash") is None or not (BIN / "gpulab-apply").exists(),
                                reason="needs bash and the installed gpulab-apply script")


def load(name: str) -> Any:
    return YAML(typ="safe").load((CI_DOCS / name).read_text(encoding="utf-8"))


def job_file(name: str) -> str:
    return MINIMAL_JOB_YAML.format(name=name)


@dataclass
class Workspace:
    """A job repository checked out for a CI job, and the environment the runner gives every step."""

    root: Path
    env: dict[str, str]
    ran: list[str] = field(default_factory=list)
    #: the sticky comments on GitHub, as the action keeps them: one per (pull request, header), edited in place
    sticky: dict[tuple[str, str], str] = field(default_factory=dict)

    def merged_from(self, pull_request: str) -> str:
        """Commit the job files as the merge of ``pull_request`` (the number ``gh`` then gives for the commit, as
        GitHub would; "" for a direct push); the commit's hash, which apply records in its run id."""
        def git(*args: str) -> str:
            return subprocess.run(["git", "-C", str(self.root), "-c", "user.name=ci", "-c", "user.email=ci@example.com",
                                   *args], check=True, capture_output=True, text=True, env=self.env).stdout.strip()

        if not (self.root / ".git").exists():
            git("init", "-q")
        git("add", "-A")
        git("commit", "-q", "--allow-empty", "-m", f"Merge pull request #{pull_request}")
        sha = git("rev-parse", "HEAD")
        self.env["GITHUB_SHA"] = sha
        (self.root.parent / "pulls").mkdir(exist_ok=True)
        (self.root.parent / "pulls" / sha).write_text(pull_request)
        return sha

    def write_jobs(self, *names: str) -> None:
        jobs = self.root / "jobs.d"
        shutil.rmtree(jobs, ignore_errors=True)
        jobs.mkdir()
        for name in names:
            (jobs / f"{name}.yaml").write_text(job_file(name), encoding="utf-8")

    def bash(self, script: str, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
        self.ran.append(script)
        return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                              check=False, cwd=self.root, env=dict(env), capture_output=True, text=True,
                              timeout=120)


@pytest.fixture
def workspace(tmp_path: Path, tls_emulator: RunningEmulator, ca_file: Path) -> Workspace:
    root = tmp_path / "repo"
    root.mkdir()
    # GitHub's `gh` as the runner has it, answering the one question the recipe asks: which pull request the pushed
    # commit came from (Workspace.merged_from), with the workflow's token
    fake_bin = tmp_path / "fake-bin"
    fake_bin.mkdir()
    (fake_bin / "gh").write_text(f"""#!/bin/sh
test "$GH_TOKEN" = {GITHUB_TOKEN} || {{ echo "gh: not logged in" >&2; exit 4; }}
case "$*" in
  "api repos/$GITHUB_REPOSITORY/commits/$GITHUB_SHA/pulls --jq .[0].number // empty")
    cat "{tmp_path}/pulls/$GITHUB_SHA" 2>/dev/null; echo;;
  *) echo "gh: unexpected call: $*" >&2; exit 1;;
esac
""")
    (fake_bin / "gh").chmod(0o755)
    env = {"PATH": f"{BIN}{os.pathsep}{fake_bin}{os.pathsep}/usr/bin{os.pathsep}/bin", "HOME": str(tmp_path / "home"),
           "LANG": "C.UTF-8", "GPULAB_ENDPOINT": tls_emulator.api_root("3.1"), "GPULAB_CA_BUNDLE": str(ca_file),
           "GITHUB_REPOSITORY": "lab/experiments", "GITHUB_SHA": "0" * 40}
    return Workspace(root, env)


def test_recipes_pin_an_installable_release_not_pypi() -> None:
    requirement = Requirement(REQUIREMENT)  # valid PEP 508, as pip reads it
    assert requirement.name == "gpulab-apply" and requirement.url and requirement.url.startswith("git+https://")
    github = load("github-actions.yml")
    gitlab = load("gitlab-ci.yml")
    assert github["env"]["GPULAB_APPLY_REQUIREMENT"] == REQUIREMENT
    assert gitlab["variables"]["GPULAB_APPLY_REQUIREMENT"] == REQUIREMENT
    for text in ((CI_DOCS / "github-actions.yml").read_text(), (CI_DOCS / "gitlab-ci.yml").read_text()):
        assert "pip install gpulab-apply" not in text
        assert 'pip install --quiet "$GPULAB_APPLY_REQUIREMENT"' in text or 'pip install "$GPULAB_APPLY_REQUIREMENT"' \
            in text


def test_applies_are_serialised() -> None:
    github = load("github-actions.yml")
    for job in ("apply", "advance"):
        assert github["jobs"][job]["concurrency"] == {"group": "gpulab-apply", "cancel-in-progress": False}
        assert load("gitlab-ci.yml")[job]["resource_group"] == "gpulab-apply"


PIPELINE = MINIMAL_JOB_YAML.format(name="prep") + "---\n" + MINIMAL_JOB_YAML.format(name="train") \
    + "x-gpulab-apply: {needs: [prep]}\n"


@pytest.mark.slow  # over a second on 2 cores (docs: README, Development)
def test_github_schedule_advances_a_pipeline_and_reports_it(workspace: Workspace, make_login_pem: MakeLoginPem,
                                                            managed: Managed, tls_emulator: RunningEmulator) -> None:
    assert "schedule" in load("github-actions.yml")["on"]
    (workspace.root / "jobs.d").mkdir()
    (workspace.root / "jobs.d" / "pipeline.yaml").write_text(PIPELINE, encoding="utf-8")
    secrets = {"GPULAB_LOGIN_PEM": make_login_pem("jdoe").read_text()}
    run = run_github_job(workspace, "advance", event="schedule", secrets=secrets)
    assert run.ok, run.logs
    assert managed() == [("prep", "my-experiments")]  # train waits for prep
    assert "> train: waits for prep: to be submitted" in run.logs
    summary = (workspace.root.parent / "runner-temp" / "summary.md").read_text()
    assert "| prep |" in summary and "| train |" in summary
    tls_emulator.advance(3600)  # prep FINISHED
    run = run_github_job(workspace, "advance", event="schedule", secrets=secrets)
    assert run.ok, run.logs
    assert managed() == [("train", "my-experiments")]


@pytest.mark.slow  # over a second on 2 cores (docs: README, Development)
def test_gitlab_schedule_advances_a_pipeline(workspace: Workspace, make_login_pem: MakeLoginPem, managed: Managed,
                                             tls_emulator: RunningEmulator) -> None:
    assert load("gitlab-ci.yml")["advance"]["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}]
    (workspace.root / "jobs.d").mkdir()
    (workspace.root / "jobs.d" / "pipeline.yaml").write_text(PIPELINE, encoding="utf-8")
    variables = {"GPULAB_LOGIN_PEM_B64": base64.b64encode(make_login_pem("jdoe").read_bytes()).decode()}
    result = run_gitlab_job(workspace, "advance", variables)
    assert result.returncode == 0, result.stdout + result.stderr
    assert managed() == [("prep", "my-experiments")]
    tls_emulator.advance(3600)
    result = run_gitlab_job(workspace, "advance", variables)
    assert result.returncode == 0, result.stdout + result.stderr
    assert managed() == [("train", "my-experiments")]


# --- GitHub Actions --------------------------------------------------------------------------------------------


@dataclass
class GithubRun:
    ok: bool
    outputs: dict[str, dict[str, str]]
    comment: Path | None
    logs: str
    #: the job's ``outputs:``, for the jobs that need it
    job_outputs: dict[str, str] = field(default_factory=dict)
    #: (pull-request number, text) of each comment the job posted, in order
    comments: list[tuple[str, str]] = field(default_factory=list)


def run_github_job(workspace: Workspace, job_name: str, *, event: str, secrets: Mapping[str, str],
                   fork: bool = False, needs: Mapping[str, GithubRun] | None = None,
                   pull_request: str = "17") -> GithubRun:
    """Run one job of the workflow as a runner would for ``event`` (of ``pull_request``; from a ``fork``: no secrets
    reach it; after the jobs it ``needs``, with their outputs); stop at the first failing step that may not fail
    (``continue-on-error``)."""
    workflow = load("github-actions.yml")
    job = workflow["jobs"][job_name]
    declared = job.get("needs", [])
    assert sorted([declared] if isinstance(declared, str) else declared) == sorted(needs or {}), "run what it needs"
    context = _Context(secrets={} if fork else secrets, event=event, fork=fork,
                       needs={name: run.job_outputs for name, run in (needs or {}).items()})
    assert job["if"].startswith(f"github.event_name == '{event}'")
    assert context.condition(job["if"]), f"the {job_name} job does not run here: {job['if']}"
    runner_temp = workspace.root.parent / "runner-temp"
    runner_temp.mkdir(exist_ok=True)
    env = {**workspace.env, "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(workspace.root),
           "RUNNER_TEMP": str(runner_temp), "GITHUB_EVENT_NAME": event, "GITHUB_SERVER_URL": "https://github.com",
           "GITHUB_RUN_ID": "4242", "GITHUB_STEP_SUMMARY": str(runner_temp / "summary.md")}
    assert "secrets." not in json.dumps(workflow.get("env", {})) + json.dumps(job.get("env", {})), \
        "a secret in a workflow's or job's env reaches every step, third-party actions too"
    env.update(context.values(workflow.get("env", {})))
    env.update(context.values(job.get("env", {})))
    comment: Path | None = None
    comments: list[tuple[str, str]] = []
    logs = []
    for step in job["steps"]:
        if "if" in step and not context.condition(step["if"]):
            continue
        if "uses" in step:
            if step["uses"].startswith("marocchino/sticky-pull-request-comment@"):
                assert step["with"]["header"] == "gpulab-apply-plan"  # one comment for the pull request's life
                comment = workspace.root / step["with"]["path"]
                assert comment.is_file(), "the comment step needs its file"
                # without `number:` the action comments on the event's pull request (none on a push)
                number = context.value(str(step["with"].get("number", "")))
                if not number:
                    assert event == "pull_request", "after the merge the comment needs the pull request's number"
                    number = pull_request
                comments.append((number, comment.read_text()))
                workspace.sticky[number, step["with"]["header"]] = comment.read_text()
            continue
        script = step["run"]
        assert "${{" not in script, "expressions in run: scripts are injection-prone; pass them through env:"
        if 'pip install "$GPULAB_APPLY_REQUIREMENT"' in script:
            assert script.strip() == 'pip install "$GPULAB_APPLY_REQUIREMENT"'
            continue
        github_env, github_output = runner_temp / "env", runner_temp / "output"
        github_env.write_text("")
        github_output.write_text("")
        step_env = {**env, **context.values(step.get("env", {})),
                    "GITHUB_ENV": str(github_env), "GITHUB_OUTPUT": str(github_output)}
        result = workspace.bash(script, step_env)
        logs.append(result.stdout + result.stderr)
        env.update(_key_values(github_env.read_text()))
        if "id" in step:
            context.steps[step["id"]] = _key_values(github_output.read_text())
            context.outcomes[step["id"]] = "success" if result.returncode == 0 else "failure"
        if result.returncode != 0 and not step.get("continue-on-error"):
            return GithubRun(False, context.steps, comment, "".join(logs), comments=comments)
    job_outputs = {key: context.value(str(value)) for key, value in (job.get("outputs") or {}).items()}
    return GithubRun(True, context.steps, comment, "".join(logs), job_outputs, comments)


@dataclass
class _Context:
    """The expressions the workflow uses: ``secrets.X``, ``github.token``, ``steps.ID.outputs.X``,
    ``steps.ID.outcome``, ``needs.JOB.outputs.X``; and conditions joining ``github.event_name == '...'``,
    ``EXPR != ''`` and "the pull request's head is this repository" (not a fork's) with ``&&``."""

    secrets: Mapping[str, str]
    event: str
    fork: bool = False
    needs: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    steps: dict[str, dict[str, str]] = field(default_factory=dict)
    outcomes: dict[str, str] = field(default_factory=dict)

    def evaluate(self, expression: str) -> str:
        parts = expression.split(".")
        if parts[0] == "secrets" and len(parts) == 2:
            return self.secrets.get(parts[1], "")
        if expression == "github.token":
            return GITHUB_TOKEN
        if parts[0] == "steps" and parts[2:] == ["outcome"]:
            return self.outcomes.get(parts[1], "skipped")
        if parts[0] in ("steps", "needs") and len(parts) == 4 and parts[2] == "outputs":
            source = self.steps if parts[0] == "steps" else self.needs
            return source.get(parts[1], {}).get(parts[3], "")
        raise AssertionError(f"unexpected expression {expression}")

    def value(self, text: str) -> str:
        return _EXPRESSION.sub(lambda match: self.evaluate(match[1]), text)

    def values(self, values: Mapping[str, Any]) -> dict[str, str]:
        return {key: self.value(str(value)) for key, value in values.items()}

    def condition(self, text: str) -> bool:
        results = []
        for clause in text.split("&&"):
            clause = clause.strip()
            if found := re.fullmatch(r"github\.event_name == '(\w+)'", clause):
                results.append(found[1] == self.event)
            elif clause == "github.event.pull_request.head.repo.full_name == github.repository":
                results.append(not self.fork)
            elif found := re.fullmatch(r"([\w.-]+) != ''", clause):
                results.append(self.evaluate(found[1]) != "")
            else:
                raise AssertionError(f"unexpected condition {clause!r}")
        return all(results)


def _key_values(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


@pytest.mark.slow
def test_github_pull_request_plans_comments_and_annotates(workspace: Workspace, make_login_pem: MakeLoginPem,
                                                          managed: Managed) -> None:
    workspace.write_jobs("train-a", "train-b")
    secrets = {"GPULAB_LOGIN_PEM": make_login_pem("jdoe", password=PASSWORD).read_text(),
               "GPULAB_CERT_PASSWORD": PASSWORD}
    run = run_github_job(workspace, "plan", event="pull_request", secrets=secrets)
    assert run.ok, run.logs
    assert run.outputs["plan"]["exitcode"] == "2"  # changes
    assert run.comment is not None
    comment = run.comment.read_text()
    assert "gpulab-apply plan for set `my-experiments`" in comment and "train-a" in comment
    assert "::notice file=jobs.d/train-a.yaml,line=" in run.logs
    # written readable by the runner's user only, and gone with the step that needed it
    assert not (workspace.root.parent / "runner-temp" / "login.pem").exists()
    assert "umask 077" in next(script for script in workspace.ran if "login.pem" in script)
    assert managed() == []  # a plan submits nothing


def test_github_pull_request_with_a_broken_file_still_comments_then_fails(
        workspace: Workspace, make_login_pem: MakeLoginPem) -> None:
    workspace.write_jobs("train-a")
    (workspace.root / "jobs.d" / "broken.yaml").write_text("name: broken\nrequest: [\n")
    secrets = {"GPULAB_LOGIN_PEM": make_login_pem("jdoe").read_text()}
    run = run_github_job(workspace, "plan", event="pull_request", secrets=secrets)
    assert not run.ok
    assert run.outputs["plan"]["exitcode"] == "1"
    assert run.comment is not None  # the comment step was reached, and the comment tells the truth
    comment = run.comment.read_text()
    assert "gpulab-apply plan for set `my-experiments`: failed" in comment and "jobs.d/broken.yaml" in comment
    assert "::error file=jobs.d/broken.yaml,line=" in run.logs


@pytest.mark.slow
def test_github_push_applies_the_set(workspace: Workspace, make_login_pem: MakeLoginPem,
                                     managed: Managed) -> None:
    workspace.write_jobs("train-a", "train-b")
    secrets = {"GPULAB_LOGIN_PEM": make_login_pem("jdoe").read_text()}
    run = run_github_job(workspace, "apply", event="push", secrets=secrets)
    assert run.ok, run.logs
    assert managed() == [("train-a", "my-experiments"), ("train-b", "my-experiments")]
    workspace.write_jobs("train-a")
    run = run_github_job(workspace, "apply", event="push", secrets=secrets)
    assert run.ok, run.logs
    assert managed() == [("train-a", "my-experiments")]


FAILING = job_file("train-a") + "    environment: {GPULAB_EMULATOR_EXIT_CODE: 2}\n"  # the emulator's run exits 2


@pytest.mark.slow
def test_github_pull_request_comment_goes_from_plan_to_applied_to_results(
        workspace: Workspace, make_login_pem: MakeLoginPem, tls_emulator: RunningEmulator) -> None:
    workspace.write_jobs("train-a", "train-b")
    secrets = {"GPULAB_LOGIN_PEM": make_login_pem("jdoe").read_text()}
    assert run_github_job(workspace, "plan", event="pull_request", secrets=secrets).ok
    assert list(workspace.sticky) == [("17", "gpulab-apply-plan")]
    assert workspace.sticky["17", "gpulab-apply-plan"].startswith("### gpulab-apply plan for set `my-experiments`")
    sha = workspace.merged_from("17")
    applied = run_github_job(workspace, "apply", event="push", secrets=secrets)
    assert applied.ok, applied.logs
    assert applied.job_outputs == {"pull-request": "17"}
    assert list(workspace.sticky) == [("17", "gpulab-apply-plan")], "the plan's comment is edited, not a new one"
    comment = workspace.sticky["17", "gpulab-apply-plan"]
    assert comment.startswith("### gpulab-apply status of set `my-experiments`")
    assert "0 of 2 jobs ended" in comment and f"Jobs submitted by merge `{sha[:7]}`." in comment
    tls_emulator.advance(3600)  # the jobs run and finish
    results = run_github_job(workspace, "results", event="push", secrets=secrets, needs={"apply": applied})
    assert results.ok, results.logs
    assert list(workspace.sticky) == [("17", "gpulab-apply-plan")]
    comment = workspace.sticky["17", "gpulab-apply-plan"]
    assert "**All 2 jobs ended: 2 FINISHED." in comment and f"Jobs submitted by merge `{sha[:7]}`." in comment
    assert not (workspace.root.parent / "runner-temp" / "login.pem").exists()


@pytest.mark.slow  # over a second on 2 cores (docs: README, Development)
def test_github_results_fail_the_run_after_the_comment_says_which_job_failed(
        workspace: Workspace, make_login_pem: MakeLoginPem, tls_emulator: RunningEmulator) -> None:
    workspace.write_jobs("train-b")
    (workspace.root / "jobs.d" / "train-a.yaml").write_text(FAILING, encoding="utf-8")
    workspace.merged_from("17")
    secrets = {"GPULAB_LOGIN_PEM": make_login_pem("jdoe").read_text()}
    applied = run_github_job(workspace, "apply", event="push", secrets=secrets)
    assert applied.ok, applied.logs
    tls_emulator.advance(3600)
    results = run_github_job(workspace, "results", event="push", secrets=secrets, needs={"apply": applied})
    assert not results.ok and results.outputs["wait"]["exitcode"] == "1"
    [(number, comment)] = results.comments  # posted before the run failed
    assert number == "17" and "| ❌ train-a | FAILED | 2 |" in comment and "| ✅ train-b | FINISHED | 0 |" in comment


@pytest.mark.slow  # over a second on 2 cores (docs: README, Development)
def test_github_failed_apply_says_so_in_the_comment_then_fails(
        workspace: Workspace, make_login_pem: MakeLoginPem, managed: Managed) -> None:
    secrets = {"GPULAB_LOGIN_PEM": make_login_pem("jdoe").read_text()}
    workspace.write_jobs("train-a")
    workspace.merged_from("16")
    assert run_github_job(workspace, "apply", event="push", secrets=secrets).ok
    workspace.write_jobs()  # the next merge empties jobs.d: the guard refuses to cancel everything (exit 3)
    workspace.merged_from("17")
    run = run_github_job(workspace, "apply", event="push", secrets=secrets)
    assert not run.ok and run.outputs["apply"]["exitcode"] == "3"
    [(number, comment)] = run.comments  # posted before the run failed: not the plan, as if applied
    assert number == "17" and comment.startswith(
        "**gpulab-apply apply failed (exit 3)**: see https://github.com/lab/experiments/actions/runs/4242\n")
    assert "### gpulab-apply status of set `my-experiments`" in comment and "train-a" in comment
    assert managed() == [("train-a", "my-experiments")]


def test_github_apply_of_a_broken_file_says_why_in_the_comment(workspace: Workspace,
                                                                 make_login_pem: MakeLoginPem) -> None:
    workspace.write_jobs("train-a")
    (workspace.root / "jobs.d" / "broken.yaml").write_text("name: broken\nrequest: [\n")  # merged despite its plan
    workspace.merged_from("17")
    run = run_github_job(workspace, "apply", event="push",
                         secrets={"GPULAB_LOGIN_PEM": make_login_pem("jdoe").read_text()})
    assert not run.ok and run.outputs["apply"]["exitcode"] == "1"
    [(_, comment)] = run.comments
    assert comment.startswith("**gpulab-apply apply failed (exit 1)**")
    assert "### gpulab-apply status for set `my-experiments`: failed" in comment and "jobs.d/broken.yaml:3" in comment


def test_github_direct_push_applies_without_a_comment_or_results_job(
        workspace: Workspace, make_login_pem: MakeLoginPem, managed: Managed) -> None:
    workspace.write_jobs("train-a")
    workspace.merged_from("")  # pushed to main, from no pull request
    applied = run_github_job(workspace, "apply", event="push",
                             secrets={"GPULAB_LOGIN_PEM": make_login_pem("jdoe").read_text()})
    assert applied.ok, applied.logs
    assert applied.job_outputs == {"pull-request": ""} and applied.comments == [] and workspace.sticky == {}
    assert managed() == [("train-a", "my-experiments")]
    job = load("github-actions.yml")["jobs"]["results"]
    assert not _Context(secrets={}, event="push", needs={"apply": applied.job_outputs}).condition(job["if"])


def test_one_comment_header_for_the_pull_requests_whole_life() -> None:
    jobs = load("github-actions.yml")["jobs"]
    headers = {name: step["with"]["header"] for name, job in jobs.items() for step in job["steps"]
               if step.get("uses", "").startswith("marocchino/sticky-pull-request-comment@")}
    assert headers == dict.fromkeys(["plan", "apply", "results"], "gpulab-apply-plan")
    pipeline = load("gitlab-ci.yml")
    notes = {name: [line for line in pipeline[name]["script"] if "<!-- gpulab-apply plan -->" in line]
             for name in ("plan", "apply", "results")}
    assert all(len(posted) == 1 and posted[0] == notes["plan"][0] for posted in notes.values())


def test_the_results_job_never_holds_up_the_next_apply() -> None:
    github = load("github-actions.yml")["jobs"]["results"]
    assert github["needs"] == "apply" and "concurrency" not in github
    gitlab = load("gitlab-ci.yml")["results"]
    assert gitlab["needs"] == ["apply"] and "resource_group" not in gitlab


Managed = Callable[[], list[tuple[str, str]]]


@pytest.fixture
def managed(tls_emulator: RunningEmulator, login_pem: Path, ca_file: Path) -> Managed:
    """(name, set) of the active managed jobs, as jdoe sees them."""

    def listing() -> list[tuple[str, str]]:
        context = load_credentials(login_pem).ssl_context(ca_bundle=ca_file)
        with GpulabClient(tls_emulator.api_root("3.1"), api_version="3.1", ssl_context=context) as client:
            jobs = client.list_jobs()
        return sorted((job.name, marker.set_name) for job in jobs
                      if job.status.is_active and (marker := parse_marker(job.description)) is not None)

    return listing


# --- GitLab CI --------------------------------------------------------------------------------------------------


class FakeGitlab:
    """Just GitLab's merge-request notes API (list, create, update) and which merge request a commit came from; it
    checks the token."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.notes: list[dict[str, Any]] = []
        #: the commits merge request 7 brought in (what "which merge request is this commit from" answers)
        self.merged: set[str] = set()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self, status: int, value: Any) -> None:
                payload = json.dumps(value).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _handle(self) -> None:
                if self.headers.get("PRIVATE-TOKEN") != fake.token:
                    self._answer(401, {"message": "401 Unauthorized"})
                    return
                path = self.path.split("?")[0]
                if found := re.fullmatch(r"/api/v4/projects/42/repository/commits/([0-9a-f]{40})/merge_requests", path):
                    self._answer(200, [{"iid": 7}] if found[1] in fake.merged else [])
                    return
                match = re.fullmatch(r"/api/v4/projects/42/merge_requests/7/notes(?:/(\d+))?", path)
                if match is None:
                    self._answer(404, {"message": "404 Not found"})
                    return
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"null")
                if self.command == "GET":
                    self._answer(200, fake.notes)
                elif self.command == "POST":
                    fake.notes.append({"id": len(fake.notes) + 100, "body": body["body"]})
                    self._answer(201, fake.notes[-1])
                else:
                    note = next(n for n in fake.notes if n["id"] == int(match[1]))
                    note["body"] = body["body"]
                    self._answer(200, note)

            do_GET = do_POST = do_PUT = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/v4"


@pytest.fixture
def gitlab() -> Iterator[FakeGitlab]:
    fake = FakeGitlab("glpat-test")
    fake.notes.append({"id": 1, "body": "Looks good to me"})
    # a short poll: the default 0.5 s would be waited out at each stop (as in tests/hostile_gpulab.py)
    thread = threading.Thread(target=fake.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def run_gitlab_job(workspace: Workspace, job_name: str, variables: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """One job as the runner runs it: the variables, then before_script and script in one bash session."""
    pipeline = load("gitlab-ci.yml")
    job = pipeline[job_name]
    template = pipeline[job["extends"]]
    lines = [*template["before_script"], *job["script"]]
    installs = [line for line in lines if "pip install" in line]
    assert installs == ['pip install --quiet "$GPULAB_APPLY_REQUIREMENT"']
    script = "\n".join(line for line in lines if line not in installs)
    env = {**workspace.env, **{k: str(v) for k, v in pipeline["variables"].items()},
           **{k: str(v) for k, v in (job.get("variables") or {}).items()}, **variables}
    return workspace.bash(script, env)


@pytest.mark.slow
def test_gitlab_merge_request_plans_into_one_note_updated_in_place(
        workspace: Workspace, make_login_pem: MakeLoginPem, gitlab: FakeGitlab) -> None:
    rules = load("gitlab-ci.yml")["plan"]["rules"]
    assert rules[0]["if"] == '$CI_PIPELINE_SOURCE == "merge_request_event"'
    variables = {"GPULAB_LOGIN_PEM_B64": base64.b64encode(make_login_pem("jdoe").read_bytes()).decode(),
                 "CI_API_V4_URL": gitlab.url, "CI_PROJECT_ID": "42", "CI_MERGE_REQUEST_IID": "7",
                 "GPULAB_NOTES_TOKEN": gitlab.token}
    workspace.write_jobs("train-a")
    first = run_gitlab_job(workspace, "plan", variables)
    assert first.returncode == 0, first.stdout + first.stderr
    assert len(gitlab.notes) == 2 and "train-a" in gitlab.notes[1]["body"]
    workspace.write_jobs("train-a", "train-b")
    second = run_gitlab_job(workspace, "plan", variables)
    assert second.returncode == 0, second.stdout + second.stderr
    assert len(gitlab.notes) == 2, "the plan note is edited, not posted again"
    assert "train-b" in gitlab.notes[1]["body"] and gitlab.notes[0]["body"] == "Looks good to me"
    (workspace.root / "jobs.d" / "broken.yaml").write_text("name: broken\nrequest: [\n")
    broken = run_gitlab_job(workspace, "plan", variables)
    assert broken.returncode != 0  # the pipeline fails on an error, after updating the note
    assert len(gitlab.notes) == 2 and "train-b" not in gitlab.notes[1]["body"]
    assert ": failed" in gitlab.notes[1]["body"] and "jobs.d/broken.yaml" in gitlab.notes[1]["body"]
    report = load("gitlab-ci.yml")["plan"]["artifacts"]["reports"]["codequality"]
    [finding] = json.loads((workspace.root / report).read_text())  # the report artifact GitLab reads
    assert finding["location"] == {"path": "jobs.d/broken.yaml", "lines": {"begin": 3}}
    assert finding["severity"] == "major" and finding["description"].startswith("YAML: ")


def test_gitlab_merge_to_the_default_branch_applies(workspace: Workspace, make_login_pem: MakeLoginPem,
                                                    managed: Managed, gitlab: FakeGitlab) -> None:
    rules = load("gitlab-ci.yml")["apply"]["rules"]
    assert "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH" in rules[0]["if"]
    workspace.write_jobs("train-a", "train-b")
    variables = {"GPULAB_LOGIN_PEM_B64": base64.b64encode(make_login_pem("jdoe").read_bytes()).decode(),
                 "CI_API_V4_URL": gitlab.url, "CI_PROJECT_ID": "42", "GPULAB_NOTES_TOKEN": gitlab.token,
                 "CI_COMMIT_SHA": workspace.merged_from("")}  # a direct push: no merge request, no note to edit
    result = run_gitlab_job(workspace, "apply", variables)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Apply complete" in result.stdout
    assert managed() == [("train-a", "my-experiments"), ("train-b", "my-experiments")]
    assert [note["body"] for note in gitlab.notes] == ["Looks good to me"]


@pytest.mark.slow
def test_gitlab_merge_requests_note_goes_from_plan_to_applied_to_results(
        workspace: Workspace, make_login_pem: MakeLoginPem, gitlab: FakeGitlab, tls_emulator: RunningEmulator) -> None:
    connection = {"GPULAB_LOGIN_PEM_B64": base64.b64encode(make_login_pem("jdoe").read_bytes()).decode(),
                  "CI_API_V4_URL": gitlab.url, "CI_PROJECT_ID": "42", "GPULAB_NOTES_TOKEN": gitlab.token}
    workspace.write_jobs("train-a", "train-b")
    planned = run_gitlab_job(workspace, "plan", {**connection, "CI_MERGE_REQUEST_IID": "7"})
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert gitlab.notes[1]["body"].startswith("<!-- gpulab-apply plan -->\n### gpulab-apply plan for set")
    sha = workspace.merged_from("7")
    gitlab.merged.add(sha)
    applied = run_gitlab_job(workspace, "apply", {**connection, "CI_COMMIT_SHA": sha})
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert len(gitlab.notes) == 2, "the plan's note is edited, not a new one posted"
    note = gitlab.notes[1]["body"]
    assert note.startswith("<!-- gpulab-apply plan -->\n### gpulab-apply status of set `my-experiments`")
    assert "0 of 2 jobs ended" in note and f"Jobs submitted by merge `{sha[:7]}`." in note
    tls_emulator.advance(3600)
    ended = run_gitlab_job(workspace, "results", {**connection, "CI_COMMIT_SHA": sha})
    assert ended.returncode == 0, ended.stdout + ended.stderr
    assert len(gitlab.notes) == 2 and gitlab.notes[0]["body"] == "Looks good to me"
    note = gitlab.notes[1]["body"]
    assert note.startswith("<!-- gpulab-apply plan -->\n") and "**All 2 jobs ended: 2 FINISHED." in note


@pytest.mark.slow  # over a second on 2 cores (docs: README, Development)
def test_gitlab_failed_apply_says_so_in_the_note_then_fails(
        workspace: Workspace, make_login_pem: MakeLoginPem, gitlab: FakeGitlab) -> None:
    variables = {"GPULAB_LOGIN_PEM_B64": base64.b64encode(make_login_pem("jdoe").read_bytes()).decode(),
                 "CI_API_V4_URL": gitlab.url, "CI_PROJECT_ID": "42", "GPULAB_NOTES_TOKEN": gitlab.token,
                 "CI_JOB_URL": "https://gitlab.example/lab/experiments/-/jobs/99"}
    workspace.write_jobs("train-a")
    assert run_gitlab_job(workspace, "apply", {**variables, "CI_COMMIT_SHA": workspace.merged_from("")}).returncode == 0
    workspace.write_jobs()  # the guard refuses to cancel everything (exit 3)
    sha = workspace.merged_from("7")
    gitlab.merged.add(sha)
    failed = run_gitlab_job(workspace, "apply", {**variables, "CI_COMMIT_SHA": sha})
    assert failed.returncode != 0
    [_, note] = gitlab.notes
    assert note["body"].startswith("<!-- gpulab-apply plan -->\n**gpulab-apply apply failed (exit 3)**: see "
                                   "https://gitlab.example/lab/experiments/-/jobs/99\n")


@pytest.mark.slow  # over a second on 2 cores (docs: README, Development)
def test_gitlab_results_fail_the_pipeline_after_the_note_says_which_job_failed(
        workspace: Workspace, make_login_pem: MakeLoginPem, gitlab: FakeGitlab, tls_emulator: RunningEmulator) -> None:
    (workspace.root / "jobs.d").mkdir()
    (workspace.root / "jobs.d" / "train-a.yaml").write_text(FAILING, encoding="utf-8")
    sha = workspace.merged_from("7")
    gitlab.merged.add(sha)
    variables = {"GPULAB_LOGIN_PEM_B64": base64.b64encode(make_login_pem("jdoe").read_bytes()).decode(),
                 "CI_API_V4_URL": gitlab.url, "CI_PROJECT_ID": "42", "GPULAB_NOTES_TOKEN": gitlab.token,
                 "CI_COMMIT_SHA": sha}
    applied = run_gitlab_job(workspace, "apply", variables)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    tls_emulator.advance(3600)
    ended = run_gitlab_job(workspace, "results", variables)
    assert ended.returncode != 0
    assert len(gitlab.notes) == 2 and "| ❌ train-a | FAILED | 2 |" in gitlab.notes[1]["body"]


@pytest.mark.slow
def test_every_gpulab_apply_command_in_the_recipes_is_run(workspace: Workspace, make_login_pem: MakeLoginPem,
                                                          gitlab: FakeGitlab, tls_emulator: RunningEmulator) -> None:
    """No command line of a recipe escapes the tests above: each is in a step this runner executes."""
    workspace.write_jobs("train-a")
    secrets = {"GPULAB_LOGIN_PEM": make_login_pem("jdoe").read_text()}
    run_github_job(workspace, "plan", event="pull_request", secrets=secrets)
    sha = workspace.merged_from("17")
    applied = run_github_job(workspace, "apply", event="push", secrets=secrets)
    tls_emulator.advance(3600)  # the jobs end: the results jobs wait for that
    assert run_github_job(workspace, "results", event="push", secrets=secrets, needs={"apply": applied}).ok
    run_github_job(workspace, "advance", event="schedule", secrets=secrets)
    variables = {"GPULAB_LOGIN_PEM_B64": base64.b64encode(make_login_pem("jdoe").read_bytes()).decode(),
                 "CI_API_V4_URL": gitlab.url, "CI_PROJECT_ID": "42", "CI_MERGE_REQUEST_IID": "7",
                 "GPULAB_NOTES_TOKEN": gitlab.token, "CI_COMMIT_SHA": sha}
    run_gitlab_job(workspace, "plan", variables)
    run_gitlab_job(workspace, "apply", variables)
    tls_emulator.advance(3600)
    assert run_gitlab_job(workspace, "results", variables).returncode == 0
    run_gitlab_job(workspace, "advance", variables)
    executed = "\n".join(workspace.ran)
    for name in ("github-actions.yml", "gitlab-ci.yml"):
        commands = [line.strip(" -") for line in (CI_DOCS / name).read_text().splitlines()
                    if re.search(r"\bgpulab-apply (validate|plan|apply|status|wait|logs)\b", line)
                    and not line.lstrip().startswith("#")]
        assert commands, name
        for command in commands:
            command = command.removeprefix("run: ")
            assert command in executed, f"{name}: {command!r} was not run"


# --- what the recipes promise: pinned actions, scoped secrets, one plan, forks and unprotected branches -------

_PINNED = re.compile(r"^\s*-?\s*uses:\s*(?P<action>[\w.-]+/[\w./-]+)@(?P<sha>[0-9a-f]{40})\s+#\s*v\d+(\.\d+)*\s*$")


def test_every_action_is_pinned_to_a_full_commit_sha_with_its_tag() -> None:
    lines = [line for line in (CI_DOCS / "github-actions.yml").read_text().splitlines() if "uses:" in line
             and not line.lstrip().startswith("#")]
    assert len(lines) >= 5
    assert [line for line in lines if not _PINNED.match(line)] == []


def test_secrets_reach_only_the_steps_that_talk_to_gpulab() -> None:
    workflow = load("github-actions.yml")
    assert "secrets." not in json.dumps(workflow.get("env", {}))
    for name, job in workflow["jobs"].items():
        assert "secrets." not in json.dumps(job.get("env", {})), name
        holding = [step for step in job["steps"] if "secrets." in json.dumps(step)]
        # one step per job, a shell step (no third-party action gets a secret), and it runs gpulab-apply
        assert len(holding) == 1, name
        assert "uses" not in holding[0] and "gpulab-apply " in holding[0]["run"], name
        assert "rm -f \"$RUNNER_TEMP/login.pem\"" in holding[0]["run"], "the certificate leaves with the step"


def test_the_pull_request_plans_once_and_uses_its_exit_code() -> None:
    text = (CI_DOCS / "github-actions.yml").read_text()
    assert len(re.findall(r"gpulab-apply plan\b", text)) == 1
    steps = load("github-actions.yml")["jobs"]["plan"]["steps"]
    assert any("steps.plan.outputs.exitcode" in json.dumps(step.get("env", {})) for step in steps)


def test_github_pull_request_from_a_fork_is_checked_offline(workspace: Workspace, managed: Managed) -> None:
    workspace.write_jobs("train-a")
    run = run_github_job(workspace, "plan", event="pull_request", secrets={"GPULAB_LOGIN_PEM": "x"}, fork=True)
    assert run.ok, run.logs
    assert "1 job in 1 file is valid." in run.logs
    (workspace.root / "jobs.d" / "broken.yaml").write_text("name: broken\nrequest: [\n")
    run = run_github_job(workspace, "plan", event="pull_request", secrets={}, fork=True)
    assert not run.ok and "::error file=jobs.d/broken.yaml,line=" in run.logs
    assert managed() == []


def test_gitlab_merge_request_from_an_unprotected_branch_is_checked_offline_and_noted(
        workspace: Workspace, gitlab: FakeGitlab) -> None:
    # the certificate is protected: this pipeline does not get GPULAB_LOGIN_PEM_B64 at all
    variables = {"CI_API_V4_URL": gitlab.url, "CI_PROJECT_ID": "42", "CI_MERGE_REQUEST_IID": "7",
                 "GPULAB_NOTES_TOKEN": gitlab.token, "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "lr-sweep",
                 "CI_DEFAULT_BRANCH": "main"}
    workspace.write_jobs("train-a")
    result = run_gitlab_job(workspace, "plan", variables)
    assert result.returncode == 0, result.stdout + result.stderr
    note = gitlab.notes[1]["body"]
    assert "checked offline and are valid" in note and "`lr-sweep` is not a protected branch" in note
    (workspace.root / "jobs.d" / "broken.yaml").write_text("name: broken\nrequest: [\n")
    broken = run_gitlab_job(workspace, "plan", variables)
    assert broken.returncode != 0 and "have problems" in gitlab.notes[1]["body"]


def test_gitlab_apply_without_the_certificate_says_why(workspace: Workspace) -> None:
    workspace.write_jobs("train-a")
    result = run_gitlab_job(workspace, "apply", {"CI_COMMIT_BRANCH": "main"})
    assert result.returncode != 0 and "is the branch protected?" in result.stdout
