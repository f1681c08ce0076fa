"""State lives in SQLite: a restarted server resumes with the same jobs and the same simulated time."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from gpulab_apply.emulator import open_emulator, serve_in_thread
from gpulab_apply.emulator.config import default_nodes
from gpulab_apply.errors import ConfigError
from tests.conftest import RunCli
from tests.emulator.test_api import TIMEOUT, get_job, status_of, submit
from tests.fixtures.emulator import MANUAL
from tests.fixtures.jobs import make_job


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


def test_two_emulators_share_one_database(tmp_path: Path) -> None:
    # as `gpulab-apply emulator` and a `--local` run in the same directory do
    database = tmp_path / "shared.sqlite3"
    with serve_in_thread(db_path=database, config=MANUAL) as first, \
            serve_in_thread(db_path=database, config=MANUAL) as second:
        uuid = submit(second, make_job(runtime="10 s"))
        first.advance(30)
        assert status_of(first, uuid) == "FINISHED"
        second.advance(30)
        assert status_of(second, uuid) == "FINISHED"


def test_a_file_that_is_not_an_emulator_database_is_refused(cli: RunCli, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database, but my notes " * 200)
    result = cli("emulator", "--port", "0", "--db", str(notes))
    assert result.exit_code == 1
    assert result.stderr == (f"Error: cannot use {notes} as the emulator's database: file is not a database\n"
                             "Hint: point --db at a new file or at one the emulator made\n")
    assert notes.read_text().startswith("not a database")


def test_a_database_in_another_format_is_refused(tmp_path: Path) -> None:
    database = tmp_path / "old.sqlite3"
    with sqlite3.connect(database) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(ConfigError, match=r"holds emulator state in another format \(version 99\)"):
        open_emulator(database, MANUAL)


def test_a_restart_with_more_nodes_places_the_waiting_jobs(tmp_path: Path) -> None:
    database = tmp_path / "e.sqlite3"
    one_node = replace(MANUAL, nodes=default_nodes(1))
    with serve_in_thread(db_path=database, config=one_node) as small:
        first, second = (submit(small, make_job(f"big{i}", gpus=4, runtime="1 hour")) for i in range(2))
        small.advance(3)
        assert [status_of(small, first), status_of(small, second)] == ["ASSIGNED", "QUEUED"]
    with serve_in_thread(db_path=database, config=MANUAL) as bigger:
        assert status_of(bigger, second) == "ASSIGNED"


def _as_version_1(database: Path) -> None:
    """Turn a database into the layout of schema version 1 (before the scheduler's own columns)."""
    with sqlite3.connect(database) as conn:
        conn.execute("DROP INDEX jobs_queue")
        conn.execute("DROP INDEX jobs_holding")
        for column in ("need_gpus", "need_cpus", "need_memory", "interactive", "alloc"):
            conn.execute(f"ALTER TABLE jobs DROP COLUMN {column}")
        conn.execute("CREATE INDEX jobs_by_eligible ON jobs (eligible_at, seq) WHERE eligible_at IS NOT NULL")
        conn.execute("PRAGMA user_version = 1")


def test_a_version_1_database_is_upgraded_in_place(tmp_path: Path) -> None:
    database = tmp_path / "e.sqlite3"
    with serve_in_thread(db_path=database, config=MANUAL) as before:
        running = [submit(before, make_job(f"run{i}", gpus=4, runtime="60 s")) for i in range(2)]
        waiting = submit(before, make_job("waiting", gpus=3, cpus=2, memory_gb=8))
        before.advance(20)
        assert [status_of(before, uuid) for uuid in (*running, waiting)] == ["RUNNING", "RUNNING", "QUEUED"]
    _as_version_1(database)
    with serve_in_thread(db_path=database, config=MANUAL) as after:
        after.advance(56)  # they finish 75 s after submission
        assert [status_of(after, uuid) for uuid in (*running, waiting)] == ["FINISHED", "FINISHED", "ASSIGNED"]
    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (2,)
        assert conn.execute("SELECT need_gpus, need_cpus, need_memory FROM jobs WHERE uuid = ?",
                            (waiting,)).fetchone() == (3, 2, 8)
