"""Plan files: written, read back, checked for freshness; unreadable ones are clear errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gpulab_apply.errors import ConfigError, StalePlanError
from gpulab_apply.model import RemoteJob
from gpulab_apply.reconcile.planfile import check_fresh, dump_plan, is_plan_file, load_plan
from tests.reconcile.test_planner import plan, remote, spec

CREATED = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)


def test_round_trip_and_fresh(tmp_path: Path) -> None:
    made = plan([spec("a"), spec("b")], [remote(name="b", status="QUEUED", of=spec("b")),
                                         remote(name="gone", status="RUNNING", of=spec("gone"))],
                targets=("*",), rerun_failed=True)
    path = tmp_path / "plan.json"
    path.write_text(dump_plan(made, endpoint="https://x/api/gpulab/v3.1/", paths=["jobs.d"], created=CREATED))
    document = json.loads(path.read_text())
    assert document["created"] == "2026-11-23T20:00:00Z" and document["set"] == "lab"
    assert [(a["name"], a["action"]) for a in document["actions"]] == [("a", "create"), ("gone", "cancel")]
    assert "debian" not in path.read_text()  # no job bodies
    assert is_plan_file(path) and not is_plan_file(tmp_path)
    saved = load_plan(path)
    assert saved.paths == ("jobs.d",) and saved.options == made.options
    check_fresh(saved, made, endpoint="https://x/api/gpulab/v3.1/")
    with pytest.raises(StalePlanError, match="not set 'lab' at https://y/"):
        check_fresh(saved, made, endpoint="https://y/")
    with pytest.raises(StalePlanError, match=r"the decision changed for 2 job\(s\): b \(nothing -> create spec "
                                             r"[0-9a-f]{16}\), gone \(cancel cancelling [0-9a-f]{8} -> nothing\)$"):
        check_fresh(saved, plan([spec("a"), spec("b")], []), endpoint="https://x/api/gpulab/v3.1/")


def test_a_state_change_no_decision_depends_on_keeps_the_plan_fresh(tmp_path: Path) -> None:
    running = remote(name="done", status="RUNNING", of=spec("done"), minute=1)
    made = plan([spec("a"), spec("done")], [running])
    path = tmp_path / "plan.json"
    path.write_text(dump_plan(made, endpoint="e", paths=["jobs.d"], created=CREATED))
    finished = RemoteJob.from_json({**running.raw, "state": {**running.raw["state"], "status": "FINISHED"}})
    again = plan([spec("a"), spec("done")], [finished])
    assert again.remote_fingerprint != made.remote_fingerprint
    check_fresh(load_plan(path), again, endpoint="e")  # RUNNING -> FINISHED: still one create of "a"


def test_a_stale_plan_names_at_most_ten_jobs(tmp_path: Path) -> None:
    made = plan([spec(f"j{i:02d}") for i in range(13)], [])
    path = tmp_path / "plan.json"
    path.write_text(dump_plan(made, endpoint="e", paths=["jobs.d"], created=CREATED))
    with pytest.raises(StalePlanError, match=r"for 13 job\(s\): j00 \(create spec \w+ -> nothing\), .* and 3 more$"):
        check_fresh(load_plan(path), plan([], []), endpoint="e")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "cannot read plan file"),
        ('{"kind": "something else"}', "is not a gpulab-apply plan file"),
        ('{"kind": "gpulab-apply-plan", "format_version": 99}', "has plan format 99; this version reads 2"),
        ('{"kind": "gpulab-apply-plan", "format_version": 1}', "has plan format 1; this version reads 2"),
        ('{"kind": "gpulab-apply-plan", "format_version": 2}', "is incomplete (missing 'options')"),
    ],
)
def test_unreadable_plan_files_are_config_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "plan.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_plan(path)
