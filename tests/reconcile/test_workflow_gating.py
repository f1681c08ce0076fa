"""Workflow gating as a property of the pure plan (docs/workflows.md), over generated pipelines and listings:
nothing is submitted before what it needs has FINISHED (``when: always``: ended), a waiting or blocked job
says on what, and a sweep's max-parallel is never exceeded by what one plan submits."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpulab_apply.errors import GuardError, RemoteError
from gpulab_apply.jobmodel.status import JobStatus
from gpulab_apply.model import JobSpec, RemoteJob, Workflow
from gpulab_apply.problems import Location
from gpulab_apply.reconcile.executor import ApplyOptions, Result, execute
from gpulab_apply.reconcile.loop import reconcile
from gpulab_apply.reconcile.marker import Marker
from gpulab_apply.reconcile.plan import Action, Plan, PlanEntry, PlanOptions, Reason
from gpulab_apply.reconcile.planner import build_plan
from gpulab_apply.reconcile.workflow import spec_hashes
from tests.fake_gpulab import PROJECT, FakeGpulab

STATES = [None, "QUEUED", "RUNNING", "FINISHED", "FAILED", "CANCELLED"]


@st.composite
def pipelines(draw: st.DrawFn) -> tuple[list[JobSpec], list[RemoteJob]]:
    count = draw(st.integers(2, 10))
    cap = draw(st.one_of(st.none(), st.integers(1, 3)))
    specs = []
    for index in range(count):
        in_sweep = draw(st.booleans())
        # members need nothing half the time, so that throttling, not needs, decides for many of them
        needy = index and (not in_sweep or draw(st.booleans()))
        needs = tuple(sorted(draw(st.sets(st.integers(0, index - 1), max_size=2)) if needy else ()))
        specs.append(JobSpec(
            name=f"j{index}", job={"name": f"j{index}", "request": {"docker": {"image": f"i{index}"}}},
            location=Location("jobs.d/a.yaml"), sweep="sw" if in_sweep else None,
            workflow=Workflow(needs=tuple(f"j{n}" for n in needs), always=draw(st.booleans()),
                              retries=draw(st.integers(0, 2)), max_parallel=cap if in_sweep else None)))
    hashes = spec_hashes(specs, None)
    remote = []
    for index, spec in enumerate(specs):
        state = draw(st.sampled_from(STATES))
        if state is None:
            continue
        current = draw(st.booleans())  # a run of the current spec, or of an older one
        spec_ = hashes[spec.name].current if current else "0" * 16
        marker = Marker(set_name="s", spec=spec_, run_id="r", attempt=draw(st.integers(1, 3)))
        remote.append(RemoteJob.from_json(_job(spec.name, index, state, str(marker))))
    return specs, remote


def _job(name: str, index: int, state: str, description: str) -> dict[str, Any]:
    times = {"created": f"2026-01-01T00:00:{index:02d}Z"}
    if JobStatus.parse(state).is_final:
        times[state] = "2026-01-01T01:00:00Z"
    return {"uuid": f"00000000-0000-0000-0000-{index:012d}", "name": name, "description": description,
            "state": {"status": state, "eventTimes": times}, "request": {}, "owner": {}}


@pytest.mark.slow  # over a second on 2 cores (docs: README, Development)
@settings(max_examples=300)  # pure: a plan of at most 10 jobs, 3 ms each
@given(pipelines())
def test_nothing_is_submitted_before_its_needs_finished(case: tuple[list[JobSpec], list[RemoteJob]]) -> None:
    specs, remote = case
    plan = build_plan(specs, remote, set_name="s", options=PlanOptions())
    entries = {entry.name: entry for entry in plan.entries}
    by_name = {spec.name: spec for spec in specs}
    for entry in plan.entries:
        spec = by_name.get(entry.name)
        if spec is None:
            continue
        if entry.action in (Action.CREATE, Action.REPLACE):
            for need in spec.workflow.needs:
                upstream = entries[need]
                assert upstream.action is Action.NONE, (entry, upstream)
                ended = {Reason.FINISHED} | ({Reason.FAILED, Reason.CANCELLED, Reason.EXHAUSTED}
                                             if spec.workflow.always else set())
                assert upstream.reason in ended, (entry.name, need, upstream.reason)
        if entry.action is Action.WAIT or entry.reason is Reason.BLOCKED:
            assert entry.waits_for and entry.then in (Action.CREATE, Action.REPLACE), entry
    cap = next((spec.workflow.max_parallel for spec in specs if spec.workflow.max_parallel), None)
    if cap is not None:
        members = [entries[spec.name] for spec in specs if spec.sweep == "sw"]
        active = sum(1 for e in members if e.action is Action.REPLACE or (
            e.action is not Action.CANCEL and e.current is not None and e.current.status.is_active))
        creates = sum(1 for e in members if e.action is Action.CREATE)
        assert creates <= max(0, cap - active)


def _duplicates_plan(count: int) -> Plan:
    entries = tuple(PlanEntry(name=f"j{i}", action=Action.CANCEL, reason=Reason.DUPLICATE,
                              cancel=(RemoteJob.from_json(_job(f"j{i}", i, "QUEUED", "")),)) for i in range(count))
    return Plan(set_name="s", entries=entries, options=PlanOptions(), remote_fingerprint="", desired_count=count,
                managed_active_count=count)


def test_the_loop_waits_for_racers_duplicates_then_a_persisting_refusal_ends_it() -> None:
    """Loops started together see each other's duplicates beyond --max-cancel for a moment: a round waits for
    the racers to cancel them; duplicates that stay are refused, as apply refuses them (exit 3)."""
    plans = iter([_duplicates_plan(11), _duplicates_plan(0)])
    rounds = list(reconcile(lambda: next(plans), lambda plan: pytest.fail("nothing to apply"), interval=0,
                            stop=threading.Event()))
    assert [r.note is not None for r in rounds] == [True, False] and rounds[-1].done
    with pytest.raises(GuardError, match="more than --max-cancel 10"):
        list(reconcile(lambda: _duplicates_plan(11), lambda plan: pytest.fail("refused"), interval=0,
                       stop=threading.Event()))


def test_the_loop_backs_off_on_errors_and_stops_when_asked() -> None:
    """Errors reaching GPULab are rounds of their own, each pause twice the last (up to MAX_BACKOFF); a stop
    request between rounds ends the loop at once."""
    answers: list[Plan | RemoteError] = [RemoteError("GPULab answered 503"), RemoteError("timed out"),
                                         _duplicates_plan(0)]
    pauses: list[float] = []

    def plan() -> Plan:
        answer = answers.pop(0)
        if isinstance(answer, RemoteError):
            raise answer
        return answer

    def pause(seconds: float) -> bool:
        pauses.append(seconds)
        return False

    rounds = list(reconcile(plan, lambda made: pytest.fail("nothing to apply"), interval=3, stop=threading.Event(),
                            wait=pause))
    assert [r.error is not None for r in rounds] == [True, True, False] and rounds[-1].done
    assert pauses == [6, 12]
    stop = threading.Event()
    forever = reconcile(lambda: _duplicates_plan(0), lambda made: pytest.fail("nothing to apply"), interval=3,
                        stop=stop, forever=True, wait=lambda seconds: stop.is_set())
    assert next(forever).done is False
    stop.set()
    assert list(forever) == []


def test_a_racers_retry_that_already_failed_is_kept_and_ours_cancelled() -> None:
    """Two applies retry attempt 1 at once; the racer's attempt 2 even FAILED before ours was verified: ours is
    the duplicate (one run per attempt), it is cancelled, and the next plan retries as attempt 3, not 2 again."""
    fake = FakeGpulab()
    desired = JobSpec(name="train", job={"name": "train", "request": {"docker": {"image": "debian:stable"}}},
                      location=Location("jobs.d/train.yaml", 1, 1), workflow=Workflow(retries=3))
    spec_ = spec_hashes([desired], PROJECT)["train"].current
    fake.add("train", description=str(Marker(set_name="lab", spec=spec_, run_id="first")), status="FAILED")
    options = PlanOptions(project_urn=PROJECT)
    plan = build_plan([desired], fake.list_jobs(), set_name="lab", options=options)
    (entry,) = plan.entries
    assert (entry.action, entry.reason, entry.attempt) == (Action.CREATE, Reason.RETRY, 2)
    fake.add("train", description=str(Marker(set_name="lab", spec=spec_, run_id="racer", attempt=2)),
             status="FAILED")
    report = execute(plan, fake, options=ApplyOptions(run_id="ours"))
    assert [o.result for o in report.outcomes] == [Result.CREATED, Result.DEDUPLICATED]
    assert fake.status_of("train") == ["FAILED", "FAILED", "CANCELLED"]
    (after,) = build_plan([desired], fake.list_jobs(), set_name="lab", options=options).entries
    assert (after.action, after.reason, after.attempt) == (Action.CREATE, Reason.RETRY, 3)
