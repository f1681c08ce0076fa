"""The current run of a name over generated histories (docs/plan-apply.md#the-current-run-and-history): a finished
run of the current spec is done whatever came after it, a duplicate cancelled while an older twin ran is never
the current run, and a job in another project is not a run of the file that names this one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from gpulab_apply.jobmodel.status import JobStatus
from gpulab_apply.model import RemoteJob
from gpulab_apply.reconcile.marker import Marker, parse_marker
from gpulab_apply.reconcile.planner import Action, PlanOptions, Reason, build_plan, desired_spec_hash
from gpulab_apply.reconcile.runs import cancelled_duplicates, current_run
from tests.reconcile.test_planner import PROJECT, SET, spec

OTHER_PROJECT = "urn:publicid:IDN+ilabt.imec.be+project+q"
USER = "urn:publicid:IDN+ilabt.imec.be+user+jdoe"
START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
FINAL = ["FINISHED", "FAILED", "CANCELLED", "HALTED"]


@dataclass(frozen=True)
class Run:
    """One job of the set in a generated history: when it was created and ended (minutes), its spec and project."""

    created: int
    ended: int | None
    status: str
    current_spec: bool
    project: str


def job(run: Run, index: int) -> RemoteJob:
    spec_hash = desired_spec_hash(spec(), PROJECT) if run.current_spec else "0" * 16
    times = {"created": _time(run.created)}
    if run.ended is not None:
        times[run.status] = times["statusUpdated"] = _time(run.ended)
    return RemoteJob.from_json({
        "uuid": f"{index:08d}-0000-0000-0000-000000000000", "name": "train",
        "description": str(Marker(set_name=SET, spec=spec_hash, run_id="r")),
        "request": {}, "owner": {"projectUrn": run.project, "userUrn": USER},
        "state": {"status": run.status, "eventTimes": times},
    })


def _time(minute: int) -> str:
    return (START + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")


@st.composite
def histories(draw: st.DrawFn) -> list[RemoteJob]:
    runs = []
    for _ in range(draw(st.integers(1, 6))):
        created = draw(st.integers(0, 50))
        status = draw(st.sampled_from([*FINAL, "QUEUED", "RUNNING"]))
        ended = created + draw(st.integers(0, 30)) if status in FINAL else None
        runs.append(Run(created, ended, status, draw(st.booleans()),
                        draw(st.sampled_from([PROJECT, PROJECT, OTHER_PROJECT]))))
    return [job(run, index) for index, run in enumerate(runs)]


def markers(jobs: list[RemoteJob]) -> dict[str, Marker | None]:
    return {job.uuid: parse_marker(job.description) for job in jobs}


def is_run(job: RemoteJob) -> bool:
    marker = parse_marker(job.description)
    return marker is not None and marker.spec == desired_spec_hash(spec(), PROJECT) \
        and job.owner["projectUrn"] == PROJECT


@given(histories(), st.booleans())
def test_a_finished_run_of_the_current_spec_is_done_whatever_came_after(jobs: list[RemoteJob],
                                                                       rerun_failed: bool) -> None:
    plan = build_plan([spec()], jobs, set_name=SET,
                      options=PlanOptions(project_urn=PROJECT, user_urn=USER, rerun_failed=rerun_failed))
    [entry] = plan.entries
    if not any(job.status.is_active for job in jobs) and any(
            is_run(job) and job.status is JobStatus.FINISHED for job in jobs):
        assert (entry.action, entry.reason) == (Action.NONE, Reason.FINISHED)
        assert entry.current is not None and entry.current.status is JobStatus.FINISHED and is_run(entry.current)
    if entry.action is Action.NONE and entry.reason is Reason.IN_SYNC:
        assert entry.current is not None and is_run(entry.current)  # never a job of another project


@given(histories())
def test_a_cancelled_duplicate_is_never_the_current_run(jobs: list[RemoteJob]) -> None:
    found = markers(jobs)
    duplicates = cancelled_duplicates(jobs, found)
    assert all(job.status is JobStatus.CANCELLED for job in jobs if job.uuid in duplicates)
    oldest = min(jobs, key=lambda job: (job.created, job.uuid))
    assert oldest.uuid not in duplicates  # the survivor of a race is the oldest: never a duplicate
    current = current_run(jobs, carries=is_run, duplicates=duplicates)
    assert current is not None and current.uuid not in duplicates
    plan = build_plan([spec()], jobs, set_name=SET, options=PlanOptions(project_urn=PROJECT, user_urn=USER))
    assert plan.entries[0].current is None or plan.entries[0].current.uuid not in duplicates


def test_a_duplicate_is_cancelled_while_its_older_twin_runs_and_a_later_rerun_is_not() -> None:
    survivor = job(Run(0, 20, "FINISHED", True, PROJECT), 1)
    duplicate = job(Run(0, 1, "CANCELLED", True, PROJECT), 2)
    rerun = job(Run(30, 31, "CANCELLED", True, PROJECT), 3)  # after the survivor ended: a run of its own
    jobs = [survivor, duplicate, rerun]
    assert cancelled_duplicates(jobs, markers(jobs)) == {duplicate.uuid}
