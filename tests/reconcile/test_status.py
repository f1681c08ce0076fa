"""status_rows: the jobs of one set matched to their files, plus desired names never submitted."""

from __future__ import annotations

from datetime import UTC, datetime

from gpulab_apply.model import JobSpec
from gpulab_apply.problems import Location
from gpulab_apply.reconcile.marker import Marker
from gpulab_apply.reconcile.planner import desired_spec_hash
from gpulab_apply.reconcile.status import status_rows
from tests.fake_gpulab import PROJECT, USER, FakeGpulab

SET = "lab"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def spec(name: str, *, gpus: int = 1) -> JobSpec:
    job = {"name": name, "request": {"resources": {"cpus": 1, "gpus": gpus, "cpuMemoryGb": 4},
                                     "docker": {"image": "debian:stable"}}}
    return JobSpec(name=name, job=job, location=Location(f"jobs.d/{name}.yaml", 3, 1))


def described(of: JobSpec, set_name: str = SET) -> str:
    return f"prose\n{Marker(set_name=set_name, spec=desired_spec_hash(of, PROJECT), run_id='r')}"


def rows_of(fake: FakeGpulab, desired: list[JobSpec],
            every_run: bool = False) -> dict[str, list[tuple[str | None, bool | None]]]:
    rows = status_rows(desired, fake.list_jobs(), set_name=SET, project_urn=PROJECT, now=NOW, user_urn=USER,
                       every_run=every_run)
    found: dict[str, list[tuple[str | None, bool | None]]] = {}
    for row in rows:
        found.setdefault(row.name, []).append((row.job.status.name if row.job else None, row.in_sync))
    return found


def test_rows_match_files_and_say_whether_in_sync() -> None:
    fake = FakeGpulab()
    fake.add("a", description=described(spec("a")), status="RUNNING", request={"resources": {"gpus": 2}})
    fake.add("b", description=described(spec("b", gpus=1)), status="FINISHED")
    fake.add("gone", description=described(spec("gone")), status="QUEUED")
    rows = status_rows([spec("a"), spec("b", gpus=2), spec("new")], fake.list_jobs(), set_name=SET,
                       project_urn=PROJECT, now=NOW, user_urn=USER)
    by_name = {row.name: row for row in rows}
    assert [row.name for row in rows] == ["a", "b", "gone", "new"]
    assert by_name["a"].in_sync is True and by_name["a"].gpus == 2
    assert by_name["a"].source == Location("jobs.d/a.yaml", 3, 1)
    assert by_name["b"].in_sync is False
    assert by_name["gone"].source is None and by_name["gone"].in_sync is None
    assert by_name["new"].job is None and by_name["new"].gpus == 1
    assert by_name["a"].age_seconds is not None and by_name["a"].age_seconds > 3600


def test_other_sets_hand_submitted_jobs_and_other_users_jobs_are_not_rows() -> None:
    fake = FakeGpulab()
    fake.add("a", description=described(spec("a"), set_name="other"))
    fake.add("a", description="submitted by hand")
    fake.add("a", description=described(spec("a")), user_urn="urn:publicid:IDN+ilabt.imec.be+user+alice")
    assert rows_of(fake, [spec("a")]) == {"a": [(None, None)]}


def test_the_current_run_is_the_row_and_every_run_is_a_row_oldest_first_on_request() -> None:
    fake = FakeGpulab()
    fake.add("a", description=described(spec("a", gpus=2)), status="FAILED")
    fake.add("a", description=described(spec("a")), status="QUEUED")
    assert rows_of(fake, [spec("a")]) == {"a": [("QUEUED", True)]}
    assert rows_of(fake, [spec("a")], every_run=True) == {"a": [("FAILED", False), ("QUEUED", True)]}
