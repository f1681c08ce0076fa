"""plan, apply and status end to end: the real CLI against the emulator over HTTP on loopback."""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from gpulab_apply.cli import run
from gpulab_apply.emulator import Fault, RunningEmulator
from gpulab_apply.model import RemoteJob
from gpulab_apply.reconcile.marker import Marker, parse_marker, spec_hash, with_marker
from tests.conftest import RunCli
from tests.fixtures.jobs import PROJECT_URN, make_job
from tests.fixtures.terminal import Terminal
from tests.harness import TO_FINISHED, TO_RUNNING, Repo, submissions_held


def names(jobs: Sequence[RemoteJob]) -> list[str]:
    return sorted(job.name for job in jobs)


def test_fresh_apply_creates_all_and_a_second_apply_is_a_no_op(repo: Repo) -> None:
    for name in ("a", "b", "c"):
        repo.write(name)
    planned = repo("plan", "jobs.d", "--detailed-exitcode")
    assert planned.exit_code == 2, planned
    assert planned.stdout == (
        "Set: lab\n\n"
        "  + a (new)  jobs.d/a.yaml:1:1\n"
        "  + b (new)  jobs.d/b.yaml:1:1\n"
        "  + c (new)  jobs.d/c.yaml:1:1\n\n"
        "Unchanged: 0 in sync or done.\n"
        "Plan: 3 to create, 0 to replace, 0 to cancel.\n"
        "Cost: 1008 GPU-hours requested (3 job(s) at GPULab's default maxDuration, 2 weeks), 0 GPU-hours of running "
        "work lost.\n")
    assert repo.remote() == []  # plan is read-only

    applied = repo("apply", "jobs.d", "--yes", "--detailed-exitcode")
    assert applied.exit_code == 2, applied
    run_id = re.search(r"Apply run (\S+) \(set lab\):", applied.stdout)
    assert run_id is not None
    assert applied.stdout.endswith("Apply complete: 3 created, 0 replaced, 0 cancelled.\n")
    jobs = repo.remote()
    assert names(jobs) == ["a", "b", "c"]
    for job in jobs:
        marker = parse_marker(job.description)
        assert marker is not None and (marker.set_name, marker.run_id) == ("lab", run_id[1])
        assert f"  + {job.name}: created job {job.uuid[:8]}\n" in applied.stdout
        assert job.owner["projectUrn"] == PROJECT_URN

    again = repo("apply", "jobs.d", "--yes", "--detailed-exitcode")
    assert again.exit_code == 0, again
    assert "No changes: GPULab matches the job files.\nUnchanged: 3 in sync or done.\n" in again.stdout
    assert "Apply run" not in again.stdout
    assert len(repo.remote()) == 3


def test_removing_a_file_cancels_exactly_that_job(repo: Repo) -> None:
    for name in ("a", "b", "c"):
        repo.write(name)
    assert repo("apply", "jobs.d", "--yes").exit_code == 0
    (repo.jobs / "b.yaml").unlink()
    result = repo("apply", "jobs.d", "--yes")
    assert result.exit_code == 0, result
    gone = next(job for job in repo.remote() if job.name == "b")
    assert f"  - b (no longer in the job files; cancels QUEUED job {gone.uuid[:8]})\n" in result.stdout
    assert result.stdout.endswith("Apply complete: 0 created, 0 replaced, 1 cancelled.\n")
    assert names(repo.active()) == ["a", "c"]
    assert gone.status.name == "CANCELLED"


def test_editing_a_running_job_replaces_it_and_says_work_is_lost(repo: Repo) -> None:
    repo.write("a", gpus=1)
    assert repo("apply", "jobs.d", "--yes").exit_code == 0
    repo.emulator.advance(TO_RUNNING)
    [old] = repo.active()
    assert old.status.name == "RUNNING"
    repo.write("a", gpus=2)
    planned = repo("plan", "jobs.d")
    assert planned.stdout.endswith(
        f"-/+ a (changed; cancels RUNNING job {old.uuid[:8]}, its work is lost)  jobs.d/a.yaml:1:1\n"
        "      ~ request.resources.gpus: 1 => 2\n\n"
        "Unchanged: 0 in sync or done.\n"
        "Plan: 0 to create, 1 to replace (1 running), 0 to cancel.\n"
        "Cost: 672 GPU-hours requested (1 job(s) at GPULab's default maxDuration, 2 weeks), 0 GPU-hours of running "
        "work lost.\n"), planned
    result = repo("apply", "jobs.d", "--yes")
    assert result.exit_code == 0, result
    [new] = repo.active()
    assert new.uuid != old.uuid and new.request["resources"]["gpus"] == 2
    assert f"-/+ a: replaced: cancelled {old.uuid[:8]}, created job {new.uuid[:8]}\n" in result.stdout
    assert next(j for j in repo.remote() if j.uuid == old.uuid).status.name == "CANCELLED"


def test_editing_only_the_description_changes_nothing(repo: Repo) -> None:
    repo.write("a", description="first try")
    assert repo("apply", "jobs.d", "--yes").exit_code == 0
    repo.write("a", description="much better prose")
    assert repo("plan", "jobs.d", "--detailed-exitcode").exit_code == 0


def test_a_finished_job_is_not_rerun_but_a_new_rerun_token_runs_it_again(repo: Repo) -> None:
    repo.write("a")
    assert repo("apply", "jobs.d", "--yes").exit_code == 0
    repo.emulator.advance(TO_FINISHED)
    assert [job.status.name for job in repo.remote()] == ["FINISHED"]
    result = repo("apply", "jobs.d", "--yes", "--detailed-exitcode")
    assert result.exit_code == 0 and "Unchanged: 1 in sync or done.\n" in result.stdout, result
    repo.write("a", extension={"rerun": 2})
    result = repo("apply", "jobs.d", "--yes", "--detailed-exitcode")
    assert result.exit_code == 2, result
    assert [job.status.name for job in repo.remote()] == ["QUEUED", "FINISHED"]


def test_a_failed_job_is_reported_and_rerun_only_with_rerun_failed(repo: Repo) -> None:
    repo.write("a", exit_code=3)
    assert repo("apply", "jobs.d", "--yes").exit_code == 0
    repo.emulator.advance(TO_FINISHED)
    [failed] = repo.remote()
    assert failed.status.name == "FAILED"
    planned = repo("plan", "jobs.d", "--detailed-exitcode")
    assert planned.exit_code == 0
    assert f"  x a (FAILED job {failed.uuid[:8]}; --rerun-failed runs it again)  jobs.d/a.yaml:1:1\n" in planned.stdout
    result = repo("apply", "jobs.d", "--yes", "--rerun-failed")
    assert result.exit_code == 0 and "  + a: created job" in result.stdout, result
    assert len(repo.active()) == 1


def test_a_hand_submitted_job_with_a_desired_name_is_reported_and_left_alone(repo: Repo) -> None:
    by_hand = repo.emulator.seed_job({"name": "a", "description": "mine",
                                      "request": {"resources": {"cpus": 1, "gpus": 4, "cpuMemoryGb": 4},
                                                  "docker": {"image": "debian:stable"}}})
    repo.write("a")
    result = repo("apply", "jobs.d", "--yes", "--detailed-exitcode")
    assert result.exit_code == 0, result
    assert (f"  ? a (unmanaged (not submitted by gpulab-apply): QUEUED job {by_hand[:8]} is left alone)"
            "  jobs.d/a.yaml:1:1\n") in result.stdout
    assert "      ~ request.resources.gpus: 4 => 1\n" in result.stdout
    assert [job.uuid for job in repo.remote()] == [by_hand]
    (repo.jobs / "a.yaml").unlink()
    repo.write("other")
    assert repo("apply", "jobs.d", "--yes").exit_code == 0
    assert [job.uuid for job in repo.active() if job.name == "a"] == [by_hand]


def test_jobs_of_another_set_are_left_alone(repo: Repo, tmp_path: Path, cli: RunCli) -> None:
    (tmp_path / "other").mkdir()
    other = Repo(tmp_path / "other", repo.emulator, cli, set_name="theirs")
    other.write("shared")
    other.write("theirs-only")
    assert other("apply", str(other.jobs), "--yes").exit_code == 0
    repo.write("mine")
    result = repo("apply", "jobs.d", "--yes")
    assert result.exit_code == 0, result
    assert "theirs-only" not in result.stdout
    assert names(repo.active()) == ["mine", "shared", "theirs-only"]
    repo.write("shared")
    result = repo("plan", "jobs.d")
    assert "  ? shared (unmanaged (managed by set theirs): QUEUED job" in result.stdout


def test_an_empty_job_directory_is_refused_while_managed_jobs_run(repo: Repo) -> None:
    repo.write("a")
    assert repo("apply", "jobs.d", "--yes").exit_code == 0
    (repo.jobs / "a.yaml").unlink()
    result = repo("apply", "jobs.d", "--yes")
    assert result.exit_code == 3, result
    assert result.stderr == ("Error: the desired set is empty but set 'lab' has 1 active job(s); applying would "
                             "cancel them all\nHint: check the job directory (a moved folder, a bad --target?); "
                             "pass --allow-empty if this is meant\n")
    assert len(repo.active()) == 1
    result = repo("apply", "jobs.d", "--yes", "--allow-empty")
    assert result.exit_code == 0 and repo.active() == [], result


def test_more_cancellations_than_max_cancel_are_refused(repo: Repo) -> None:
    for name in ("a", "b", "c"):
        repo.write(name)
    assert repo("apply", "jobs.d", "--yes").exit_code == 0
    for name in ("a", "b"):
        (repo.jobs / f"{name}.yaml").unlink()
    result = repo("apply", "jobs.d", "--yes", "--max-cancel", "1")
    assert result.exit_code == 3
    assert "Error: the plan cancels 2 jobs, more than --max-cancel 1\n" in result.stderr
    assert len(repo.active()) == 3


def test_protected_jobs_are_blocked_until_cancel_protected_names_them(repo: Repo) -> None:
    repo.write("keep", extension={"protect": True})
    assert repo("apply", "jobs.d", "--yes").exit_code == 0
    (repo.jobs / "keep.yaml").unlink()
    repo.write("other")
    result = repo("apply", "jobs.d", "--yes", "--detailed-exitcode")
    assert result.exit_code == 2, result  # "other" was created; keep is blocked, not an error
    assert "  ! keep (protected: would cancel; `apply --cancel-protected keep` allows it)\n" in result.stdout
    assert names(repo.active()) == ["keep", "other"]
    result = repo("apply", "jobs.d", "--yes", "--cancel-protected", "keep")
    assert result.exit_code == 0 and names(repo.active()) == ["other"], result


def test_saved_plan_applies_when_fresh_and_is_refused_when_stale(repo: Repo) -> None:
    repo.write("a")
    planned = repo("plan", "jobs.d", "--out", "plan.json")
    assert planned.exit_code == 0, planned
    assert "Saved the plan to plan.json. Apply exactly this plan with: gpulab-apply apply plan.json" in planned.stderr
    saved = json.loads(Path("plan.json").read_text())
    assert saved["kind"] == "gpulab-apply-plan" and saved["format_version"] == 2
    assert [a["name"] for a in saved["actions"]] == ["a"]
    # GPULab changes after an empty listing: someone else's apply of the same set got there first
    repo.emulator.seed_job({"name": "a", "description": f"[gpulab-apply v2 set=lab spec={saved['actions'][0]['spec']} "
                            "run=other]", "request": {"resources": {"cpus": 1, "gpus": 1, "cpuMemoryGb": 4},
                                                      "docker": {"image": "debian:stable"}}})
    stale = repo("apply", "plan.json")
    assert stale.exit_code == 1, stale
    assert stale.stderr.startswith("Error: the plan made 20")
    assert f"no longer holds: the decision changed for 1 job(s): a (create spec {saved['actions'][0]['spec']} -> " \
           "nothing)" in stale.stderr
    assert "Hint: run `gpulab-apply plan --out FILE` again, review it, and apply the new file\n" in stale.stderr
    assert len(repo.remote()) == 1

    repo.write("b")
    assert repo("plan", "jobs.d", "--out", "plan.json").exit_code == 0
    result = repo("apply", "plan.json")  # a plan file needs no --yes
    assert result.exit_code == 0, result
    assert names(repo.remote()) == ["a", "b"]
    assert repo("apply", "plan.json").exit_code == 1  # applying it twice: stale


def test_a_saved_plan_survives_running_experiments(repo: Repo) -> None:
    """A job moving RUNNING -> FINISHED between plan and apply does not make the plan stale."""
    repo.write("long", runtime="1 hour")
    assert repo("apply", "jobs.d", "--yes").exit_code == 0
    repo.emulator.advance(TO_RUNNING)
    assert [job.status.name for job in repo.remote()] == ["RUNNING"]
    repo.write("next")
    assert repo("plan", "jobs.d", "--out", "plan.json").exit_code == 0
    repo.emulator.advance(2 * 3600)
    assert [job.status.name for job in repo.remote()] == ["FINISHED"]
    result = repo("apply", "plan.json")
    assert result.exit_code == 0, result
    assert names(repo.active()) == ["next"]


def test_a_plan_file_is_refused_when_the_job_files_changed(repo: Repo) -> None:
    repo.write("a")
    assert repo("plan", "jobs.d", "--out", "plan.json").exit_code == 0
    repo.write("a", gpus=3)
    result = repo("apply", "plan.json")
    assert result.exit_code == 1
    assert re.search(r"the decision changed for 1 job\(s\): a \(create spec \w{16} -> create spec \w{16}\)",
                     result.stderr), result
    assert repo.remote() == []


def test_a_plan_the_guards_refuse_says_so_and_target_with_cancel_protected_suffices(repo: Repo) -> None:
    repo.write("keep", extension={"protect": True})
    repo.write("other")
    assert repo("apply", "jobs.d", "--yes").exit_code == 0
    (repo.jobs / "keep.yaml").unlink()
    (repo.jobs / "other.yaml").unlink()
    planned = repo("plan", "jobs.d")
    assert "Apply will refuse: the desired set is empty but set 'lab' has 2 active job(s)" in planned.stdout
    assert repo("apply", "jobs.d", "--yes").exit_code == 3
    one = repo("apply", "jobs.d", "--yes", "--target", "keep", "--cancel-protected", "keep")
    assert one.exit_code == 0, one
    assert names(repo.active()) == ["other"]


def test_apply_without_a_terminal_needs_yes(repo: Repo) -> None:
    repo.write("a")
    result = repo("apply", "jobs.d")
    assert result.exit_code == 64
    assert "not on a terminal: pass --yes" in result.stderr
    assert repo.remote() == []


def test_invalid_files_stop_before_any_network(tmp_path: Path, cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jobs.d").mkdir()
    (tmp_path / "jobs.d" / "bad.yaml").write_text("name: x\nrequest:\n  resources: {cpus: 1}\n")
    # nothing listens on port 9: a network call would fail with a connection error instead
    for command in (["plan"], ["apply", "--yes"], ["status"]):
        result = cli(*command, "jobs.d", "--endpoint", "http://127.0.0.1:9/api/gpulab/v3.1/", "--set", "lab")
        assert result.exit_code == 1, result
        assert result.stdout.startswith("jobs.d/bad.yaml:2:1: error: request: 'docker' is a required property\n")
        assert result.stdout.endswith("Found 3 errors in 1 of 1 file.\n")
        assert result.stderr == ("Error: the job files have 3 problem(s); nothing was submitted or cancelled\n"
                                 "Hint: fix them and run the command again\n")
    github = cli("plan", "jobs.d", "--format", "github", "--endpoint", "http://127.0.0.1:9/api/gpulab/v3.1/")
    assert github.exit_code == 1 and github.stdout.startswith("::error file=jobs.d/bad.yaml,line=2,col=1,")


def test_commit_then_drop_on_post_creates_no_duplicate(repo: Repo) -> None:
    for name in ("a", "b", "c"):
        repo.write(name)
    repo.emulator.faults.set("POST jobs", Fault(drop_after_commit=1.0))
    result = repo("apply", "jobs.d", "--yes")
    assert result.exit_code == 0, result
    assert result.stdout.count("(found by its marker after an ambiguous submit)") == 3
    assert names(repo.remote()) == ["a", "b", "c"]


def test_two_applies_started_at_once_leave_one_job_per_name(repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    wanted = [f"job-{i}" for i in range(6)]
    for name in wanted:
        repo.write(name)
    codes: list[int] = []
    args = ["apply", "jobs.d", "--yes", *repo.connection]
    threads = [threading.Thread(target=lambda: codes.append(run(args))) for _ in range(2)]
    with submissions_held(repo.emulator, runs=2):  # both applies list before either's first job exists
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert codes == [0, 0], capsys.readouterr()
    assert names(repo.active()) == wanted
    assert len(repo.remote()) > len(wanted)  # they did race: the duplicates exist, cancelled
    assert repo("plan", "jobs.d", "--detailed-exitcode").exit_code == 0


def test_apply_with_injected_5xx_converges_within_two_runs(repo: Repo, quick_retries: None) -> None:
    wanted = [f"job-{i:02d}" for i in range(20)]
    for name in wanted:
        repo.write(name)
    repo.emulator.faults.set("*", Fault(error_rate=0.2))
    first = repo("apply", "jobs.d", "--yes")
    if first.exit_code != 0:
        assert first.exit_code == 1 and "Hint: fix the cause and run apply again" in first.stderr, first
        second = repo("apply", "jobs.d", "--yes")
        assert second.exit_code == 0, second
    repo.emulator.faults.clear()
    counts = Counter(job.name for job in repo.active())
    assert sorted(counts) == wanted and set(counts.values()) == {1}
    assert repo("plan", "jobs.d", "--detailed-exitcode").exit_code == 0


def test_status_lists_managed_jobs_with_their_files(repo: Repo) -> None:
    repo.write("a", gpus=2)
    repo.write("b")
    assert repo("apply", "jobs.d", "--yes").exit_code == 0
    (repo.jobs / "b.yaml").unlink()
    repo.write("c")
    result = repo("status", "jobs.d", "--format", "json")
    assert result.exit_code == 0, result
    document = json.loads(result.stdout)
    assert (document["version"], document["kind"], document["set"]) == (2, "status", "lab")
    rows = {row["name"]: row for row in document["jobs"]}
    assert sorted(rows) == ["a", "b", "c"]
    assert (rows["a"]["status"], rows["a"]["gpus"], rows["a"]["location"], rows["a"]["inSync"]) == (
        "QUEUED", 2, {"file": "jobs.d/a.yaml", "line": 1, "column": 1}, True)
    assert rows["b"]["location"] is None and rows["b"]["status"] == "QUEUED"
    assert rows["c"]["uuid"] is None and rows["c"]["status"] is None
    text = repo("status", "jobs.d").stdout.splitlines()
    assert text[0] == "Set: lab"
    assert re.fullmatch(r"NAME +STATUS +AGE +GPUS +JOB +FILE", text[1])
    assert re.fullmatch(r"b +QUEUED +(just now|1 \w+ ago|\d+ \w+s ago) +1 +[0-9a-f-]{36} +\(not in the job files\)",
                        text[3])
    assert re.fullmatch(r"c +\(not submitted\) +- +1 +- +jobs\.d/c\.yaml:1:1", text[4])


def test_plan_formats_mask_secrets(repo: Repo) -> None:
    repo.write("a", environment={"HF_TOKEN": "hunter2"})
    assert repo("apply", "jobs.d", "--yes").exit_code == 0
    repo.write("a", environment={"HF_TOKEN": "swordfish"})
    for fmt in ("text", "json", "markdown", "github"):
        result = repo("plan", "jobs.d", "--format", fmt)
        assert result.exit_code == 0, result
        assert "hunter2" not in result.stdout and "swordfish" not in result.stdout
        assert "request.docker.environment.HF_TOKEN" in result.stdout
    assert "      ~ request.docker.environment.HF_TOKEN: \"***\" => \"***\"\n" in repo("plan", "jobs.d").stdout


def test_v4_api_with_paging(tmp_path: Path, emulator: RunningEmulator, cli: RunCli,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    v4 = Repo(tmp_path, emulator, cli, version="4.0")
    emulator.seed_jobs([{"name": f"noise-{i}", "request": {"resources": {"cpus": 1, "gpus": 0, "cpuMemoryGb": 1},
                                                           "docker": {"image": "debian:stable"}}}
                        for i in range(250)], status="FINISHED")
    v4.write("a")
    result = v4("apply", "jobs.d", "--yes", "--detailed-exitcode")
    assert result.exit_code == 2, result
    assert v4("plan", "jobs.d", "--detailed-exitcode").exit_code == 0


def test_a_partial_failure_reports_each_outcome_and_exits_1(repo: Repo) -> None:
    for name in ("a", "b"):
        repo.write(name)
    assert repo("apply", "jobs.d", "--yes").exit_code == 0
    (repo.jobs / "b.yaml").unlink()
    repo.write("c")
    repo.emulator.faults.set("PUT jobs/{uuid}/state/status", Fault(error_rate=1.0))
    Path("gpulab-apply.yaml").write_text("retries: 0\n")  # fail now, not after the client's backoff
    result = repo("apply", "jobs.d", "--yes")
    assert result.exit_code == 1, result
    b = next(job for job in repo.remote() if job.name == "b")
    assert re.search(rf"\n  x b: FAILED: cancelling {b.uuid}: .*\n", result.stdout), result
    assert re.search(r"\n  \+ c: created job [0-9a-f]{8}\n", result.stdout)
    assert result.stdout.endswith("Apply failed: 1 created, 0 replaced, 0 cancelled, 1 failed.\n")
    assert result.stderr == ("Error: 1 job action(s) failed; the report above says what succeeded\n"
                             "Hint: fix the cause and run apply again: it only does what is still missing\n")
    repo.emulator.faults.clear()
    again = repo("apply", "jobs.d", "--yes")
    assert again.exit_code == 0 and again.stdout.endswith("Apply complete: 0 created, 0 replaced, 1 cancelled.\n")
    assert names(repo.active()) == ["a", "c"]


def test_apply_json_holds_the_plan_and_the_outcomes(repo: Repo) -> None:
    repo.write("a")
    result = repo("apply", "jobs.d", "--yes", "--format", "json")
    assert result.exit_code == 0, result
    document = json.loads(result.stdout)
    assert (document["version"], document["kind"]) == (2, "apply")
    assert document["plan"]["summary"]["create"] == 1
    [outcome] = document["outcomes"]
    assert (outcome["name"], outcome["result"], outcome["error"]) == ("a", "created", None)
    assert outcome["location"] == {"file": "jobs.d/a.yaml", "line": 1, "column": 1}
    assert outcome["created"] == repo.remote()[0].uuid
    assert document["ok"] is True and document["runId"]


def test_a_plan_file_remembers_its_set(repo: Repo, cli: RunCli) -> None:
    repo.write("a")
    assert repo("plan", "jobs.d", "--out", "plan.json").exit_code == 0
    without_set = [arg for arg in repo.connection if arg not in ("--set", "lab")]
    result = cli("apply", "plan.json", *without_set)
    assert result.exit_code == 0, result
    assert "Apply run " in result.stdout and "(set lab):" in result.stdout


@pytest.mark.slow
def test_on_a_terminal_apply_asks_first_and_shows_progress(repo: Repo) -> None:
    repo.write("a")
    with Terminal("apply", "jobs.d", *repo.connection) as terminal:
        terminal.read_until(lambda seen: b"Apply these changes? [y/N]: " in seen)
        assert repo.remote() == []  # nothing happens before the answer
        terminal.type(b"y\n")
        terminal.read_to_end()
    text = terminal.text
    assert terminal.returncode == 0, text
    assert "\x1b[32m  + a\x1b[0m (new)" in text  # colour on a terminal
    assert "Applying" in text and "1/1" in text  # the progress bar
    assert "Apply complete: 1 created, 0 replaced, 0 cancelled." in text
    assert names(repo.remote()) == ["a"]


def test_verification_never_cancels_a_protected_duplicate(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    repo.write("keep", extension={"protect": True})
    repo.write("other")
    # a concurrent apply's copy lands between our plan and our verification
    racer = make_job("keep", project_urn=PROJECT_URN)  # the job file's body, as apply submits it
    marker = Marker(set_name="lab", spec=spec_hash(racer), run_id="racer", protect=True)

    submit = repo.emulator.emulator.submit

    def then_the_racer(body: object, **options: Any) -> str:
        # the racer's copy of "keep" lands as soon as our submission of "other" is stored, before apply hears
        # back: the verification listing is sure to see it
        uuid = submit(body, **options)
        if isinstance(body, dict) and body["name"] == "other":
            repo.emulator.seed_job(with_marker(racer, marker), created=repo.emulator.clock.now() + 60)
        return uuid

    with monkeypatch.context() as patched:
        patched.setattr(repo.emulator.emulator, "submit", then_the_racer)
        result = repo("apply", "jobs.d", "--yes")
    assert result.exit_code == 1, result
    [copy] = [job.uuid for job in repo.remote() if parse_marker(job.description) == marker]
    assert (f"  x keep: FAILED: duplicate {copy} is protected; cancel it by hand or apply with "
            "--cancel-protected keep\n") in result.stdout
    # known from now on: the plan shows it blocked, apply leaves it and succeeds; the kept duplicate is drift (2)
    again = repo("apply", "jobs.d", "--yes", "--detailed-exitcode")
    assert again.exit_code == 2, again
    assert "  ! keep (protected: would cancel; `apply --cancel-protected keep` allows it)" in again.stdout
    assert names(repo.active()) == ["keep", "keep", "other"]
    result = repo("apply", "jobs.d", "--yes", "--cancel-protected", "keep")
    assert result.exit_code == 0, result
    assert [job.uuid for job in repo.active() if job.name == "keep"] != [copy]
    assert len([job for job in repo.active() if job.name == "keep"]) == 1


def test_plan_and_apply_show_the_warnings_validate_gives_in_every_format(repo: Repo, cli: RunCli) -> None:
    """A form GPULab accepts but that is not canonical is a warning: plan and apply go on, and say so where
    a reviewer reads them (docs/plan-apply.md#output-formats); --strict makes it an error before any network."""
    repo.write("lax", cpus="1")
    repo.write("ok")
    warning = "jobs.d/lax.yaml:3:21: warning: request.resources.cpus: '1' is read by GPULab as 1 (write 1)\n"
    assert cli("validate", "jobs.d").stdout.startswith(warning)  # the same line validate prints
    text = repo("plan", "jobs.d")
    assert text.exit_code == 0, text
    assert f".yaml:1:1\n\n{warning}Unchanged: 0 in sync or done.\n" in text.stdout
    document = json.loads(repo("plan", "jobs.d", "--format", "json").stdout)
    assert document["ok"] is True and document["summary"]["create"] == 2
    assert document["problems"] == [{
        "location": {"file": "jobs.d/lax.yaml", "line": 3, "column": 21}, "severity": "warning",
        "jsonPath": "request.resources.cpus", "message": "'1' is read by GPULab as 1", "hint": "write 1"}]
    github = repo("plan", "jobs.d", "--format", "github").stdout
    assert ("::warning file=jobs.d/lax.yaml,line=3,col=21,title=gpulab-apply plan::request.resources.cpus: "
            "'1' is read by GPULab as 1 (write 1)\n") in github
    markdown = repo("plan", "jobs.d", "--format", "markdown").stdout
    assert "> **Warning:** jobs.d/lax.yaml:3:21: request.resources.cpus: '1' is read by GPULab as 1 (write 1)\n" \
        in markdown
    applied = repo("apply", "jobs.d", "--yes", "--format", "json")
    assert applied.exit_code == 0, applied
    assert json.loads(applied.stdout)["problems"] == document["problems"]
    assert names(repo.active()) == ["lax", "ok"]
    assert warning in repo("plan", "jobs.d").stdout  # in sync, and still said
    strict = repo("plan", "jobs.d", "--strict")
    assert strict.exit_code == 1, strict
    assert strict.stdout.startswith(warning.replace("warning:", "error:"))


def test_a_job_whose_not_after_has_passed_is_warned_about_and_gpulab_fails_it(repo: Repo) -> None:
    repo.write("late", notAfter="2026-01-01T00:00:00Z")
    planned = repo("plan", "jobs.d")
    assert planned.exit_code == 0, planned
    assert ("Warning: scheduling.notAfter has passed on GPULab's clock for late: GPULab fails a job still queued "
            "at its notAfter") in planned.stdout
    assert repo("apply", "jobs.d", "--yes").exit_code == 0
    repo.emulator.advance(5)  # the scheduler's next pass
    [late] = repo.remote()
    assert late.status.name == "FAILED"  # what the warning said: the run is spent at once
