"""The pure planner: every row of docs/plan-apply.md's decision table, duplicates, restarts, rerun tokens, protection, targets."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import pytest

from gpulab_apply.model import JobSpec, RemoteJob
from gpulab_apply.problems import Location
from gpulab_apply.reconcile.diff import normal_request
from gpulab_apply.reconcile.marker import Marker, spec_hash, with_owner
from gpulab_apply.reconcile.planner import (
    Action,
    FieldDiff,
    Plan,
    PlanOptions,
    Reason,
    build_plan,
    desired_spec_hash,
)

SET = "lab"
PROJECT = "urn:publicid:IDN+ilabt.imec.be+project+p"


def spec(name: str = "train", *, gpus: int = 1, rerun: Any = None, protect: bool = False, **extra: Any) -> JobSpec:
    job = {"name": name, "request": {"resources": {"cpus": 1, "gpus": gpus, "cpuMemoryGb": 4},
                                     "docker": {"image": "debian:stable", **extra}}}
    return JobSpec(name=name, job=job, location=Location(f"jobs.d/{name}.yaml", 1, 1), rerun=rerun, protect=protect)


_counter = iter(range(10_000))


def remote(name: str = "train", status: str = "RUNNING", *, of: JobSpec | None = None, set_name: str | None = SET,
           spec_hash: str | None = None, protect: bool = False, minute: int | None = None,
           request: Mapping[str, Any] | None = None, description: str | None = None) -> RemoteJob:
    n = next(_counter)
    if spec_hash is None and of is not None:
        spec_hash = desired_spec_hash(of, PROJECT)
    if description is None:
        description = "prose"
        if set_name is not None:
            marker = Marker(set_name=set_name, spec=spec_hash or "f" * 16, run_id="r1", protect=protect)
            description += f"\n{marker}"
    source = of.job["request"] if of is not None else {"resources": {"cpus": 1, "gpus": 1, "cpuMemoryGb": 4}}
    return RemoteJob.from_json({
        "uuid": f"{n:08d}-0000-0000-0000-000000000000",
        "name": name,
        "description": description,
        "request": dict(request if request is not None else source),
        "owner": {"projectUrn": PROJECT, "userUrn": "urn:publicid:IDN+ilabt.imec.be+user+jdoe",
                  "userEmail": "hidden@hidden.hidden"},
        "state": {"status": status, "eventTimes": {"created": f"2026-11-23T10:{minute if minute is not None else n % 60:02d}:00Z"}},
    })


def plan(desired: list[JobSpec], jobs: list[RemoteJob], **options: Any) -> Plan:
    return build_plan(desired, jobs, set_name=SET, options=PlanOptions(project_urn=PROJECT, **options))


def only(p: Plan) -> tuple[Action, Reason]:
    assert len(p.entries) == 1, p.entries
    return p.entries[0].action, p.entries[0].reason


# --- the table, row by row -----------------------------------------------------------------------------------

def test_desired_and_nothing_remote_creates() -> None:
    p = plan([spec()], [])
    assert only(p) == (Action.CREATE, Reason.NEW)
    assert p.entries[0].desired is not None and p.entries[0].cancel == ()
    assert p.has_changes


@pytest.mark.parametrize("status", ["ONHOLD", "On Hold", "QUEUED", "ASSIGNED", "STARTING", "RUNNING", "MUST HALT",
                                    "HALTING", "CANCELLING", "SOMETHING NEW"])
def test_active_same_spec_is_in_sync(status: str) -> None:
    desired = spec()
    job = remote(status=status, of=desired)
    p = plan([desired], [job])
    assert only(p) == (Action.NONE, Reason.IN_SYNC)
    assert p.entries[0].current == job
    assert not p.has_changes


def test_active_changed_spec_is_replaced_and_running_work_lost_is_called_out() -> None:
    old, new = spec(gpus=1), spec(gpus=2)
    job = remote(status="RUNNING", of=old)
    p = plan([new], [job])
    entry = p.entries[0]
    assert (entry.action, entry.reason) == (Action.REPLACE, Reason.CHANGED)
    assert entry.cancel == (job,)
    assert entry.work_lost
    assert entry.diffs == (FieldDiff("request.resources.gpus", "changed", 1, 2),)
    assert (p.summary.replace, p.summary.replace_running) == (1, 1)


def test_queued_job_replaced_loses_no_work() -> None:
    job = remote(status="QUEUED", of=spec(gpus=1))
    entry = plan([spec(gpus=2)], [job]).entries[0]
    assert entry.action is Action.REPLACE and not entry.work_lost


def test_finished_same_spec_is_not_rerun() -> None:
    desired = spec()
    assert only(plan([desired], [remote(status="FINISHED", of=desired)])) == (Action.NONE, Reason.FINISHED)
    assert only(plan([desired], [remote(status="FINISHED", of=desired)], rerun_failed=True)) == (Action.NONE,
                                                                                              Reason.FINISHED)


@pytest.mark.parametrize("status", ["FINISHED", "FAILED", "CANCELLED", "HALTED"])
def test_final_with_changed_spec_is_created_again(status: str) -> None:
    job = remote(status=status, of=spec(gpus=1))
    p = plan([spec(gpus=2)], [job])
    assert only(p) == (Action.CREATE, Reason.CHANGED)
    assert p.entries[0].cancel == () and p.entries[0].current == job
    assert [d.path for d in p.entries[0].diffs] == ["request.resources.gpus"]


def test_new_rerun_token_on_finished_job_creates_a_new_run() -> None:
    job = remote(status="FINISHED", of=spec())
    assert only(plan([spec(rerun="2")], [job])) == (Action.CREATE, Reason.CHANGED)
    # the same token again: in sync with the run it made
    rerun = spec(rerun="2")
    assert only(plan([rerun], [job, remote(status="FINISHED", of=rerun)])) == (Action.NONE, Reason.FINISHED)


@pytest.mark.parametrize(("status", "reason"), [("FAILED", Reason.FAILED), ("CANCELLED", Reason.CANCELLED),
                                                ("Halted", Reason.HALTED)])
def test_failed_or_cancelled_same_spec_is_reported_and_rerun_only_on_request(status: str, reason: Reason) -> None:
    desired = spec()
    job = remote(status=status, of=desired)
    assert only(plan([desired], [job])) == (Action.NONE, reason)
    assert only(plan([desired], [job], rerun_failed=True)) == (Action.CREATE, Reason.RERUN_FAILED)


@pytest.mark.parametrize("status", ["RUNNING", "FINISHED", "FAILED"])
@pytest.mark.parametrize(("set_name", "note"), [(None, "not submitted by gpulab-apply"),
                                                ("other", "managed by set other")])
def test_unmanaged_job_with_a_desired_name_is_reported_with_its_diff(status: str, set_name: str | None,
                                                                     note: str) -> None:
    job = remote(status=status, of=spec(gpus=4), set_name=set_name)
    p = plan([spec(gpus=1)], [job])
    entry = p.entries[0]
    assert (entry.action, entry.reason, entry.note) == (Action.NONE, Reason.UNMANAGED, note)
    assert entry.cancel == () and entry.current == job
    assert entry.diffs == (FieldDiff("request.resources.gpus", "changed", 4, 1),)
    assert not p.has_changes and p.summary.unmanaged == 1


def test_unmanaged_newest_takes_precedence_over_our_older_final_job() -> None:
    desired = spec()
    ours = remote(status="FAILED", of=desired, minute=1)
    by_hand = remote(status="QUEUED", of=desired, set_name=None, minute=2)
    assert only(plan([desired], [ours, by_hand], rerun_failed=True)) == (Action.NONE, Reason.UNMANAGED)


def test_a_malformed_marker_is_unmanaged() -> None:
    job = remote(of=spec(), set_name=None, description=f"[gpulab-apply set={SET} spec=zz run=r]")
    assert only(plan([spec()], [job])) == (Action.NONE, Reason.UNMANAGED)


def test_not_desired_active_managed_is_cancelled() -> None:
    job = remote(status="RUNNING", of=spec("old"), name="old")
    p = plan([], [job])
    entry = p.entries[0]
    assert (entry.name, entry.action, entry.reason, entry.cancel) == ("old", Action.CANCEL, Reason.REMOVED, (job,))
    assert (p.summary.cancel, p.summary.cancel_running) == (1, 1)
    assert p.managed_active_count == 1 and p.desired_count == 0


@pytest.mark.parametrize("status", ["FINISHED", "FAILED", "CANCELLED", "HALTED"])
def test_not_desired_final_is_history_and_left_alone(status: str) -> None:
    assert plan([], [remote(name="old", status=status, of=spec("old"))]).entries == ()


@pytest.mark.parametrize("set_name", [None, "other"])
def test_not_desired_and_not_ours_is_not_our_business(set_name: str | None) -> None:
    assert plan([], [remote(name="x", status="RUNNING", of=spec("x"), set_name=set_name)]).entries == ()


def test_protect_in_file_blocks_replace() -> None:
    job = remote(status="RUNNING", of=spec(gpus=1))
    p = plan([spec(gpus=2, protect=True)], [job])
    entry = p.entries[0]
    assert (entry.action, entry.reason, entry.blocked) == (Action.NONE, Reason.PROTECTED, Action.REPLACE)
    assert entry.cancel == () and entry.diffs  # the diff is still shown
    assert not p.has_changes and p.summary.blocked == 1


def test_protect_in_remote_marker_blocks_cancel_after_the_file_is_deleted() -> None:
    job = remote(name="keep", status="RUNNING", of=spec("keep"), protect=True)
    p = plan([], [job])
    assert only(p) == (Action.NONE, Reason.PROTECTED)
    assert p.entries[0].blocked is Action.CANCEL


def test_protect_in_remote_marker_blocks_replace() -> None:
    job = remote(status="QUEUED", of=spec(gpus=1), protect=True)
    assert only(plan([spec(gpus=2)], [job])) == (Action.NONE, Reason.PROTECTED)


def test_cancel_protected_overrides_for_one_name_only() -> None:
    keep = remote(name="keep", status="RUNNING", of=spec("keep"), protect=True)
    other = remote(name="other", status="RUNNING", of=spec("other"), protect=True)
    p = plan([], [keep, other], cancel_protected=frozenset({"keep"}))
    assert [(e.name, e.action) for e in p.entries] == [("keep", Action.CANCEL), ("other", Action.NONE)]


def test_protect_does_not_block_a_create() -> None:
    assert only(plan([spec(protect=True)], [])) == (Action.CREATE, Reason.NEW)
    job = remote(status="FINISHED", of=spec(gpus=1))
    assert only(plan([spec(gpus=2, protect=True)], [job])) == (Action.CREATE, Reason.CHANGED)


def test_protected_unmanaged_is_still_unmanaged() -> None:
    job = remote(status="RUNNING", of=spec(gpus=4), set_name=None)
    assert only(plan([spec(protect=True)], [job])) == (Action.NONE, Reason.UNMANAGED)


# --- restarts and duplicates -----------------------------------------------------------------------------------

def test_halted_job_restart_is_followed() -> None:
    desired = spec()
    halted = remote(status="HALTED", of=desired, minute=1)
    restart = remote(status="QUEUED", of=desired, minute=30)
    p = plan([desired], [halted, restart])
    assert only(p) == (Action.NONE, Reason.IN_SYNC)
    assert p.entries[0].current == restart


def test_duplicates_keep_the_oldest_with_the_desired_spec_and_cancel_the_rest() -> None:
    desired = spec()
    newer = remote(status="QUEUED", of=desired, minute=20)
    oldest = remote(status="RUNNING", of=desired, minute=10)
    stale = remote(status="QUEUED", of=spec(gpus=7), minute=5)
    entry = plan([desired], [newer, oldest, stale]).entries[0]
    assert (entry.action, entry.reason, entry.current) == (Action.CANCEL, Reason.DUPLICATE, oldest)
    assert entry.cancel == (stale, newer)


def test_duplicate_ties_are_broken_by_uuid_so_racers_agree() -> None:
    desired = spec()
    first = remote(status="QUEUED", of=desired, minute=10)
    second = remote(status="QUEUED", of=desired, minute=10)
    for order in ([first, second], [second, first]):
        entry = plan([desired], order).entries[0]
        assert entry.current == first and entry.cancel == (second,)


def test_active_jobs_all_with_other_specs_are_all_cancelled_by_the_replace() -> None:
    a = remote(status="QUEUED", of=spec(gpus=2), minute=1)
    b = remote(status="RUNNING", of=spec(gpus=3), minute=2)
    entry = plan([spec(gpus=1)], [a, b]).entries[0]
    assert (entry.action, entry.current, entry.cancel) == (Action.REPLACE, b, (a, b))


# --- scope and bookkeeping -------------------------------------------------------------------------------------

def test_targets_restrict_desired_and_remote_names() -> None:
    removed = remote(name="exp-old", status="RUNNING", of=spec("exp-old"))
    other = remote(name="keep-old", status="RUNNING", of=spec("keep-old"))
    p = plan([spec("exp-1"), spec("other")], [removed, other], targets=("exp-*",))
    assert [(e.name, e.action) for e in p.entries] == [("exp-1", Action.CREATE), ("exp-old", Action.CANCEL)]
    assert p.desired_count == 1


def test_the_project_does_not_enter_the_spec_hash() -> None:
    """Filled in by --project or written in the file, v3.1 or v4.0: the same job (marker version 2)."""
    desired = spec()
    explicit = JobSpec(name="train", job={**desired.job, "owner": {"projectUrn": PROJECT}}, location=desired.location)
    assert desired_spec_hash(desired, PROJECT) == desired_spec_hash(desired, None) == desired_spec_hash(explicit, None)
    job = remote(status="QUEUED", of=desired)
    p = build_plan([desired], [job], set_name=SET, options=PlanOptions(project_urn=None))
    assert only(p) == (Action.NONE, Reason.IN_SYNC)


def v1_remote(desired: JobSpec, *, filled: str | None, status: str = "RUNNING") -> RemoteJob:
    """A job submitted by the previous version: marker version 1, its hash over the owner as submitted."""
    v1 = spec_hash(with_owner(desired.job, filled), version=1)
    return remote(desired.name, status=status, description=f"prose\n[gpulab-apply set={SET} spec={v1} run=r0]")


@pytest.mark.parametrize("filled", [PROJECT, None])
@pytest.mark.parametrize("now", [PROJECT, None])
def test_jobs_made_with_marker_version_1_stay_in_sync(filled: str | None, now: str | None) -> None:
    desired = spec()
    job = v1_remote(desired, filled=filled)
    assert job.description is not None and "v2" not in job.description
    p = build_plan([desired], [job], set_name=SET, options=PlanOptions(project_urn=now))
    assert only(p) == (Action.NONE, Reason.IN_SYNC)
    finished = v1_remote(desired, filled=filled, status="FINISHED")
    assert only(build_plan([desired], [finished], set_name=SET, options=PlanOptions(project_urn=now))) == (
        Action.NONE, Reason.FINISHED)


def test_a_changed_job_with_a_version_1_marker_is_still_replaced() -> None:
    job = v1_remote(spec(gpus=1), filled=PROJECT)
    assert only(plan([spec(gpus=2)], [job])) == (Action.REPLACE, Reason.CHANGED)


def test_summary_and_entries_are_sorted_by_name() -> None:
    running = remote(name="b", status="RUNNING", of=spec("b", gpus=9))
    gone = remote(name="z", status="QUEUED", of=spec("z"))
    p = plan([spec("c"), spec("a"), spec("b")], [running, gone])
    assert [e.name for e in p.entries] == ["a", "b", "c", "z"]
    s = p.summary
    assert (s.create, s.replace, s.replace_running, s.cancel, s.cancel_running) == (2, 1, 1, 1, 0)
    assert p.cancellations == 2


def test_fingerprint_changes_with_any_relevant_job_and_ignores_unrelated_ones() -> None:
    desired = spec()
    job = remote(status="QUEUED", of=desired)
    base = plan([desired], [job]).remote_fingerprint
    unrelated = remote(name="someone-else", status="RUNNING", set_name=None)
    assert plan([desired], [job, unrelated]).remote_fingerprint == base
    moved = RemoteJob.from_json({**job.raw, "state": {"status": "RUNNING"}})
    assert plan([desired], [moved]).remote_fingerprint != base
    assert plan([desired], []).remote_fingerprint != base


# --- field differences ---------------------------------------------------------------------------------------

def test_server_filled_fields_cause_no_phantom_diffs() -> None:
    desired = spec(storage=["/project_ghent", {"hostPath": "/project_scratch", "containerPath": "/scratch"}])
    filled = {
        "resources": {"cpus": 1, "gpus": 1, "cpuMemoryGb": 4, "gpuMemoryGb": None, "features": [], "gpuModel": [],
                      "clusterId": None},
        "docker": {"image": "debian:stable", "command": [], "environment": {}, "portMappings": [], "groupAdd": [],
                   "storage": [{"hostPath": "/project_ghent/", "containerPath": "/project_ghent/"},
                               {"hostPath": "/project_scratch/", "containerPath": "/scratch/"}]},
        "scheduling": {"interactive": False, "restartable": False, "minDuration": "1 week", "maxDuration": "2 weeks",
                       "reservationIds": []},
        "extra": {"sshPubKeys": [], "emailOnEnd": []},
    }
    job = remote(status="RUNNING", set_name=None, request=filled)
    entry = plan([desired], [job]).entries[0]
    assert entry.reason is Reason.UNMANAGED and entry.diffs == ()


def test_diffs_show_added_removed_and_changed_fields() -> None:
    job = remote(status="RUNNING", of=spec(command="old", workingDir="/w/"), spec_hash="0" * 16)
    entry = plan([spec(environment={"SEED": 1})], [job]).entries[0]
    assert entry.diffs == (
        FieldDiff("request.docker.command", "removed", "old", None),
        FieldDiff("request.docker.environment", "added", None, {"SEED": 1}),
        FieldDiff("request.docker.workingDir", "removed", "/w/", None),
    )


def test_diffs_of_many_entries_each_land_on_their_own_entry() -> None:
    # All entries are diffed in one DeepDiff call; what one job changed must not leak into another.
    a, b, c = spec("a", gpus=2), spec("b", command="new"), spec("c")
    jobs = [remote("a", of=spec("a", gpus=1), spec_hash="0" * 16),
            remote("b", of=spec("b", command="old"), spec_hash="0" * 16),
            remote("c", of=c, set_name=None)]  # unmanaged, identical: nothing to show
    entries = {entry.name: entry for entry in plan([a, b, c], jobs).entries}
    assert entries["a"].diffs == (FieldDiff("request.resources.gpus", "changed", 1, 2),)
    assert entries["b"].diffs == (FieldDiff("request.docker.command", "changed", "old", "new"),)
    assert entries["c"].reason is Reason.UNMANAGED and entries["c"].diffs == ()


def test_diffs_mask_secrets() -> None:
    job = remote(status="RUNNING", of=spec(image="bob:hunter2@registry.example/x:1", environment={"API_TOKEN": "a"}))
    desired = spec(image="bob:swordfish@registry.example/x:2", environment={"API_TOKEN": "b", "PLAIN": "p"})
    entry = plan([desired], [job]).entries[0]
    assert entry.diffs == (
        FieldDiff("request.docker.environment.API_TOKEN", "changed", "***", "***"),
        FieldDiff("request.docker.environment.PLAIN", "added", None, "p"),
        FieldDiff("request.docker.image", "changed", "bob:***@registry.example/x:1", "bob:***@registry.example/x:2"),
    )


def test_normal_request_resolves_aliases_idempotently() -> None:
    request = {"docker": {"storage": ["/a", {"containerPath": "/c"}, {"hostPath": "tmpfs", "containerPath": "/r",
                                                                       "sizeGb": 1}], "groupAdd": "users"},
               "scheduling": {"killableAfter": "1 hour", "reservationId": "r-1"}}
    once = normal_request(request)
    assert once == {"docker": {"storage": [{"hostPath": "/a/", "containerPath": "/a/"},
                                           {"hostPath": "/c/", "containerPath": "/c/"},
                                           {"hostPath": "tmpfs", "containerPath": "/r/", "sizeGb": 1}],
                               "groupAdd": ["users"]},
                    "scheduling": {"minDuration": "1 hour", "reservationIds": ["r-1"]}}
    assert normal_request(once) == once


def test_protected_duplicates_are_held_not_cancelled() -> None:
    desired = spec()
    oldest = remote(status="RUNNING", of=desired, minute=1)
    copy = remote(status="QUEUED", of=desired, minute=2, protect=True)
    entry = plan([desired], [oldest, copy]).entries[0]
    assert (entry.action, entry.reason, entry.blocked) == (Action.NONE, Reason.PROTECTED, Action.CANCEL)
    assert entry.cancel == () and entry.held == (copy,)
    assert plan([desired], [oldest, copy]).cancellations == 0


# --- ownership: set and user ------------------------------------------------------------------------------------

ME = "urn:publicid:IDN+ilabt.imec.be+user+jdoe"
ALICE = "urn:publicid:IDN+ilabt.imec.be+user+alice"


def owned_by(job: RemoteJob, user: str) -> RemoteJob:
    return RemoteJob.from_json({**job.raw, "owner": {**job.owner, "userUrn": user}})


def test_another_users_job_of_this_set_is_never_in_sync_nor_cancelled() -> None:
    desired = spec("a")
    theirs = owned_by(remote("a", of=desired), ALICE)
    theirs_removed = owned_by(remote("gone", of=spec("gone")), ALICE)
    p = plan([desired], [theirs, theirs_removed], user_urn=ME)
    assert only(p) == (Action.CREATE, Reason.NEW)
    assert p.entries[0].others == (theirs,)
    assert p.cancellations == 0 and p.managed_active_count == 0
    assert any(ALICE in warning and "other users" in warning for warning in p.warnings)


def test_my_own_job_of_this_set_is_managed_whoever_else_shares_the_set() -> None:
    desired = spec("a")
    mine = remote("a", of=desired, minute=1)
    theirs = owned_by(remote("a", of=desired, minute=2), ALICE)
    p = plan([desired], [mine, theirs], user_urn=ME)
    assert only(p) == (Action.NONE, Reason.IN_SYNC) and p.entries[0].current == mine


def test_desired_names_held_by_another_set_of_mine_suggest_that_set() -> None:
    jobs = [remote(name, of=spec(name), set_name="proj") for name in ("a", "b")]
    p = plan([spec("a"), spec("b")], jobs, user_urn=ME)
    assert {e.reason for e in p.entries} == {Reason.UNMANAGED}
    assert p.warnings == (("2 desired job(s) already run as your jobs of set 'proj', not 'lab': did you mean "
                           "--set proj? (pin it with `set: proj` in gpulab-apply.yaml)"),)
    # someone else's set is not a hint about mine
    assert plan([spec("a")], [owned_by(jobs[0], ALICE)], user_urn=ME).warnings == ()


def test_a_job_to_submit_whose_not_after_has_passed_is_warned_about() -> None:
    from datetime import UTC, datetime

    def timed(name: str, not_after: str) -> JobSpec:
        job = spec(name)
        request = {**job.job["request"], "scheduling": {"notAfter": not_after}}
        return dataclasses.replace(job, job={**job.job, "request": request})

    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    stale = [timed(f"stale-{i}", "2026-11-29T11:59:59Z") for i in range(7)]
    fresh = timed("fresh", "2026-11-29T12:00:01Z")
    running = timed("running", "2026-01-01T00:00:00Z")  # submitted long ago: nothing is submitted for it now
    result = build_plan([*stale, fresh, running], [remote("running", of=running)], set_name=SET,
                        options=PlanOptions(project_urn=PROJECT), now=now)
    [warning] = result.warnings
    assert warning == (
        "scheduling.notAfter has passed on GPULab's clock for stale-0, stale-1, stale-2, stale-3, stale-4 and 2 more: "
        "GPULab fails a job still queued at its notAfter, so submitting would fail at once; move notAfter later or "
        "remove it")
    assert build_plan([*stale, fresh], [], set_name=SET, options=PlanOptions(project_urn=PROJECT)).warnings == ()
