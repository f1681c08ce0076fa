"""The simulated cluster and GPULab's status machine, on a manual clock."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import requests
from pytest import MonkeyPatch

from gpulab_apply.emulator import NodeConfig, RunningEmulator, serve_in_thread
from gpulab_apply.emulator.store import JobRecord, Store
from tests.emulator.test_api import TIMEOUT, get_job, put_status, status_of, submit
from tests.fixtures.emulator import MANUAL
from tests.fixtures.jobs import make_job


def statuses(emulator: RunningEmulator, *uuids: str) -> list[str]:
    return [status_of(emulator, uuid) for uuid in uuids]


def test_a_job_runs_through_every_status(emulator: RunningEmulator) -> None:
    uuid = submit(emulator, make_job(runtime="30 s"))
    seen = []
    for seconds in (0, 2, 3, 10, 29, 1):
        emulator.advance(seconds)
        seen.append(status_of(emulator, uuid))
    assert seen == ["QUEUED", "ASSIGNED", "STARTING", "RUNNING", "RUNNING", "FINISHED"]
    job = get_job(emulator, uuid)
    times = job["state"]["eventTimes"]  # type: ignore[index]
    assert [times[s] for s in ("QUEUED", "ASSIGNED", "STARTING", "RUNNING", "FINISHED")] == [
        "2026-01-05T09:00:00Z", "2026-01-05T09:00:02Z", "2026-01-05T09:00:05Z", "2026-01-05T09:00:15Z",
        "2026-01-05T09:00:45Z"]
    resources = job["state"]["resources"]  # type: ignore[index]
    assert (resources["slaveName"], resources["gpuIds"], resources["cpuIds"]) == ("gpu1", [0], [0])


def test_a_long_jump_in_time_replays_every_step(emulator: RunningEmulator) -> None:
    uuid = submit(emulator, make_job(runtime="1 min"))
    emulator.advance(3600)
    job = get_job(emulator, uuid)
    assert job["state"]["status"] == "FINISHED"  # type: ignore[index]
    assert job["state"]["eventTimes"]["FINISHED"] == "2026-01-05T09:01:15Z"  # type: ignore[index]


def test_non_zero_exit_code_fails_the_job(emulator: RunningEmulator) -> None:
    uuid = submit(emulator, make_job(runtime="10 s", exit_code=3))
    emulator.advance(30)
    assert status_of(emulator, uuid) == "FAILED"
    log = requests.get(emulator.api_root() + f"jobs/{uuid}/log", timeout=TIMEOUT).text
    assert log.endswith("[gpulab-emulator] exit code 3\n")


def test_jobs_wait_for_free_gpus(emulator: RunningEmulator) -> None:
    # two nodes of 4 GPUs: three 3-GPU jobs do not fit at once
    first, second, third = (submit(emulator, make_job(f"j{i}", gpus=3, runtime="100 s")) for i in range(3))
    emulator.advance(15)
    assert statuses(emulator, first, second, third) == ["RUNNING", "RUNNING", "QUEUED"]
    assert get_job(emulator, third)["state"]["scheduling"]["queuedExplanations"] == [  # type: ignore[index]
        "Not enough free resources too run this Job"]
    emulator.advance(100)
    assert statuses(emulator, first, second, third) == ["FINISHED", "FINISHED", "ASSIGNED"]
    assert get_job(emulator, third)["state"]["eventTimes"]["ASSIGNED"] == "2026-01-05T09:01:55Z"  # type: ignore[index]


def test_resource_constraints_pick_matching_nodes(emulator: RunningEmulator) -> None:
    impossible = {
        "model": make_job(resources={"gpuModel": ["V100"]}),
        "cluster": make_job(resources={"clusterId": 7}),
        "cuda": make_job(resources={"minCudaVersion": 13}),
        "size": make_job(gpus=5),
    }
    uuids = {name: submit(emulator, job) for name, job in impossible.items()}
    fits = submit(emulator, make_job(resources={"gpuModel": ["1080"], "clusterId": 1, "minCudaVersion": 12,
                                                "slaveName": "gpu2"}))
    emulator.advance(20)
    for uuid in uuids.values():
        job = get_job(emulator, uuid)
        assert job["state"]["status"] == "QUEUED"  # type: ignore[index]
        assert job["state"]["scheduling"]["queuedExplanations"] == [  # type: ignore[index]
            "No GPULab node matches the requested resources"]
    assert status_of(emulator, fits) == "RUNNING"
    assert get_job(emulator, fits)["state"]["resources"]["slaveName"] == "gpu2"  # type: ignore[index]


def test_not_before_and_not_after(emulator: RunningEmulator) -> None:
    later = submit(emulator, make_job(notBefore="2026-01-05T10:00:00Z"))
    expires = submit(emulator, make_job(gpus=5, notAfter="2026-01-05T09:30:00Z"))
    emulator.advance(3599)
    assert statuses(emulator, later, expires) == ["QUEUED", "FAILED"]
    assert get_job(emulator, expires)["state"]["eventTimes"]["FAILED"] == "2026-01-05T09:30:00Z"  # type: ignore[index]
    emulator.advance(1)
    assert status_of(emulator, later) == "ASSIGNED"


def test_max_simultaneous_jobs_caps_a_bucket(emulator: RunningEmulator) -> None:
    bucket = {"bucketName": "sweep", "bucketMax": 2}
    uuids = [submit(emulator, make_job(f"s{i}", gpus=0, runtime="60 s", maxSimultaneousJobs=bucket))
             for i in range(3)]
    emulator.advance(20)
    assert statuses(emulator, *uuids) == ["RUNNING", "RUNNING", "QUEUED"]
    emulator.advance(60)  # the first two end at 75 s, so the third is assigned then and starting at 80 s
    assert statuses(emulator, *uuids) == ["FINISHED", "FINISHED", "STARTING"]


def test_interactive_job_fails_when_it_cannot_start(emulator: RunningEmulator) -> None:
    blocker = [submit(emulator, make_job(gpus=4)) for _ in range(2)]
    interactive = submit(emulator, make_job(gpus=1, interactive=True))
    emulator.advance(5)
    assert statuses(emulator, *blocker, interactive) == ["STARTING", "STARTING", "FAILED"]


def test_halt_queues_a_restart_with_restart_info(emulator: RunningEmulator) -> None:
    uuid = submit(emulator, make_job("train", runtime="100 s", restartable=True))
    emulator.advance(15 + 40)
    assert put_status(emulator, uuid, "MUSTHALT").status_code == 200
    assert status_of(emulator, uuid) == "MUSTHALT"
    emulator.advance(5)
    assert status_of(emulator, uuid) == "HALTING"
    emulator.advance(5)
    assert status_of(emulator, uuid) == "HALTED"
    listing = requests.get(emulator.api_root() + "jobs", timeout=TIMEOUT).json()
    restart = listing[0]
    assert (restart["name"], restart["state"]["status"]) == ("train", "QUEUED")
    assert restart["restartInfo"] == {"initialJobUuid": uuid, "restartCount": 1}
    assert restart["state"]["eventTimes"]["created"] == "2026-01-05T09:01:05Z"
    # the restart continues the work: 60 s of the 100 s remain
    emulator.advance(15 + 59)
    assert status_of(emulator, restart["uuid"]) == "RUNNING"
    emulator.advance(1)
    assert status_of(emulator, restart["uuid"]) == "FINISHED"


def test_scheduler_halts_restartable_jobs_when_asked(emulator: RunningEmulator) -> None:
    uuid = submit(emulator, make_job("train", runtime="1 hour", halt_after="10 min", restartable=True))
    emulator.advance(15 + 600)
    job = get_job(emulator, uuid)
    assert job["state"]["status"] == "MUSTHALT"  # type: ignore[index]
    assert "haltEvents" not in job["state"]["scheduling"]  # type: ignore[index,operator]  # v6 only
    v4 = get_job(emulator, uuid, "4.0")
    assert v4["state"]["status"] == "MUST HALT"  # type: ignore[index]
    assert v4["state"]["scheduling"]["haltEvents"][0]["reason"] == "Score"  # type: ignore[index]


def test_max_duration_stops_a_job(emulator: RunningEmulator) -> None:
    uuid = submit(emulator, make_job(runtime="1 hour", maxDuration="10 min"))
    emulator.advance(15 + 600)
    assert status_of(emulator, uuid) == "FAILED"


def test_cancelling_frees_resources_for_queued_jobs(emulator: RunningEmulator) -> None:
    big = [submit(emulator, make_job(gpus=4, runtime="1 hour")) for _ in range(2)]
    waiting = submit(emulator, make_job(gpus=4))
    emulator.advance(20)
    assert status_of(emulator, waiting) == "QUEUED"
    put_status(emulator, big[0], "CANCELLED")
    assert status_of(emulator, waiting) == "ASSIGNED"


def test_the_oldest_waiting_job_takes_freed_room_first(emulator: RunningEmulator) -> None:
    running = [submit(emulator, make_job(f"run{i}", runtime="100 s")) for i in range(8)]  # fills both nodes
    emulator.advance(1)
    waiting = [submit(emulator, make_job(f"wait{i}")) for i in range(3)]
    emulator.advance(50)
    late = submit(emulator, make_job("late"))
    emulator.advance(2)  # `late` has had its first look: still no room
    assert statuses(emulator, *running) == ["RUNNING"] * 8
    assert statuses(emulator, *waiting, late) == ["QUEUED"] * 4
    put_status(emulator, running[0], "CANCELLED")
    put_status(emulator, running[1], "CANCELLED")
    assert statuses(emulator, *waiting, late) == ["ASSIGNED", "ASSIGNED", "QUEUED", "QUEUED"]


def test_a_write_does_not_reread_every_waiting_job(emulator: RunningEmulator, monkeypatch: MonkeyPatch) -> None:
    # 500 jobs wait for a GPU model no node has, beside free GPUs: each write looks at what is new, not at all 500
    waiting = emulator.seed_jobs([make_job(f"wait{index}", resources={"gpuModel": ["V100"]}) for index in range(500)],
                                 status="QUEUED")
    emulator.advance(5)
    assert statuses(emulator, waiting[0]) == ["QUEUED"]  # the simulation catches up on a request
    loaded = count_loaded_jobs(monkeypatch)
    fresh = [submit(emulator, make_job(f"more{index}", resources={"gpuModel": ["V100"]})) for index in range(5)]
    emulator.advance(3)
    assert statuses(emulator, *fresh) == ["QUEUED"] * 5
    assert 5 <= sum(loaded) <= 20


def test_a_release_does_not_reread_jobs_waiting_for_another_gpu_model(monkeypatch: MonkeyPatch) -> None:
    # one V100 (busy for an hour) and four GTX GPUs: 300 jobs wait for the V100 while GTX jobs come and go
    nodes = (NodeConfig(name="v100", gpus=1, gpu_model="Tesla V100-SXM2-32GB"),
             NodeConfig(name="gtx", gpus=4, gpu_model="NVIDIA GeForce GTX 1080 Ti"))
    with serve_in_thread(config=replace(MANUAL, nodes=nodes)) as emulator:
        v100 = {"gpuModel": ["V100"]}
        busy = submit(emulator, make_job("busy", runtime="1 hour", resources=v100))
        waiting = emulator.seed_jobs([make_job(f"wait{index}", resources=v100) for index in range(300)],
                                     status="QUEUED")
        short = [submit(emulator, make_job(f"gtx{index}", runtime="10 s", resources={"gpuModel": ["1080"]}))
                 for index in range(4)]
        emulator.advance(5)
        assert statuses(emulator, busy, *short, waiting[0]) == ["STARTING"] * 5 + ["QUEUED"]
        emulator.advance(25)  # the first release: its pass reads each waiting job once
        assert statuses(emulator, *short) == ["FINISHED"] * 4
        short = [submit(emulator, make_job(f"gtx-again{index}", runtime="10 s", resources={"gpuModel": ["1080"]}))
                 for index in range(4)]
        loaded = count_loaded_jobs(monkeypatch)
        for _ in range(3):  # three more rounds of GTX jobs finish, each a release and a full pass
            emulator.advance(25)
            assert statuses(emulator, *short) == ["FINISHED"] * 4
            short = [submit(emulator, make_job(f"gtx-more{index}", runtime="10 s", resources={"gpuModel": ["1080"]}))
                     for index in range(4)]
        assert statuses(emulator, waiting[0], waiting[-1]) == ["QUEUED", "QUEUED"]
        assert sum(loaded) < 100  # each later pass reads one waiting V100 job, not all 300


def count_loaded_jobs(monkeypatch: MonkeyPatch) -> list[int]:
    """From now on, how many job records each read of the store loads (the scheduler's cost), call by call."""
    loaded: list[int] = []
    load_where = Store.load_where

    def counting(*args: Any, **kwargs: Any) -> list[JobRecord]:
        records = load_where(*args, **kwargs)
        loaded.append(len(records))
        return records

    monkeypatch.setattr(Store, "load_where", staticmethod(counting))
    return loaded
