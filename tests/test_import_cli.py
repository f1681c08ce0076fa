"""`gpulab-apply import` and adoption end to end: a job started by hand becomes managed without being
cancelled and resubmitted. Real CLI, emulator over HTTP on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from gpulab_apply.emulator import RunningEmulator
from gpulab_apply.gpulab.client import GpulabClient
from tests.conftest import RunCli
from tests.test_cli_plan_apply import PROJECT_URN, TO_RUNNING, Repo

HAND_JOB = {
    "name": "hand-train",
    "description": "started by hand last week",
    "owner": {"projectUrn": PROJECT_URN},
    "request": {
        "resources": {"cpus": 2, "gpus": 1, "cpuMemoryGb": 8},
        "docker": {"image": "pytorch/pytorch:2.4.0", "command": "python train.py --lr 0.1",
                   "environment": {"SEED": 3}, "storage": [{"hostPath": "/project_ghent", "containerPath": "/project"}]},
        "scheduling": {"maxDuration": "2 days"},
    },
}


@pytest.fixture
def repo(tmp_path: Path, emulator: RunningEmulator, cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> Repo:
    monkeypatch.chdir(tmp_path)
    return Repo(tmp_path, emulator, cli, version="4.0")


def submit_by_hand(repo: Repo, body: dict[str, object]) -> str:
    with GpulabClient(repo.emulator.api_root("4.0"), api_version="4.0") as client:
        return client.submit(body)


def test_import_then_plan_shows_the_running_job_in_sync_and_apply_leaves_it_alone(repo: Repo) -> None:
    uuid = submit_by_hand(repo, HAND_JOB)
    repo.emulator.advance(TO_RUNNING)
    (repo.jobs / "keep.txt").write_text("jobs.d exists\n")
    assert "hand-train" not in repo("plan", "jobs.d").stdout  # not desired, not ours: never touched

    imported = repo("import", "hand-*")
    assert imported.exit_code == 0, imported
    path = repo.jobs / "imported" / "hand-train.yaml"
    assert f"  hand-train: job {uuid[:8]} (RUNNING) -> jobs.d/imported/hand-train.yaml\n" in imported.stdout
    written = YAML(typ="safe").load(path.read_text())
    assert written["x-gpulab-apply"]["adopt"]["uuid"] == uuid
    assert written["name"] == "hand-train" and written["description"] == "started by hand last week"
    assert written["request"]["docker"]["storage"] == [{"hostPath": "/project_ghent/", "containerPath": "/project/"}]
    assert "owner" not in written  # the configured project (--project local)

    planned = repo("plan", "jobs.d", "--detailed-exitcode")
    assert planned.exit_code == 0, planned
    assert "No changes: GPULab matches the job files.\nUnchanged: 1 in sync or done.\n" in planned.stdout
    applied = repo("apply", "jobs.d", "--yes", "--detailed-exitcode")
    assert applied.exit_code == 0, applied
    [job] = repo.active()
    assert (job.uuid, job.status.name) == (uuid, "RUNNING")  # never cancelled, never resubmitted
    status = repo("status", "jobs.d")
    assert status.exit_code == 0, status
    [row] = [line for line in status.stdout.splitlines() if line.startswith("hand-train")]
    assert "RUNNING" in row and uuid[:8] in row


def test_changing_an_adopted_job_file_replaces_the_job(repo: Repo) -> None:
    uuid = submit_by_hand(repo, HAND_JOB)
    assert repo("import", uuid).exit_code == 0
    path = repo.jobs / "imported" / "hand-train.yaml"
    path.write_text(path.read_text().replace("gpus: 1", "gpus: 2"))
    planned = repo("plan", "jobs.d")
    assert f"-/+ hand-train (changed; cancels QUEUED job {uuid[:8]})" in planned.stdout
    assert repo("apply", "jobs.d", "--yes").exit_code == 0
    [job] = repo.active()
    assert job.uuid != uuid and job.request["resources"]["gpus"] == 2


def test_adoption_only_takes_an_unmarked_job_of_this_name(repo: Repo) -> None:
    uuid = submit_by_hand(repo, HAND_JOB)
    assert repo("import", uuid[:8]).exit_code == 0
    path = repo.jobs / "imported" / "hand-train.yaml"
    path.write_text(path.read_text().replace("name: hand-train", "name: other-name"))
    planned = repo("plan", "jobs.d")
    assert "  + other-name (new)" in planned.stdout  # the UUID belongs to a job of another name: no adoption


def test_import_refuses_to_overwrite_and_says_when_nothing_matches(repo: Repo) -> None:
    submit_by_hand(repo, HAND_JOB)
    assert repo("import", "hand-train").exit_code == 0
    again = repo("import", "hand-train")
    assert again.exit_code != 0
    assert "jobs.d/imported/hand-train.yaml exists" in again.stderr
    assert repo("import", "hand-train", "--force").exit_code == 0
    nothing = repo("import", "nope-*")
    assert nothing.exit_code == 1
    assert "no active job matches 'nope-*'" in nothing.stderr


def test_without_adopt_the_imported_job_would_be_submitted_again(repo: Repo) -> None:
    submit_by_hand(repo, HAND_JOB)
    assert repo("import", "hand-train", "--no-adopt").exit_code == 0
    assert "x-gpulab-apply" not in (repo.jobs / "imported" / "hand-train.yaml").read_text()
    assert "? hand-train (unmanaged" in repo("plan", "jobs.d").stdout


def test_a_malformed_adopt_block_is_a_located_error(repo: Repo) -> None:
    repo.write("a", "name: a\nrequest:\n  resources: {cpus: 1, gpus: 0, cpuMemoryGb: 2}\n  docker: {image: x}\n"
                    "x-gpulab-apply:\n  adopt: 1234\n")
    result = repo("plan", "jobs.d")
    assert result.exit_code == 1
    assert "jobs.d/a.yaml:6:3: error: x-gpulab-apply.adopt: adopt must be {uuid:" in result.stdout
