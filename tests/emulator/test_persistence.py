"""State lives in SQLite: a restarted server resumes with the same jobs and the same simulated time."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import requests

from gpulab_apply.emulator import open_emulator, serve_in_thread
from gpulab_apply.errors import ConfigError
from tests.emulator.test_api import TIMEOUT, get_job, status_of, submit
from tests.fixtures.emulator import MANUAL, make_job


def test_jobs_and_time_survive_a_restart(tmp_path: Path) -> None:
    database = tmp_path / "state" / "emulator.sqlite3"
    with serve_in_thread(db_path=database, config=MANUAL) as first:
        uuid = submit(first, make_job(runtime="60 s"))
        first.advance(20)
        assert status_of(first, uuid) == "RUNNING"
    with serve_in_thread(db_path=database, config=MANUAL) as second:
        job = get_job(second, uuid)
        assert job["state"]["status"] == "RUNNING"  # type: ignore[index]
        assert second.clock.now() == first.clock.now()
        second.advance(60)
        assert status_of(second, uuid) == "FINISHED"
        assert get_job(second, uuid)["state"]["eventTimes"]["FINISHED"] == "2026-01-05T09:01:15Z"  # type: ignore[index]


def test_concurrent_submissions_are_all_stored(tmp_path: Path) -> None:
    with serve_in_thread(db_path=tmp_path / "e.sqlite3", config=MANUAL) as emulator:
        uuids: list[str] = []
        lock = threading.Lock()

        def worker(index: int) -> None:
            with requests.Session() as session:
                for number in range(20):
                    response = session.post(emulator.api_root() + "jobs", json=make_job(f"w{index}-{number}"),
                                            timeout=TIMEOUT)
                    assert response.status_code == 200
                    with lock:
                        uuids.append(response.text)

        threads = [threading.Thread(target=worker, args=(index,)) for index in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(set(uuids)) == 160
        listing = requests.get(emulator.api_root("4.0") + "jobs", params={"page_size": 1000,
                                                                          "allowed_states": "QUEUED"},
                               timeout=TIMEOUT).json()["items"]
        assert sorted(job["uuid"] for job in listing) == sorted(uuids)


def test_refuses_non_loopback_addresses() -> None:
    with pytest.raises(ConfigError, match=r"refusing to serve the emulator on 0\.0\.0\.0"), \
            serve_in_thread(host="0.0.0.0", config=MANUAL):
        pass


def test_clock_resumes_after_the_latest_change_even_without_a_clean_stop(tmp_path: Path) -> None:
    database = tmp_path / "e.sqlite3"
    emulator = open_emulator(database, MANUAL)  # opened and never closed: as if the process were killed
    later = emulator.clock.now() + 7200
    emulator.seed([make_job("future")], status="FINISHED", created=later)
    emulator.store.close()
    assert open_emulator(database, MANUAL).clock.now() == later
