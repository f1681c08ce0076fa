"""Complete listings under v3.x's 200-job cap, and v4.0's pages fetched without extra round trips."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from gpulab_apply.emulator import RunningEmulator
from gpulab_apply.errors import TruncatedListingError
from gpulab_apply.gpulab.client import GpulabClient
from gpulab_apply.gpulab.listing import list_v4, set_filter
from gpulab_apply.gpulab.local import local_identity
from gpulab_apply.jobmodel.status import JobStatus
from tests.fixtures.jobs import PROJECT_URN, make_job

OTHER_USER = "urn:publicid:IDN+ilabt.imec.be+user+other"


#: a job of the project the emulator's local user is in
job = functools.partial(make_job, project_urn=PROJECT_URN)


def local_client(emulator: RunningEmulator, version: str = "3.1") -> GpulabClient:
    return GpulabClient(emulator.api_root(version), api_version=version, identity=local_identity())


def test_v3_status_at_the_cap_is_narrowed_to_the_users_own_jobs(emulator: RunningEmulator) -> None:
    # Racing applies of a colleague fill one status beyond the cap; our own jobs must all be seen.
    emulator.seed_jobs([job(f"theirs-{i}") for i in range(250)], status="FINISHED", user_urn=OTHER_USER)
    mine = set(emulator.seed_jobs([job(f"mine-{i}") for i in range(30)], status="FINISHED"))
    with local_client(emulator) as client:
        listing = client.list_jobs()
    assert mine <= {j.uuid for j in listing}
    assert listing.partial == frozenset() and listing.others_partial == {JobStatus.FINISHED}


def test_v3_own_status_at_the_cap_is_partial_only_when_asked(emulator: RunningEmulator) -> None:
    emulator.seed_jobs([job(f"dup-{i % 100}") for i in range(300)], status="ONHOLD")
    emulator.seed_jobs([job(f"done-{i}") for i in range(5)], status="FINISHED")
    with local_client(emulator) as client:
        with pytest.raises(TruncatedListingError, match="at least that many ONHOLD jobs"):
            client.list_jobs()
        listing = client.list_jobs(allow_partial=True)
    assert listing.partial == {JobStatus.ONHOLD} and listing.may_miss_own_jobs
    # what it holds is real: the 200 ONHOLD jobs it could see, and every other status complete
    assert sum(j.status is JobStatus.ONHOLD for j in listing) == 200
    assert sum(j.status is JobStatus.FINISHED for j in listing) == 5


def test_v3_without_an_identity_cannot_narrow_to_own_jobs(emulator: RunningEmulator) -> None:
    emulator.seed_jobs([job(f"theirs-{i}") for i in range(200)], status="FAILED", user_urn=OTHER_USER)
    with GpulabClient(emulator.api_root("3.1"), api_version="3.1") as client, \
            pytest.raises(TruncatedListingError, match="FAILED"):
        client.list_jobs()


class CountingFetch:
    """Pages of a fixed list of jobs, as a server with a page-size cap answers them; counts requests."""

    def __init__(self, total: int, *, cap: int = 1000) -> None:
        self.jobs = [{"uuid": f"u{i}"} for i in range(total)]
        self.cap = cap
        self.pages: list[int] = []

    def __call__(self, params: Any) -> list[dict[str, Any]]:
        size = min(int(params["page_size"]), self.cap)
        page = int(params["page"])
        self.pages.append(page)
        assert "max_hours" not in params
        return self.jobs[(page - 1) * size: page * size]


@pytest.mark.parametrize(("total", "cap", "requests"), [
    (0, 1000, 2), (30, 1000, 2), (499, 1000, 2), (500, 1000, 2), (1000, 1000, 6), (2600, 1000, 6), (4600, 1000, 10),
    (250, 100, 6),  # a server capping pages at 100: short pages are not the end
])
def test_v4_paging_reads_everything_in_few_round_trips(total: int, cap: int, requests: int) -> None:
    fetch = CountingFetch(total, cap=cap)
    items = list_v4(fetch, {}, page_size=500, parallel=4)
    assert [item["uuid"] for item in items] == [f"u{i}" for i in range(total)]
    assert len(fetch.pages) == requests


@pytest.mark.parametrize("version", ["3.1", "4.0"])
def test_a_sets_listing_is_this_users_jobs_in_every_project(emulator: RunningEmulator, version: str) -> None:
    """docs/plan-apply.md#projects: a job file may name any project, so the set's listing filters by user only;
    another user's full statuses cost no narrowing at all."""
    other_project = "urn:publicid:IDN+ilabt.imec.be+project+visionlab"
    emulator.seed_jobs([job(f"theirs-{i}") for i in range(250)], status="FINISHED", user_urn=OTHER_USER)
    mine = set(emulator.seed_jobs([job(f"here-{i}") for i in range(3)], status="QUEUED"))
    mine |= set(emulator.seed_jobs([job(f"there-{i}") for i in range(3)], status="FINISHED",
                                   project_urn=other_project))
    requests: list[dict[str, Any]] = []
    with local_client(emulator, version) as client:
        fetch = client._list_request

        def counted(params: Any) -> list[dict[str, Any]]:
            requests.append(dict(params))
            return fetch(params)

        client._list_request = counted  # type: ignore[method-assign]
        listing = client.list_jobs(**set_filter(user_urn=local_identity().user_urn, project_urn=PROJECT_URN))
    assert {j.uuid for j in listing} == mine and not listing.partial and not listing.others_partial
    assert all(r["user_urn"] == local_identity().user_urn and "project_urn" not in r for r in requests)
    assert len(requests) == (1 if version == "3.1" else 2)  # v4.0 asks for pages 1 and 2 together


def test_v3_a_users_own_status_over_the_cap_in_several_projects_is_partial(emulator: RunningEmulator) -> None:
    other_project = "urn:publicid:IDN+ilabt.imec.be+project+visionlab"
    emulator.seed_jobs([job(f"a-{i}") for i in range(150)], status="CANCELLED")
    emulator.seed_jobs([job(f"b-{i}") for i in range(150)], status="CANCELLED", project_urn=other_project)
    with local_client(emulator) as client:
        listing = client.list_jobs(**set_filter(user_urn=local_identity().user_urn, project_urn=None),
                                   allow_partial=True)
    assert listing.partial == {JobStatus.CANCELLED}
    assert sum(j.status is JobStatus.CANCELLED for j in listing) == 200
