"""The executor against an in-memory JobApi: ordering, recovery after ambiguous POSTs, dedup after racing.

Fast and direct; tests/cli/test_cli_plan_apply.py covers the same promises end to end over HTTP.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import pytest

from gpulab_apply.errors import GuardError
from gpulab_apply.model import JobSpec
from gpulab_apply.problems import Location
from gpulab_apply.reconcile.executor import ApplyOptions, ApplyReport, Result, execute
from gpulab_apply.reconcile.guards import Guards
from gpulab_apply.reconcile.marker import Marker, parse_marker
from gpulab_apply.reconcile.planner import Plan, PlanOptions, build_plan, desired_spec_hash
from tests.fake_gpulab import (
    ALREADY_ENDED,
    COMMIT_THEN_DROP,
    DROP,
    LOST_CANCEL_ANSWER,
    PROJECT,
    REJECT,
    SERVER_ERROR_AFTER_COMMIT,
    FakeGpulab,
)

SET = "lab"


def spec(name: str, *, gpus: int = 1, protect: bool = False) -> JobSpec:
    job = {"name": name, "request": {"resources": {"cpus": 1, "gpus": gpus, "cpuMemoryGb": 4},
                                     "docker": {"image": "debian:stable"}}}
    return JobSpec(name=name, job=job, location=Location(f"jobs.d/{name}.yaml", 1, 1), protect=protect)


def marker(of: JobSpec, *, run_id: str = "earlier", protect: bool = False) -> str:
    return str(Marker(set_name=SET, spec=desired_spec_hash(of, PROJECT), run_id=run_id, protect=protect))


def plan_for(fake: FakeGpulab, desired: list[JobSpec], **options: Any) -> Plan:
    return build_plan(desired, fake.list_jobs(), set_name=SET, options=PlanOptions(project_urn=PROJECT, **options))


def apply(fake: FakeGpulab, plan: Plan, **options: Any) -> ApplyReport:
    fake.calls.clear()
    return execute(plan, fake, options=ApplyOptions(run_id="now", **options))


def allowing_empty(plan: Plan) -> Plan:
    return dataclasses.replace(plan, options=dataclasses.replace(plan.options, guards=Guards(allow_empty=True)))


def outcome(report: ApplyReport, name: str, result: Result | None = None) -> Any:
    found = [o for o in report.outcomes if o.name == name and (result is None or o.result is result)]
    assert len(found) == 1, report.outcomes
    return found[0]


# --- ordering ------------------------------------------------------------------------------------------------

def test_replaced_jobs_are_cancelled_first_then_submissions_then_removals() -> None:
    fake = FakeGpulab()
    old = fake.add("a", description=marker(spec("a", gpus=1)), status="RUNNING")
    gone = fake.add("gone", description=marker(spec("gone")), status="QUEUED")
    plan = plan_for(fake, [spec("a", gpus=2), spec("b")])
    report = apply(fake, plan)

    assert report.ok
    kinds = [(kind, arg) for kind, arg in fake.calls if kind != "list"]
    submits = [i for i, (kind, _) in enumerate(kinds) if kind == "submit"]
    assert kinds.index(("cancel", old)) < min(submits)
    assert max(submits) < kinds.index(("cancel", gone))
    assert sorted(arg for kind, arg in kinds if kind == "submit") == ["a", "b"]
    assert outcome(report, "a").result is Result.REPLACED and outcome(report, "a").cancelled == (old,)
    assert outcome(report, "gone").result is Result.CANCELLED
    assert fake.calls[-1] == ("list", "")  # verification comes last


def test_submissions_run_in_parallel_up_to_the_parallelism() -> None:
    fake = FakeGpulab()
    together = threading.Barrier(4, timeout=5)
    fake.on_submit = lambda _name: together.wait()  # breaks (BrokenBarrierError) unless 4 are in flight at once
    report = apply(fake, plan_for(fake, [spec(f"j{i}") for i in range(4)]), parallelism=4)
    assert report.ok and report.count(Result.CREATED) == 4


def test_a_replacement_whose_cancel_fails_submits_nothing() -> None:
    fake = FakeGpulab()
    fake.add("a", description=marker(spec("a", gpus=1)), status="RUNNING", user_urn="urn:publicid:IDN+x+user+other")
    # the listing says it is ours (marker), GPULab refuses the cancel (another user's): no second job
    plan = plan_for(fake, [spec("a", gpus=2)])
    report = apply(fake, plan)
    assert not report.ok
    assert ("submit", "a") not in fake.calls
    assert "cancelling" in (outcome(report, "a").error or "")


def test_guards_refuse_before_any_call() -> None:
    fake = FakeGpulab()
    fake.add("a", description=marker(spec("a")), status="RUNNING")
    plan = plan_for(fake, [])
    fake.calls.clear()
    with pytest.raises(GuardError):
        execute(plan, fake, options=ApplyOptions(run_id="now"))
    assert fake.calls == []


# --- recovery after an ambiguous POST ---------------------------------------------------------------------------

@pytest.mark.parametrize("fault", [COMMIT_THEN_DROP, SERVER_ERROR_AFTER_COMMIT])
def test_a_committed_post_whose_answer_is_lost_is_found_by_its_marker_not_resubmitted(fault: str) -> None:
    fake = FakeGpulab(submit_faults={"a": [fault]})
    report = apply(fake, plan_for(fake, [spec("a")]))
    assert report.ok
    found = outcome(report, "a", Result.CREATED)
    assert found.recovered and found.created in fake.active("a")
    assert [call for call in fake.calls if call[0] == "submit"] == [("submit", "a")]
    assert len(fake.active("a")) == 1
    submitted = parse_marker(fake.jobs[fake.active("a")[0]]["description"])
    assert submitted is not None and submitted.run_id == "now"


def test_a_lost_post_is_submitted_again_once() -> None:
    fake = FakeGpulab(submit_faults={"a": [DROP]})
    report = apply(fake, plan_for(fake, [spec("a")]))
    assert report.ok and not outcome(report, "a").recovered
    assert fake.calls.count(("submit", "a")) == 2 and len(fake.active("a")) == 1


def test_two_lost_posts_fail_the_name_without_a_third_try() -> None:
    fake = FakeGpulab(submit_faults={"a": [DROP, DROP]})
    report = apply(fake, plan_for(fake, [spec("a"), spec("b")]))
    assert not report.ok
    assert outcome(report, "a").result is Result.FAILED and fake.calls.count(("submit", "a")) == 2
    assert outcome(report, "b").result is Result.CREATED
    assert fake.active("a") == []


def test_a_rejected_post_is_not_retried() -> None:
    fake = FakeGpulab(submit_faults={"a": [REJECT]})
    report = apply(fake, plan_for(fake, [spec("a")]))
    assert outcome(report, "a").result is Result.FAILED and "invalid job" in (outcome(report, "a").error or "")
    assert fake.calls.count(("submit", "a")) == 1


# --- dedup after racing ----------------------------------------------------------------------------------------

def test_a_racer_that_submitted_first_keeps_its_job_and_ours_is_cancelled() -> None:
    fake = FakeGpulab()
    plan = plan_for(fake, [spec("a")])  # both racers planned against an empty listing
    racer = fake.add("a", description=marker(spec("a"), run_id="racer"))  # ...and the racer submitted first
    report = apply(fake, plan)
    assert report.ok
    ours = outcome(report, "a", Result.CREATED).created
    assert outcome(report, "a", Result.DEDUPLICATED).cancelled == (ours,)
    assert fake.active("a") == [racer]


def test_a_racer_that_submitted_later_loses_its_job() -> None:
    fake = FakeGpulab()
    plan = plan_for(fake, [spec("a")])
    racing: list[str] = []
    fake.on_submit = lambda name: racing.append(fake.add(name, description=marker(spec(name), run_id="racer")))
    report = apply(fake, plan)
    assert report.ok
    ours = outcome(report, "a", Result.CREATED).created
    assert fake.active("a") == [ours]
    assert outcome(report, "a", Result.DEDUPLICATED).cancelled == tuple(racing)


def test_a_duplicate_the_racer_already_cancelled_counts_as_done() -> None:
    fake = FakeGpulab()
    plan = plan_for(fake, [spec("a")])
    fake.add("a", description=marker(spec("a"), run_id="racer"))
    ours = str(len(fake.jobs)).zfill(8) + "-0000-0000-0000-000000000000"
    fake.cancel_faults[ours] = [ALREADY_ENDED]
    report = apply(fake, plan)
    assert report.ok and outcome(report, "a", Result.DEDUPLICATED).cancelled == (ours,)


def test_a_protected_duplicate_that_appeared_since_the_plan_is_left_and_reported() -> None:
    fake = FakeGpulab()
    plan = plan_for(fake, [spec("a", protect=True)])
    fake.add("a", description=marker(spec("a"), run_id="racer", protect=True))
    report = apply(fake, plan)
    assert not report.ok
    failed = outcome(report, "a", Result.FAILED)
    assert "--cancel-protected a" in (failed.error or "")
    assert len(fake.active("a")) == 2  # a person decides


def test_after_many_ambiguous_posts_apply_lists_once_not_once_per_post() -> None:
    names = [f"j{i}" for i in range(20)]
    fake = FakeGpulab(submit_faults={name: [COMMIT_THEN_DROP if i % 2 else DROP] for i, name in enumerate(names)})
    report = apply(fake, plan_for(fake, [spec(name) for name in names]))
    assert report.ok, report.outcomes
    assert fake.calls.count(("list", "")) == 2  # one to find the unsure submissions, one to verify
    assert all(len(fake.active(name)) == 1 for name in names)
    assert sum(outcome(report, name).recovered for name in names) == 10


def test_a_second_ambiguous_post_is_settled_by_the_verification_listing() -> None:
    fake = FakeGpulab(submit_faults={"a": [DROP, COMMIT_THEN_DROP]})
    report = apply(fake, plan_for(fake, [spec("a")]))
    assert report.ok and outcome(report, "a").recovered
    assert fake.calls.count(("submit", "a")) == 2 and len(fake.active("a")) == 1


def test_a_cancel_whose_answer_was_lost_is_reported_done() -> None:
    fake = FakeGpulab()
    gone = fake.add("gone", description=marker(spec("gone")), status="RUNNING")
    fake.cancel_faults[gone] = [LOST_CANCEL_ANSWER]
    report = apply(fake, allowing_empty(plan_for(fake, [])))
    assert report.ok and outcome(report, "gone").cancelled == (gone,)


def test_a_cancel_that_really_failed_is_reported_failed() -> None:
    fake = FakeGpulab()
    fake.add("gone", description=marker(spec("gone")), status="RUNNING", user_urn="urn:publicid:IDN+x+user+other")
    report = apply(fake, allowing_empty(plan_for(fake, [])))
    assert not report.ok and "another user" in (outcome(report, "gone").error or "")


def test_racers_beyond_a_v3_listing_cap_still_converge_on_one_job_per_name() -> None:
    """GPULab v3.x lists only the newest 200 jobs of a status: four racers of 100 jobs leave 400 QUEUED ones.
    Verification cancels the listed newer duplicates round by round until the listing is complete."""
    names = [f"j{i:03d}" for i in range(100)]
    fake = FakeGpulab(queued_cap=200)
    plan = plan_for(fake, [spec(name) for name in names])
    for racer in ("r1", "r2", "r3"):  # three racers submitted first: their jobs are the oldest
        for name in names:
            fake.add(name, description=marker(spec(name), run_id=racer))
    report = apply(fake, plan, parallelism=8)
    assert report.ok, [o for o in report.outcomes if not o.ok][:3]
    assert all(len(fake.active(name)) == 1 for name in names)
    first = {name: next(uuid for uuid, job in fake.jobs.items() if job["name"] == name) for name in names}
    assert all(fake.active(name) == [first[name]] for name in names)  # the oldest survives, unlisted or not
    assert fake.calls.count(("list", "")) > 2  # it listed again as the QUEUED jobs shrank


def test_a_partial_listing_never_cancels_the_oldest_job_it_cannot_see() -> None:
    fake = FakeGpulab(queued_cap=2)
    plan = plan_for(fake, [spec("a")])
    oldest = fake.add("a", description=marker(spec("a"), run_id="r1"))
    fake.add("a", description=marker(spec("a"), run_id="r2"))
    report = apply(fake, plan)
    assert report.ok
    assert fake.active("a") == [oldest]
