"""``GET jobs``: shapes per API version, GPULab's caps, paging, filters and order."""

from __future__ import annotations

import pytest
import requests

from gpulab_apply.emulator import RunningEmulator
from tests.emulator.test_api import TIMEOUT, submit
from tests.fixtures.jobs import PROJECT_URN, make_job

OTHER_PROJECT = "urn:publicid:IDN+ilabt.imec.be+project+other"
OTHER_USER = "urn:publicid:IDN+ilabt.imec.be+user+alice"


def names(emulator: RunningEmulator, version: str = "3.1", **params: object) -> list[str]:
    response = requests.get(emulator.api_root(version) + "jobs", params=params, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    body = response.json()
    items = body["items"] if version == "4.0" else body
    return [job["name"] for job in items]


def test_v3_is_a_bare_array_and_v4_an_items_object(emulator: RunningEmulator) -> None:
    submit(emulator)
    v3 = requests.get(emulator.api_root("3.0") + "jobs", timeout=TIMEOUT).json()
    v4 = requests.get(emulator.api_root("4.0") + "jobs", timeout=TIMEOUT).json()
    assert isinstance(v3, list) and len(v3) == 1
    assert list(v4) == ["items"] and len(v4["items"]) == 1
    assert "tallyIncrement" not in v3[0]["state"]["scheduling"]
    assert "tallyIncrement" in v4["items"][0]["state"]["scheduling"]


def test_newest_first(emulator: RunningEmulator) -> None:
    for index in range(3):
        submit(emulator, make_job(f"job{index}"), hold=True)
        emulator.advance(1)
    assert names(emulator) == ["job2", "job1", "job0"]


def test_v3_caps_max_count(emulator: RunningEmulator) -> None:
    emulator.seed_jobs([make_job(f"job{index:03}") for index in range(250)], status="FINISHED")
    assert len(names(emulator)) == 10  # GPULab's default
    assert len(names(emulator, max_count=50)) == 50
    assert len(names(emulator, max_count=1000)) == 200  # GPULab's maximum
    response = requests.get(emulator.api_root() + "jobs", params={"max_count": "lots"}, timeout=TIMEOUT)
    assert (response.status_code, response.text) == (400, ("Query parameter max_count must be an integer, "
                                                           "not 'lots'\n"))


def test_v3_max_hours_window(emulator: RunningEmulator) -> None:
    emulator.seed_job(make_job("old"), status="FINISHED", created=emulator.clock.now() - 13 * 3600)
    emulator.seed_job(make_job("ancient"), status="FINISHED", created=emulator.clock.now() - 745 * 3600)
    emulator.seed_job(make_job("recent"), status="FINISHED")
    assert names(emulator) == ["recent"]  # default 12 hours
    assert names(emulator, max_hours=14) == ["recent", "old"]
    assert names(emulator, max_hours=5000) == ["recent", "old"]  # capped at 744 hours
    assert names(emulator, "4.0") == ["recent", "old", "ancient"]  # v4.0: no window unless asked


@pytest.mark.slow
def test_v4_pages(emulator: RunningEmulator) -> None:
    emulator.seed_jobs([make_job(f"job{index:04}") for index in range(1200)], status="FINISHED")
    assert len(names(emulator, "4.0")) == 50
    first = names(emulator, "4.0", page_size=1000)
    second = names(emulator, "4.0", page_size=1000, page=2)
    assert (len(first), len(second)) == (1000, 200)
    assert first[0] == "job1199" and second[-1] == "job0000"
    assert len(names(emulator, "4.0", page_size=5000)) == 1000


def test_state_groups_and_allowed_states(emulator: RunningEmulator) -> None:
    submit(emulator, make_job("held"), hold=True)
    submit(emulator, make_job("queued", gpus=5))  # fits on no node
    submit(emulator, make_job("running", runtime="1 hour"))
    emulator.advance(15)
    submit(emulator, make_job("assigned"))
    emulator.advance(2)
    emulator.seed_job(make_job("done"), status="FINISHED")
    emulator.seed_job(make_job("gone"), status="DELETED")
    # by default GPULab lists the pending, running and finished groups: neither ASSIGNED nor DELETED
    assert sorted(names(emulator)) == ["done", "held", "queued", "running"]
    assert sorted(names(emulator, "4.0")) == ["done", "held", "queued", "running"]
    assert sorted(names(emulator, pending="true")) == ["held", "queued"]
    assert sorted(names(emulator, pending="true", finished="")) == ["done", "held", "queued"]
    assert names(emulator, running="1") == ["running"]
    assert names(emulator, finished="yes") == ["done"]
    assert names(emulator, deleted="true") == ["gone"]
    assert names(emulator, allowed_states="ASSIGNED") == ["assigned"]
    assert sorted(names(emulator, allowed_states="onhold,On Hold,finished")) == ["done", "held"]
    response = requests.get(emulator.api_root() + "jobs", params={"allowed_states": "SLEEPING"}, timeout=TIMEOUT)
    assert (response.status_code, response.text) == (400, "allowed_states: unknown status 'SLEEPING'\n")


def test_user_and_project_filters(emulator: RunningEmulator) -> None:
    submit(emulator, make_job("mine"))
    emulator.seed_job(make_job("theirs"), user_urn=OTHER_USER, user_email="alice@example.com")
    emulator.seed_job(make_job("elsewhere"), project_urn=OTHER_PROJECT)
    assert sorted(names(emulator)) == ["elsewhere", "mine", "theirs"]
    assert sorted(names(emulator, user_urn="urn:publicid:IDN+ilabt.imec.be+user+local")) == ["elsewhere", "mine"]
    assert names(emulator, user_name="alice") == ["theirs"]
    assert sorted(names(emulator, project_urn=PROJECT_URN)) == ["mine", "theirs"]
    assert names(emulator, project_name="other") == ["elsewhere"]
    assert names(emulator, projectname="othe") == []


@pytest.mark.parametrize("version", ["3.1", "4.0"])
def test_unknown_parameters_are_ignored(emulator: RunningEmulator, version: str) -> None:
    submit(emulator, make_job("x"))
    assert names(emulator, version, other_user_running="True", sort="-created") == ["x"]


def test_cluster_filter(emulator: RunningEmulator) -> None:
    submit(emulator, make_job("placed", runtime="1 hour"))
    submit(emulator, make_job("waiting"), hold=True)
    emulator.advance(20)
    assert names(emulator, cluster_id="1") == ["placed"]
    assert names(emulator, cluster_id="7,8") == []
    response = requests.get(emulator.api_root() + "jobs", params={"cluster_id": "one"}, timeout=TIMEOUT)
    assert (response.status_code, response.text) == (400, ("Query parameter cluster_id must be integers, "
                                                           "not 'one'\n"))


def uuids(emulator: RunningEmulator, **params: object) -> list[str]:
    response = requests.get(emulator.api_root("4.0") + "jobs", params={"page_size": 10, **params}, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    return [job["uuid"] for job in response.json()["items"]]


@pytest.mark.parametrize("change", ["new jobs come in", "a job of page 1 leaves"])
def test_a_listing_after_a_change_does_not_continue_an_earlier_one(emulator: RunningEmulator, change: str) -> None:
    stored = emulator.seed_jobs([make_job(f"job{index:02}") for index in range(30)], status="FINISHED")
    assert uuids(emulator, page=1) + uuids(emulator, page=2) == stored[::-1][:20]  # a listing: its pages' ends known
    if change == "new jobs come in":
        emulator.seed_jobs([make_job(f"new{index}") for index in range(4)], status="FINISHED",
                           created=emulator.clock.now() + 1)
    else:
        response = requests.delete(emulator.api_root("4.0") + f"jobs/{stored[-4]}", params={"finished": "true"},
                                   timeout=TIMEOUT)
        assert response.status_code == 200, response.text
    # A new listing fetches pages 2 and 1 together, and page 2 is answered first: continuing after the
    # earlier listing's page 1 would hide the jobs that the change moved onto page 2.
    second, first = uuids(emulator, page=2), uuids(emulator, page=1)
    third = uuids(emulator, page=3) + uuids(emulator, page=4)
    listed = first + second + third
    expected = sorted(stored + (listed[:4] if change == "new jobs come in" else []))
    if change != "new jobs come in":
        expected.remove(stored[-4])
    assert sorted(listed) == expected and len(listed) == len(set(listed))


def test_v4_pages_can_be_read_in_any_order(emulator: RunningEmulator) -> None:
    # seeded together, all 45 jobs share one creation time: the order within it is the submission order
    stored = emulator.seed_jobs([make_job(f"job{index:02}") for index in range(45)], status="FINISHED")
    newest_first = stored[::-1]
    assert uuids(emulator, page=3) == newest_first[20:30]  # no page read before
    assert uuids(emulator, page=5) == newest_first[40:]  # two pages after the last known end
    assert uuids(emulator, page=1) == newest_first[:10]
    assert uuids(emulator, page=4) == newest_first[30:40]
    assert uuids(emulator, page=2) == newest_first[10:20]
    assert uuids(emulator, page=6) == []
    assert uuids(emulator, page=2, page_size=7) == newest_first[7:14]


def test_v4_listings_with_other_filters_keep_their_own_place(emulator: RunningEmulator) -> None:
    emulator.seed_jobs([make_job(f"done{index:02}") for index in range(25)], status="FINISHED")
    held = emulator.seed_jobs([make_job(f"held{index:02}") for index in range(15)], status="ONHOLD")
    assert uuids(emulator, page=1, allowed_states="ONHOLD") == held[::-1][:10]
    assert len(uuids(emulator, page=1)) == 10
    assert uuids(emulator, page=2, allowed_states="ONHOLD") == held[::-1][10:]
