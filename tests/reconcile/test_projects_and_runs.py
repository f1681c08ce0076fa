"""What is desired and what is current never depends on how the command was run (issue 17): jobs in any project,
the current run after a race, kept drift, and plan files applied where they were made. The real CLI against the
emulator over HTTP on loopback (docs/plan-apply.md#projects, #the-current-run-and-history, #kept-drift;
docs/plan-format.md)."""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path

import pytest

from gpulab_apply.cli import run
from gpulab_apply.emulator import Fault, RunningEmulator
from gpulab_apply.gpulab.client import GpulabClient
from gpulab_apply.jobmodel.status import JobStatus
from gpulab_apply.model import RemoteJob
from tests.conftest import RunCli
from tests.fixtures.jobs import job_yaml

LOCAL = "urn:publicid:IDN+ilabt.imec.be+project+local"
VISION = "urn:publicid:IDN+ilabt.imec.be+project+visionlab"
VERSIONS = ["3.1", "4.0"]
FORMATS = ["text", "json", "markdown", "github"]


def listing(emulator: RunningEmulator, version: str = "4.0") -> list[RemoteJob]:
    """Every job on the emulator, of every user and project."""
    with GpulabClient(emulator.api_root(version), api_version=version) as client:
        return list(client.list_jobs(allow_partial=True))


def projects(emulator: RunningEmulator) -> dict[str, list[str]]:
    """Active jobs by name -> their projects."""
    found: dict[str, list[str]] = {}
    for job in listing(emulator):
        if job.status.is_active:
            found.setdefault(job.name, []).append(str(job.owner["projectUrn"]))
    return {name: sorted(urns) for name, urns in sorted(found.items())}


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jobs.d").mkdir()
    return tmp_path


def connection(emulator: RunningEmulator, version: str) -> tuple[str, ...]:
    return ("--endpoint", emulator.api_root(version), "--set", "lab", "--project", "local")


# --- jobs in any project ---------------------------------------------------------------------------------------

def test_the_reported_repro_a_project_from_defaults_is_created_once_with_local(root: Path, cli: RunCli) -> None:
    """`_defaults.yaml` names another project, `apply --local --yes` twice: one job, no FAILED, no duplicate."""
    (root / "jobs.d" / "_defaults.yaml").write_text(f"owner: {{projectUrn: '{VISION}'}}\n")
    (root / "jobs.d" / "train.yaml").write_text(job_yaml("train"))
    first = cli("apply", "jobs.d", "--local", "--yes")
    assert first.exit_code == 0, first
    assert "missing from the listing" not in first.stdout
    second = cli("apply", "jobs.d", "--local", "--yes", "--detailed-exitcode")
    assert second.exit_code == 0, second
    assert "No changes: GPULab matches the job files." in second.stdout
    status = cli("status", "jobs.d", "--local", "--format", "json")
    jobs = json.loads(status.stdout)["jobs"]
    assert [(job["name"], job["inSync"]) for job in jobs] == [("train", True)]


@pytest.mark.parametrize("version", VERSIONS)
def test_jobs_of_two_projects_are_planned_applied_and_cancelled_wherever_they_run(
        version: str, root: Path, emulator: RunningEmulator, cli: RunCli) -> None:
    jobs = root / "jobs.d"
    (jobs / "vision").mkdir()
    (jobs / "vision" / "_defaults.yaml").write_text(f"owner: {{projectUrn: '{VISION}'}}\n")
    (jobs / "vision" / "seg.yaml").write_text(job_yaml("seg"))
    (jobs / "own.yaml").write_text(job_yaml("own", project_urn=VISION))
    (jobs / "base.yaml").write_text(job_yaml("base"))  # the project of --project
    applied = cli("apply", "jobs.d", "--yes", *connection(emulator, version))
    assert applied.exit_code == 0, applied
    assert projects(emulator) == {"base": [LOCAL], "own": [VISION], "seg": [VISION]}
    for _ in range(2):  # no duplicate per job per apply
        again = cli("apply", "jobs.d", "--yes", "--detailed-exitcode", *connection(emulator, version))
        assert again.exit_code == 0, again
        assert "No changes: GPULab matches the job files." in again.stdout
    assert len(listing(emulator)) == 3

    (jobs / "vision" / "seg.yaml").unlink()  # found and cancelled in the project it runs in
    removed = cli("apply", "jobs.d", "--yes", *connection(emulator, version))
    assert removed.exit_code == 0, removed
    assert "  - seg (no longer in the job files; cancels QUEUED job" in removed.stdout
    assert projects(emulator) == {"base": [LOCAL], "own": [VISION]}


def test_another_users_and_hand_submitted_jobs_of_another_project_are_other_jobs(
        root: Path, emulator: RunningEmulator, cli: RunCli) -> None:
    """Listing every project of the user must not make a same-named job of another project, never submitted by
    this tool, block the desired one as 'unmanaged'."""
    emulator.seed_jobs([{"name": "train", "request": {"resources": {"cpus": 1, "gpus": 0, "cpuMemoryGb": 1},
                                                      "docker": {"image": "debian:stable"}}}], project_urn=VISION)
    (root / "jobs.d" / "train.yaml").write_text(job_yaml("train"))
    planned = cli("plan", "jobs.d", *connection(emulator, "4.0"))
    assert planned.exit_code == 0, planned
    assert "  + train (new)" in planned.stdout


@pytest.mark.parametrize("fmt", FORMATS)
def test_moving_a_job_to_another_project_is_a_replace_shown_in_every_format(
        fmt: str, root: Path, emulator: RunningEmulator, cli: RunCli) -> None:
    path = root / "jobs.d" / "train.yaml"
    path.write_text(job_yaml("train"))
    assert cli("apply", "jobs.d", "--yes", *connection(emulator, "4.0")).exit_code == 0
    # filling in the project the job already runs in changes nothing
    path.write_text(job_yaml("train", project_urn=LOCAL))
    same = cli("plan", "jobs.d", "--detailed-exitcode", *connection(emulator, "4.0"))
    assert same.exit_code == 0, same

    path.write_text(job_yaml("train", project_urn=VISION))
    planned = cli("plan", "jobs.d", "--detailed-exitcode", "--format", fmt, *connection(emulator, "4.0"))
    assert planned.exit_code == 2, planned
    if fmt == "json":
        [entry] = json.loads(planned.stdout)["entries"]
        assert (entry["action"], entry["reason"]) == ("replace", "changed")
        assert {"path": "owner.projectUrn", "kind": "changed", "old": LOCAL, "new": VISION} in entry["diffs"]
    else:
        assert "-/+" in planned.stdout and "owner.projectUrn" in planned.stdout and "visionlab" in planned.stdout
    moved = cli("apply", "jobs.d", "--yes", *connection(emulator, "4.0"))
    assert moved.exit_code == 0, moved
    assert projects(emulator) == {"train": [VISION]}
    assert cli("plan", "jobs.d", "--detailed-exitcode", *connection(emulator, "4.0")).exit_code == 0


# --- runs, races and truthful summaries ------------------------------------------------------------------------

def race(emulator: RunningEmulator, args: list[str], racers: int = 2) -> list[int]:
    """``racers`` applies started together; every racer lists before any submission commits (slow POSTs)."""
    emulator.faults.set("*", Fault(latency=0.05))
    emulator.faults.set("POST jobs", Fault(latency=1.0))
    codes: list[int] = []
    threads = [threading.Thread(target=lambda: codes.append(run(args))) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    emulator.faults.clear()
    return codes


@pytest.mark.slow
@pytest.mark.parametrize("version", VERSIONS)
def test_a_race_that_ends_with_a_cancelled_duplicate_leaves_a_finished_experiment_done(
        version: str, root: Path, emulator: RunningEmulator, cli: RunCli,
        capsys: pytest.CaptureFixture[str]) -> None:
    names = ["r2-a", "r2-b"]
    for name in names:
        (root / "jobs.d" / f"{name}.yaml").write_text(job_yaml(name))
    codes = race(emulator, ["apply", "jobs.d", "--yes", *connection(emulator, version)])
    capsys.readouterr()
    assert codes == [0, 0]
    jobs = listing(emulator)
    assert Counter(job.name for job in jobs if job.status.is_active) == Counter(names)
    duplicates = [job for job in jobs if job.status is JobStatus.CANCELLED]
    assert duplicates  # they did race: a name's newest job is a duplicate that apply cancelled

    emulator.advance(20 * 60)  # the survivors run their 10 minutes and finish
    assert Counter(job.status for job in listing(emulator)) == {JobStatus.FINISHED: 2,
                                                                 JobStatus.CANCELLED: len(duplicates)}
    for extra in ((), ("--rerun-failed",)):  # a finished experiment is never rerun for the tool's own clean-up
        planned = cli("plan", "jobs.d", "--detailed-exitcode", *extra, *connection(emulator, version))
        assert planned.exit_code == 0, planned
        assert "CANCELLED" not in planned.stdout
        assert "No changes: GPULab matches the job files." in planned.stdout

    status = cli("status", "jobs.d", "--format", "json", *connection(emulator, version))
    rows = json.loads(status.stdout)["jobs"]
    assert [(row["name"], row["status"], row["current"]) for row in rows] == [
        ("r2-a", "FINISHED", True), ("r2-b", "FINISHED", True)]
    history = cli("status", "jobs.d", "--all", *connection(emulator, version))
    assert history.exit_code == 0, history
    assert history.stdout.count("CANCELLED (duplicate)") == len(duplicates)
    assert history.stdout.count(" FINISHED ") == 2
    waited = cli("wait", *names, "--wait-for", "done", "--wait-timeout", "5s", *connection(emulator, version))
    assert waited.exit_code == 0, waited  # wait follows the current run too, not the cancelled duplicate


@pytest.mark.slow
def test_a_failed_run_with_a_newer_cancelled_duplicate_is_reported_failed(root: Path, emulator: RunningEmulator,
                                                                          cli: RunCli,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """The current run is the survivor, however it ended: FAILED, not the duplicate's CANCELLED."""
    (root / "jobs.d" / "flaky.yaml").write_text(job_yaml("flaky", runtime="100 s", exit_code=3))
    assert race(emulator, ["apply", "jobs.d", "--yes", *connection(emulator, "4.0")]) == [0, 0]
    capsys.readouterr()
    assert any(job.status is JobStatus.CANCELLED for job in listing(emulator))  # they did race
    emulator.advance(20 * 60)
    planned = cli("plan", "jobs.d", *connection(emulator, "4.0"))
    assert "  x flaky (FAILED job" in planned.stdout, planned
    rerun = cli("plan", "jobs.d", "--rerun-failed", *connection(emulator, "4.0"))
    assert "  + flaky (--rerun-failed: FAILED job" in rerun.stdout, rerun


def test_status_shows_the_current_run_per_name_and_history_with_all(root: Path, emulator: RunningEmulator,
                                                                    cli: RunCli) -> None:
    sweep = ("name: vit\nx-gpulab-apply:\n  matrix: {lr: [1, 2, 3]}\nrequest:\n"
             "  resources: {cpus: 1, gpus: 1, cpuMemoryGb: 4}\n"
             "  docker: {image: debian:stable, command: 'train ${{ matrix.lr }}', environment: {V: %d}}\n")
    path = root / "jobs.d" / "vit.yaml"
    for version in (1, 2, 3):  # three rounds of changes: 9 jobs for 3 members
        path.write_text(sweep % version)
        assert cli("apply", "jobs.d", "--yes", *connection(emulator, "4.0")).exit_code == 0
    current = cli("status", "jobs.d", *connection(emulator, "4.0"))
    assert "sweep vit: 3 jobs: 3 QUEUED" in current.stdout, current
    assert "CANCELLED" not in current.stdout
    every = cli("status", "jobs.d", "--all", *connection(emulator, "4.0"))
    assert "sweep vit: 9 jobs" in every.stdout, every
    assert every.stdout.count("CANCELLED (history)") == 6
    markdown = cli("status", "jobs.d", "--format", "markdown", *connection(emulator, "4.0"))
    assert "**3 jobs: 3 QUEUED.**" in markdown.stdout, markdown


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_a_protected_job_whose_file_changed_is_kept_drift_exit_2(command: str, root: Path,
                                                                 emulator: RunningEmulator, cli: RunCli) -> None:
    path = root / "jobs.d" / "keep.yaml"
    path.write_text(job_yaml("keep", extension={"protect": True}))
    assert cli("apply", "jobs.d", "--yes", *connection(emulator, "4.0")).exit_code == 0
    path.write_text(job_yaml("keep", gpus=2, extension={"protect": True}))
    args = [command, "jobs.d", "--detailed-exitcode", *connection(emulator, "4.0")]
    if command == "apply":
        args.insert(1, "--yes")
    for fmt in FORMATS if command == "plan" else ["text", "json", "github"]:
        result = cli(*args, "--format", fmt)
        assert result.exit_code == 2, result
        assert "GPULab matches" not in result.stdout
    text = cli(*args)
    assert "  ! keep (protected: would replace" in text.stdout
    assert ("No changes, but GPULab does not match the job files: 1 protected job(s) differ and are kept as they "
            "are") in text.stdout
    assert cli(*[a for a in args if a != "--detailed-exitcode"]).exit_code == 0  # still not an error
    assert len(listing(emulator)) == 1
    if command == "apply":  # with other changes, the apply report says what it kept
        (root / "jobs.d" / "new.yaml").write_text(job_yaml("new"))
        both = cli(*args)
        assert both.exit_code == 2, both
        assert "Apply complete: 1 created" in both.stdout
        assert "Kept: 1 protected job(s) differ from the job files (`!` above)." in both.stdout


# --- a saved plan is applied where it was made ------------------------------------------------------------------

def test_a_plan_made_with_local_is_applied_to_the_local_emulator(root: Path, emulator: RunningEmulator,
                                                                 cli: RunCli) -> None:
    (root / "jobs.d" / "a.yaml").write_text(job_yaml("a"))
    made = cli("plan", "jobs.d", "--local", "--out", "plan.json")
    assert made.exit_code == 0, made
    # neither the default GPULab nor an endpoint from the environment: the plan's own
    applied = cli("apply", "plan.json", env={"GPULAB_ENDPOINT": emulator.api_root("4.0")})
    assert applied.exit_code == 0, applied
    assert "  + a: created job" in applied.stdout
    assert listing(emulator) == []
    assert "No changes" in cli("plan", "jobs.d", "--local").stdout


@pytest.mark.parametrize(("flags", "message"), [
    (("--local",), "--local asks for local but the plan was made for http://127.0.0.1"),
    (("--endpoint", "OTHER"), "--endpoint asks for http://127.0.0.1"),
    (("--set", "other"), "--set other but the plan was made for set lab"),
    (("--project", "visionlab"), "--project visionlab but the plan was made for project " + LOCAL),
])
def test_a_flag_that_contradicts_the_plan_file_is_refused(flags: tuple[str, ...], message: str, root: Path,
                                                          emulator: RunningEmulator, cli: RunCli) -> None:
    (root / "jobs.d" / "a.yaml").write_text(job_yaml("a"))
    assert cli("plan", "jobs.d", "--out", "plan.json", *connection(emulator, "4.0")).exit_code == 0
    flags = tuple(emulator.api_root("3.1") if flag == "OTHER" else flag for flag in flags)
    refused = cli("apply", "plan.json", *flags)
    assert refused.exit_code == 64, refused
    assert "the plan file decides where it is applied: " in refused.stderr and message in refused.stderr
    assert listing(emulator) == []
    same = cli("apply", "plan.json", "--project", "local", "--set", "lab", "--endpoint", emulator.api_root("4.0"))
    assert same.exit_code == 0, same  # agreeing flags are fine


def test_an_api_version_that_contradicts_a_local_plan_file_is_refused(root: Path, cli: RunCli) -> None:
    (root / "jobs.d" / "a.yaml").write_text(job_yaml("a"))
    assert cli("plan", "jobs.d", "--local", "--out", "plan.json").exit_code == 0
    refused = cli("apply", "plan.json", "--local", "--api-version", "3.1")
    assert refused.exit_code == 64, refused
    assert "--api-version 3.1 but the plan was made with API v4.0" in refused.stderr
    assert cli("apply", "plan.json", "--local", "--api-version", "4.0").exit_code == 0


def test_a_plan_file_keeps_no_credentials_of_the_endpoint(root: Path, emulator: RunningEmulator,
                                                          cli: RunCli) -> None:
    """An endpoint with a user name or password is refused before anything is written (docs/client.md): no plan
    file can hold one, and the refusal does not repeat it."""
    (root / "jobs.d" / "a.yaml").write_text(job_yaml("a"))
    endpoint = emulator.api_root("4.0").replace("http://", "http://robot:s3cr3t-pw@")
    made = cli("plan", "jobs.d", "--out", "plan.json", "--endpoint", endpoint, "--project", "local", "--set", "lab")
    assert made.exit_code == 64, made
    assert "s3cr3t-pw" not in made.stdout + made.stderr
    assert not (root / "plan.json").exists()
    assert listing(emulator) == []
