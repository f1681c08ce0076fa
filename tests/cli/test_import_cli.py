"""`gpulab-apply import` and adoption end to end: a job started by hand becomes managed without being
cancelled and resubmitted. Real CLI, emulator over HTTP on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from gpulab_apply.emulator import RunningEmulator
from gpulab_apply.gpulab.client import GpulabClient
from tests.conftest import RunCli
from tests.fixtures.jobs import PROJECT_URN
from tests.harness import TO_RUNNING, Repo

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


# --- issue 17: import is lossless, adoption tells the truth ----------------------------------------------

LEGACY = {
    "name": "legacy-train",
    "description": "",
    "owner": {"projectUrn": PROJECT_URN},
    "request": {
        "resources": {"cpus": 2, "gpus": 1, "cpuMemoryGb": 8},
        "docker": {"image": "pytorch/pytorch:2.4.0", "command": "python train.py",
                   "environment": {"DEBUG": False, "SEED": 3, "EMPTY": ""}},
        "scheduling": {"maxDuration": "2 days"},
    },
}


def imported_file(repo: Repo, name: str = "legacy-train") -> Path:
    return repo.jobs / "imported" / f"{name}.yaml"


def test_false_values_empty_strings_and_trailing_newlines_are_imported(repo: Repo) -> None:
    submit_by_hand(repo, {**LEGACY, "description": "line one\n"})
    assert repo("import", "legacy-*").exit_code == 0
    written = YAML(typ="safe").load(imported_file(repo).read_text())
    assert written["request"]["docker"]["environment"] == {"DEBUG": False, "SEED": 3, "EMPTY": ""}
    assert written["description"] == "line one\n"
    import json

    import jsonschema

    schema = json.loads((Path(__file__).parents[2] / "schemas" / "job-file.schema.json").read_text())
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(written)) == []  # editors accept it too
    submit_by_hand(repo, {**LEGACY, "name": "empty-description"})
    assert repo("import", "empty-*").exit_code == 0
    assert YAML(typ="safe").load(imported_file(repo, "empty-description").read_text())["description"] == ""


def test_the_server_default_min_duration_is_left_out_so_strict_validation_passes(repo: Repo) -> None:
    uuid = submit_by_hand(repo, LEGACY)  # GPULab stores minDuration: 1 week beside maxDuration: 2 days
    with GpulabClient(repo.emulator.api_root("4.0"), api_version="4.0") as client:
        assert client.get_job(uuid).request["scheduling"]["minDuration"] == "1 week"
    assert repo("import", "legacy-*").exit_code == 0
    assert YAML(typ="safe").load(imported_file(repo).read_text())["request"]["scheduling"] == {"maxDuration": "2 days"}
    strict = repo.cli("validate", "jobs.d", "--strict")
    assert strict.exit_code == 0, strict


def test_a_long_name_gets_a_short_unique_file_name(repo: Repo) -> None:
    # names up to the 4,096 characters an answer may hold (docs/client.md#limits; a longer one is refused there)
    for length in (2000, 4096):
        submit_by_hand(repo, {**LEGACY, "name": "n" * length})
    imported = repo("import", "nnn*")
    assert imported.exit_code == 0, imported
    files = sorted((repo.jobs / "imported").iterdir())
    assert len(files) == 2 and all(len(path.name) < 120 for path in files)
    assert sorted(len(YAML(typ="safe").load(path.read_text())["name"]) for path in files) == [2000, 4096]
    assert repo("plan", "jobs.d", "--detailed-exitcode").exit_code == 0


def test_an_adopted_file_that_differs_from_the_running_job_is_not_in_sync(repo: Repo) -> None:
    uuid = submit_by_hand(repo, LEGACY)
    assert repo("import", "legacy-*").exit_code == 0
    path = imported_file(repo)
    path.write_text(path.read_text().replace("      DEBUG: false\n", ""))  # the file no longer gives the job
    planned = repo("plan", "jobs.d", "--detailed-exitcode")
    assert planned.exit_code == 2, planned
    assert f"-/+ legacy-train (changed; cancels QUEUED job {uuid[:8]})" in planned.stdout
    assert "request.docker.environment.DEBUG" in planned.stdout  # and why


OLD_IMPORT = """name: legacy-train
request:
  resources: {{cpus: 2, gpus: 1, cpuMemoryGb: 8}}
  docker:
    image: pytorch/pytorch:2.4.0
    command: python train.py
    environment: {{SEED: 3, EMPTY: ''}}
  scheduling: {{minDuration: 1 week, maxDuration: 2 days}}
x-gpulab-apply:
  adopt: {{uuid: {uuid}, spec: '{spec}'}}
"""


def test_an_old_adoption_stays_in_sync_with_a_warning_and_fixing_its_file_restarts_nothing(repo: Repo) -> None:
    """The previous import dropped ``DEBUG: false`` and recorded the spec of what it wrote: an upgrade keeps
    the job running, but says that the file differs; writing the value back keeps it in sync."""
    from gpulab_apply.jobfiles.validation import validate_paths
    from gpulab_apply.reconcile.planner import desired_spec_hash

    uuid = submit_by_hand(repo, LEGACY)
    path = repo.jobs / "legacy-train.yaml"
    path.write_text(OLD_IMPORT.format(uuid=uuid, spec="0" * 16))
    [spec] = validate_paths([path]).jobs
    path.write_text(OLD_IMPORT.format(uuid=uuid, spec=desired_spec_hash(spec, PROJECT_URN)))
    planned = repo("plan", "jobs.d", "--detailed-exitcode")
    assert planned.exit_code == 0, planned
    assert "Unchanged: 1 in sync or done." in planned.stdout
    assert f"legacy-train: the adopted job {uuid[:8]} differs from jobs.d/legacy-train.yaml" in planned.stdout
    path.write_text(path.read_text().replace("{SEED: 3,", "{DEBUG: false, SEED: 3,"))
    fixed = repo("plan", "jobs.d", "--detailed-exitcode")
    assert fixed.exit_code == 0, fixed  # today: -/+ legacy-train (its work is lost)
    assert "differs" not in fixed.stdout


def test_import_writes_only_what_the_defaults_do_not_say_and_the_next_plan_is_no_change(repo: Repo) -> None:
    submit_by_hand(repo, {**LEGACY, "request": {**LEGACY["request"], "scheduling": {}}})  # server durations
    (repo.jobs / "_defaults.yaml").write_text(
        "request:\n  resources: {cpus: 2, gpus: 4}\n  docker:\n    image: pytorch/pytorch:2.4.0\n"
        "    environment: {SEED: 3}\n  scheduling: {interactive: true, maxDuration: 3 days}\n")
    imported = repo("import", "legacy-*")
    assert imported.exit_code == 0, imported
    written = YAML(typ="safe").load(imported_file(repo).read_text())
    assert written["request"]["resources"] == {"gpus": 1, "cpuMemoryGb": 8}  # cpus: 2 comes from the defaults
    assert "image" not in written["request"]["docker"]
    assert written["request"]["docker"]["environment"] == {"DEBUG": False, "EMPTY": ""}
    assert written["request"]["scheduling"] == {"interactive": False, "maxDuration": "2 weeks"}
    planned = repo("plan", "jobs.d", "--detailed-exitcode")
    assert planned.exit_code == 0, planned  # today: -/+ legacy-train (changed; cancels QUEUED job ...)


def test_a_default_the_job_file_cannot_undo_is_a_clear_error_and_nothing_is_written(repo: Repo) -> None:
    submit_by_hand(repo, LEGACY)
    (repo.jobs / "_defaults.yaml").write_text("request:\n  docker:\n    environment: {WANDB_MODE: offline}\n")
    imported = repo("import", "legacy-*")
    assert imported.exit_code == 1
    assert "sets request.docker.environment.WANDB_MODE, which job 'legacy-train' does not have" in imported.stderr
    assert not (repo.jobs / "imported").exists() or not list((repo.jobs / "imported").iterdir())


SECRETIVE = {
    "name": "secretive",
    "owner": {"projectUrn": PROJECT_URN},
    "request": {
        "resources": {"cpus": 1, "gpus": 1, "cpuMemoryGb": 4},
        "docker": {"image": "bot:reg-pass-123@registry.example.com/team/img:1",
                   "command": "python train.py --token cmd-token-456 --lr 0.1",
                   "environment": {"WANDB_API_KEY": "wandb-789", "SECRET_TOKEN": "sec-012", "HF_TOKEN": "hf-345",
                                   "SEED": "3"}},
    },
}
SECRET_VALUES = {"REGISTRY_PASSWORD": "reg-pass-123", "TOKEN": "cmd-token-456", "WANDB_API_KEY": "wandb-789",
                 "SECRET_TOKEN": "sec-012", "HF_TOKEN": "hf-345"}


def test_secret_looking_values_are_written_as_variables_the_user_is_told_to_provide(repo: Repo) -> None:
    submit_by_hand(repo, SECRETIVE)
    imported = repo("import", "secretive")
    assert imported.exit_code == 0, imported
    text = imported_file(repo, "secretive").read_text()
    for value in SECRET_VALUES.values():
        assert value not in text and value not in imported.stdout
    written = YAML(typ="safe").load(text)["request"]["docker"]
    assert written["image"] == "bot:${REGISTRY_PASSWORD}@registry.example.com/team/img:1"
    assert written["command"] == "python train.py --token ${TOKEN} --lr 0.1"
    assert written["environment"] == {"WANDB_API_KEY": "${WANDB_API_KEY}", "SECRET_TOKEN": "${SECRET_TOKEN}",
                                      "HF_TOKEN": "${HF_TOKEN}", "SEED": "3"}
    for variable in SECRET_VALUES:
        assert f"  {variable}: secretive\n" in imported.stdout
    # without the values (a laptop, a fork's pull request) plan still works, names what a submission needs,
    # and never calls the adopted job changed for a value it cannot see (docs/authoring.md#variables-offline)
    missing = repo("plan", "jobs.d", "--detailed-exitcode")
    assert missing.exit_code == 0, missing
    assert all(variable in missing.stdout + missing.stderr for variable in SECRET_VALUES)
    assert repo("apply", "jobs.d", "--yes").exit_code == 1  # a submission needs them
    planned = repo.cli("plan", "jobs.d", "--detailed-exitcode", *repo.connection, env=SECRET_VALUES)
    assert planned.exit_code == 0, planned
    other = repo.cli("plan", "jobs.d", "--detailed-exitcode", *repo.connection, env={**SECRET_VALUES, "TOKEN": "x"})
    assert other.exit_code == 2, other  # a value that is not the job's own is a change


# --- issue 22 §3: import writes only inside its directory, and no server string becomes YAML -------------


def forge_uuid(repo: Repo, uuid: str, forged: str) -> None:
    """Make the emulator serve job ``uuid`` under the id ``forged``, as a hostile server would."""
    import json
    import sqlite3

    with sqlite3.connect(repo.emulator.db_path) as db:
        for column in ("v40", "v31", "v30"):
            [text] = db.execute(f"SELECT {column} FROM jobs WHERE uuid = ?", (uuid,)).fetchone()
            data = json.loads(text)
            data["uuid"] = forged
            db.execute(f"UPDATE jobs SET {column} = ? WHERE uuid = ?", (json.dumps(data), uuid))
        db.execute("UPDATE jobs SET uuid = ? WHERE uuid = ?", (forged, uuid))


@pytest.mark.parametrize("forged", ["../../../../PWNED", "/tmp/PWNED", "x\n  x-gpulab-apply: {protect: true}",
                                    "4a1f0c2e-0000-0000-0000-000000000000\nx-gpulab-apply: {protect: true}",
                                    "\x1b]52;c;SGVsbG8=\x07"])
def test_a_job_whose_id_is_not_a_uuid_is_refused_and_nothing_is_written(repo: Repo, tmp_path: Path,
                                                                         forged: str) -> None:
    uuid = submit_by_hand(repo, {**LEGACY, "name": "x"})
    forge_uuid(repo, uuid, forged)
    before = sorted(str(path) for path in tmp_path.rglob("*"))
    imported = repo("import", "*")
    assert imported.exit_code == 1, imported
    # refused where the answer is read (docs/client.md), before import could write anything
    assert "GPULab answered something unexpected" in imported.stderr and "is not an id" in imported.stderr
    assert "\x1b" not in imported.stderr and "\x07" not in imported.stderr
    assert sorted(str(path) for path in tmp_path.rglob("*")) == before
    assert not Path("/tmp/PWNED").exists()


def test_a_symbolic_link_in_the_target_is_never_followed(repo: Repo, tmp_path: Path) -> None:
    submit_by_hand(repo, LEGACY)
    outside = tmp_path / "outside.yaml"
    (repo.jobs / "imported").mkdir()
    imported_file(repo).symlink_to(outside)  # dangling
    for flags in ((), ("--force",)):
        result = repo("import", "legacy-*", *flags)
        assert result.exit_code == 1, result
        assert "is a symbolic link" in result.stderr
        assert not outside.exists()
    outside.write_text("mine\n")
    assert repo("import", "legacy-*", "--force").exit_code == 1
    assert outside.read_text() == "mine\n"


def test_names_that_share_a_safe_form_get_a_file_each(repo: Repo) -> None:
    for name in ("train/a", "train a", "train_a", "Train_A"):
        submit_by_hand(repo, {**LEGACY, "name": name})
    for flags in ((), ("--force",)):
        imported = repo("import", "*rain*", *flags)
        assert imported.exit_code == 0, imported
        assert "Imported 4 job(s) into 4 file(s)" in imported.stdout
        files = list((repo.jobs / "imported").iterdir())
        assert len(files) == 4 and len({path.name.casefold() for path in files}) == 4
        assert sorted(YAML(typ="safe").load(path.read_text())["name"] for path in files) == \
            ["Train_A", "train a", "train/a", "train_a"]
    assert repo("plan", "jobs.d", "--detailed-exitcode").exit_code == 0


@pytest.mark.parametrize("name", ["a\nx-gpulab-apply: {protect: true}", "esc\x1b[31mred\x07", "_defaults", ".hidden",
                                  "${HOME} and $${X}", "a\u2028b\x85c"])
def test_server_strings_never_become_yaml_or_reach_the_terminal(repo: Repo, name: str) -> None:
    submit_by_hand(repo, {**LEGACY, "name": name})
    imported = repo("import", "*")
    assert imported.exit_code == 0, imported
    [path] = list((repo.jobs / "imported").iterdir())
    assert not path.name.startswith(("_", "."))
    written = YAML(typ="safe").load(path.read_text())
    assert written["name"] == name.replace("${", "$${")
    assert set(written["x-gpulab-apply"]) == {"adopt"}  # no protect injected
    for result in (imported, repo.cli("validate", "jobs.d"), repo("plan", "jobs.d", "--detailed-exitcode"),
                   repo("status", "jobs.d")):
        assert result.exit_code == 0, result
        assert not any(char in result.stdout + result.stderr for char in "\x1b\x07\x85\u2028")


@pytest.mark.parametrize(("field", "value"), [("description", 5), ("request", ["x"]), ("owner", "me")])
def test_a_job_of_an_unexpected_shape_is_refused_with_a_message(repo: Repo, field: str, value: object) -> None:
    import json
    import sqlite3

    uuid = submit_by_hand(repo, LEGACY)
    with sqlite3.connect(repo.emulator.db_path) as db:
        [text] = db.execute("SELECT v40 FROM jobs WHERE uuid = ?", (uuid,)).fetchone()
        db.execute("UPDATE jobs SET v40 = ? WHERE uuid = ?", (json.dumps({**json.loads(text), field: value}), uuid))
    imported = repo("import", "legacy-*")
    assert imported.exit_code == 1, imported
    assert "GPULab answered something unexpected" in imported.stderr and "Nothing was changed" in imported.stderr


def test_a_name_that_is_not_valid_unicode_is_refused_with_a_message(repo: Repo) -> None:
    import json
    import sqlite3

    uuid = submit_by_hand(repo, LEGACY)
    with sqlite3.connect(repo.emulator.db_path) as db:  # served as JSON "a\ud800b": a lone surrogate
        [text] = db.execute("SELECT v40 FROM jobs WHERE uuid = ?", (uuid,)).fetchone()
        db.execute("UPDATE jobs SET v40 = ? WHERE uuid = ?", (json.dumps({**json.loads(text), "name": "a\ud800b"}),
                                                              uuid))
    imported = repo("import", "*")
    assert imported.exit_code == 1, imported
    assert "GPULab answered something unexpected" in imported.stderr and "not valid Unicode" in imported.stderr
    assert not (repo.jobs / "imported").exists()
