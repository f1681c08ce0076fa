"""The waiting logic (reconcile/waiting.py) on its own: current jobs, phases, timeouts. No server, no sleeping."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from gpulab_apply.jobmodel.status import JobStatus
from gpulab_apply.model import RemoteJob
from gpulab_apply.reconcile.marker import Marker
from gpulab_apply.reconcile.waiting import Phase, WaitFor, WaitState, current_jobs, phase, wait_for_jobs

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def job(name: str, status: str, *, minute: int = 0, set_name: str = "lab", uuid: str | None = None) -> RemoteJob:
    description = str(Marker(set_name=set_name, spec="0" * 16, run_id="20260105T090000Z-abcdef"))
    return RemoteJob(uuid=uuid or f"{name}-{minute}", name=name, description=description,
                     status=JobStatus.parse(status), created=T0 + timedelta(minutes=minute), request={}, owner={},
                     raw={})


def test_the_current_job_is_the_newest_of_this_set() -> None:
    halted, restart = job("a", "HALTED", minute=1), job("a", "QUEUED", minute=5)
    other_set = job("a", "RUNNING", minute=9, set_name="other")
    unmanaged = RemoteJob(uuid="u", name="a", description=None, status=JobStatus.RUNNING, created=T0 + timedelta(1),
                          request={}, owner={}, raw={})
    someone_else = dataclasses.replace(job("a", "RUNNING", minute=8), owner={"userUrn": "urn:other"})
    mine = [dataclasses.replace(j, owner={"userUrn": "urn:me"}) for j in (halted, restart)]
    assert current_jobs([halted, restart, other_set, unmanaged], set_name="lab", user_urn=None) == {"a": restart}
    assert current_jobs([*mine, someone_else], set_name="lab", user_urn="urn:me") == {"a": mine[1]}
    assert current_jobs([halted, job("b", "RUNNING")], set_name="lab", user_urn=None, names={"b"}) == {
        "b": job("b", "RUNNING")}


def test_phases() -> None:
    for status, running, done in (("QUEUED", Phase.WAITING, Phase.WAITING), ("STARTING", Phase.WAITING, Phase.WAITING),
                                  ("RUNNING", Phase.REACHED, Phase.WAITING), ("MUSTHALT", Phase.REACHED, Phase.WAITING),
                                  ("HALTED", Phase.WAITING, Phase.WAITING), ("FINISHED", Phase.REACHED, Phase.REACHED),
                                  ("FAILED", Phase.FAILED, Phase.FAILED), ("CANCELLED", Phase.FAILED, Phase.FAILED),
                                  ("CANCELLING", Phase.FAILED, Phase.FAILED), ("SOMETHING NEW", Phase.WAITING,
                                                                                Phase.WAITING)):
        assert phase(job("a", status), WaitFor.RUNNING) is running, status
        assert phase(job("a", status), WaitFor.DONE) is done, status
    assert phase(None, WaitFor.RUNNING) is Phase.FAILED  # vanished from the listing: deleted


class Script:
    """Listings in turn, and a clock that only the wait's own sleeps move."""

    def __init__(self, *listings: Sequence[RemoteJob]) -> None:
        self.listings = list(listings)
        self.now = 0.0
        self.sleeps: list[float] = []
        self.seen: list[WaitState] = []

    def list_jobs(self) -> Sequence[RemoteJob]:
        return self.listings.pop(0) if len(self.listings) > 1 else self.listings[0]

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def wait(self, names: Sequence[str], wait_for: WaitFor, timeout: float | None = None) -> WaitState:
        return wait_for_jobs(self.list_jobs, names=names, set_name="lab", user_urn=None, wait_for=wait_for,
                             timeout=timeout,
                             interval=5, on_update=self.seen.append, clock=lambda: self.now, sleep=self.sleep)


def test_waiting_follows_a_restart_until_it_runs() -> None:
    script = Script([job("a", "QUEUED"), job("b", "RUNNING")],
                    [job("a", "RUNNING", minute=0), job("b", "RUNNING")])
    state = script.wait(["a", "b"], WaitFor.RUNNING)
    assert state.settled and not state.failed and script.sleeps == [5]
    script = Script([job("a", "RUNNING")], [job("a", "HALTED")], [job("a", "HALTED"), job("a", "QUEUED", minute=3)],
                    [job("a", "HALTED"), job("a", "FINISHED", minute=3)])
    state = script.wait(["a"], WaitFor.DONE)
    assert [s.jobs["a"].status.name for s in script.seen if s.jobs["a"]] == ["RUNNING", "HALTED", "QUEUED", "FINISHED"]
    assert state.settled and state.jobs["a"] == job("a", "FINISHED", minute=3)


def test_a_failed_job_is_reported_once_all_have_settled() -> None:
    script = Script([job("a", "FAILED"), job("b", "QUEUED")], [job("a", "FAILED"), job("b", "FINISHED")])
    state = script.wait(["a", "b"], WaitFor.DONE)
    assert state.settled and state.failed == ["a"] and len(script.seen) == 2


def test_a_timeout_ends_the_wait_on_time() -> None:
    script = Script([job("a", "QUEUED")])
    state = script.wait(["a"], WaitFor.RUNNING, timeout=12)
    assert not state.settled and state.failed == []
    assert script.sleeps == [5, 5, 2] and state.elapsed == 12
