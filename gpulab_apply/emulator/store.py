"""The emulator's state in SQLite: jobs (with their wire JSON pre-serialised per API version) and events.

Readers use pooled connections and never block each other (WAL). Writers take one lock and an
immediate transaction, so every change — a submission, a status change, the simulation catching up
with the clock — is atomic and serialised, also across processes sharing the file.
"""

from __future__ import annotations

import json
import os
import queue
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpulab_apply.emulator import render
from gpulab_apply.errors import ConfigError
from gpulab_apply.jobmodel.status import HOLDING

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    user_urn TEXT NOT NULL,
    project_urn TEXT NOT NULL,
    status TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    cluster_id INTEGER,
    -- when the simulation must next look at this job (NULL: only on request)
    wake_at REAL,
    -- QUEUED jobs: from when the scheduler may place it
    eligible_at REAL,
    -- what the scheduler compares with free room, copied out of doc so that picking candidates needs
    -- no JSON: GPUs, CPUs, CPU memory (tmpfs included) in GB, interactive (0/1)
    need_gpus INTEGER NOT NULL DEFAULT 0,
    need_cpus INTEGER NOT NULL DEFAULT 0,
    need_memory INTEGER NOT NULL DEFAULT 0,
    interactive INTEGER NOT NULL DEFAULT 0,
    -- jobs holding resources: sim's alloc (node, GPU and CPU ids, memory) as JSON; NULL otherwise
    alloc TEXT,
    -- The wire texts come before the rest of the job: SQLite reads a row's columns in order, and a
    -- listing only needs one of them.
    v40 TEXT NOT NULL,
    v31 TEXT NOT NULL,
    v30 TEXT NOT NULL,
    doc TEXT NOT NULL,
    sim TEXT NOT NULL,
    log TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS jobs_by_created ON jobs (created DESC, seq DESC);
CREATE INDEX IF NOT EXISTS jobs_by_wake ON jobs (wake_at) WHERE wake_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL,
    time REAL NOT NULL,
    type TEXT NOT NULL,
    status TEXT,
    msg TEXT
);
CREATE INDEX IF NOT EXISTS events_by_job ON events (uuid, id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
#: version 1 files lack the scheduler's columns; they are added (and filled) when such a file is opened
_V2_COLUMNS = ("need_gpus INTEGER NOT NULL DEFAULT 0", "need_cpus INTEGER NOT NULL DEFAULT 0",
               "need_memory INTEGER NOT NULL DEFAULT 0", "interactive INTEGER NOT NULL DEFAULT 0", "alloc TEXT")
_V2_INDEXES = """
DROP INDEX IF EXISTS jobs_by_eligible;
-- the scheduler's queue, oldest first, needs included: candidates are picked from the index alone
CREATE INDEX IF NOT EXISTS jobs_queue ON jobs (eligible_at, seq, need_gpus, need_cpus, need_memory, interactive)
    WHERE eligible_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_holding ON jobs (seq) WHERE alloc IS NOT NULL;
"""

#: the layout of the tables above; a database with another one is refused, not misread
SCHEMA_VERSION = 2
#: statuses in which a job holds resources on a node, by name as stored
HOLDING_STATUSES = frozenset(status.name for status in HOLDING)
#: pre-serialised wire JSON columns, by API version
VERSION_COLUMNS = {"3.0": "v30", "3.1": "v31", "4.0": "v40"}


@dataclass(kw_only=True)
class JobRecord:
    """One stored job: ``doc`` is the v4-shaped job (status by name), ``sim`` the simulation's notes."""

    uuid: str
    doc: dict[str, Any]
    sim: dict[str, Any]
    created: float
    updated: float
    log: str = ""
    wake_at: float | None = None
    eligible_at: float | None = None

    @property
    def status(self) -> str:
        return str(self.doc["state"]["status"])

    def row(self) -> dict[str, Any]:
        """The columns of this job's row (its JSON rendered for each API version: the costly part of a write)."""
        assigned = self.doc["state"]["scheduling"].get("assignedClusterId")
        return {
            "uuid": self.uuid, "name": self.doc["name"], "user_urn": self.doc["owner"]["userUrn"],
            "project_urn": self.doc["owner"]["projectUrn"], "status": self.status,
            "created": self.created, "updated": self.updated, "cluster_id": assigned,
            "wake_at": self.wake_at, "eligible_at": self.eligible_at, **_scheduler_columns(self.doc, self.sim),
            "doc": json.dumps(self.doc, separators=(",", ":")), "sim": json.dumps(self.sim, separators=(",", ":")),
            "log": self.log,
            **{column: render.job_text(self.doc, version) for version, column in VERSION_COLUMNS.items()},
        }


def memory_gb(request: Mapping[str, Any]) -> int:
    """CPU memory a job needs on a node: its own plus its tmpfs mounts (GPULab counts both)."""
    tmpfs = sum(entry.get("sizeGb", 0) for entry in request["docker"]["storage"] if entry["hostPath"] == "tmpfs")
    return int(request["resources"]["cpuMemoryGb"]) + int(tmpfs)


#: SQLite's largest integer: a job may ask for more (it then fits no node), a column cannot hold more
_INTEGER_MAX = (1 << 63) - 1


def _scheduler_columns(doc: Mapping[str, Any], sim: Mapping[str, Any]) -> dict[str, Any]:
    request = doc["request"]
    alloc = sim.get("alloc")
    return {"need_gpus": min(request["resources"]["gpus"], _INTEGER_MAX),
            "need_cpus": min(request["resources"]["cpus"], _INTEGER_MAX),
            "need_memory": min(memory_gb(request), _INTEGER_MAX),
            "interactive": int(bool(request["scheduling"]["interactive"])),
            "alloc": json.dumps(alloc, separators=(",", ":")) if alloc else None}


#: a place in the listing order (newest first): a job's (created, seq)
ListingKey = tuple[float, int]


@dataclass(frozen=True, kw_only=True)
class JobQuery:
    """A listing filter, already checked and capped by the API layer.

    ``page`` (1-based, of ``limit`` jobs) is only ever above 1 on v4.0. ``max_hours`` is the window
    as asked for (``updated_since`` is it resolved against the clock).
    """

    statuses: frozenset[str]
    user_urn: str | None = None
    user_name: str | None = None
    project_urn: str | None = None
    project_name: str | None = None
    cluster_ids: tuple[int, ...] = ()
    updated_since: float | None = None
    max_hours: int | None = None
    limit: int = 10
    page: int = 1


def private_state_dir(directory: Path) -> Path:
    """Make ``directory`` (``.gpulab-apply`` beside the job files) a place for state that holds the jobs' values
    in clear: only its owner may enter it (mode 700), and a ``.gitignore`` of ``*`` keeps git out of it."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)
    ignore = directory / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# state of gpulab-apply --local: job values in clear, never commit it\n*\n",
                          encoding="utf-8")
    return directory


class Store:
    """SQLite state at ``path``; safe to share between threads. The file holds what jobs were submitted with,
    secrets included, so only its owner may read it (mode 600; SQLite gives its journal files the same)."""

    def __init__(self, path: Path, *, pool_size: int = 8) -> None:
        self.path = path
        if str(path) != ":memory:":
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
            os.chmod(path, 0o600)
        self._write_lock = threading.Lock()
        self._pool: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._pool_size = pool_size
        self._watch: sqlite3.Connection | None = None
        self._watch_lock = threading.Lock()
        try:
            # one transaction (not executescript, which commits first): a crash mid-upgrade leaves version 1
            with self.write() as conn:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version not in (0, 1, SCHEMA_VERSION):
                    raise ConfigError(f"{path} holds emulator state in another format (version {version})",
                                      hint="delete it (it only holds emulated jobs) or use another --db")
                if version == 1:
                    _upgrade_from_1(conn)
                for statement in _statements(_SCHEMA + _V2_INDEXES):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            self.close()
            raise ConfigError(f"cannot use {path} as the emulator's database: {exc}",
                              hint="point --db at a new file or at one the emulator made") from exc

    # --- connections and transactions ---------------------------------------------------------------

    def data_version(self) -> int:
        """A number that changes whenever any connection, in any process, commits a change."""
        with self._watch_lock:
            if self._watch is None:
                self._watch = self._open()
            # SQLite's data_version changes with every commit made through *other* connections: this
            # one never writes
            return int(self._watch.execute("PRAGMA data_version").fetchone()[0])

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        # Big pages keep a job's row (its JSON three times over) out of overflow pages. This only takes
        # effect while the file is still empty, so it comes before the switch to WAL, which writes it.
        conn.execute("PRAGMA page_size = 16384")
        conn.execute("PRAGMA journal_mode=WAL")
        # WAL with synchronous=NORMAL survives a crash of the process; only an OS crash may lose the
        # last commits, which is fine for an emulator and doubles the submission rate.
        conn.execute("PRAGMA synchronous=NORMAL")
        with self._all_lock:
            self._all.append(conn)
        return conn

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = self._pool.get_nowait()
        except queue.Empty:
            conn = self._open()
        try:
            yield conn
        finally:
            if self._pool.qsize() < self._pool_size:
                self._pool.put(conn)
            else:
                with self._all_lock:
                    self._all.remove(conn)
                conn.close()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A connection for reading (each statement sees a consistent snapshot)."""
        with self._connection() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One serialised write transaction: committed on success, rolled back on any exception."""
        with self._write_lock, self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def close(self) -> None:
        with self._watch_lock:
            self._watch = None
        with self._all_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        while not self._pool.empty():
            self._pool.get_nowait()

    # --- jobs ---------------------------------------------------------------------------------------

    @staticmethod
    def insert(conn: sqlite3.Connection, record: JobRecord, row: dict[str, Any] | None = None) -> None:
        """Store a new job; ``row``: its :meth:`JobRecord.row`, if rendered before the transaction began."""
        row = record.row() if row is None else row
        conn.execute(f"INSERT INTO jobs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                     tuple(row.values()))

    @staticmethod
    def insert_many(conn: sqlite3.Connection, records: Iterable[JobRecord]) -> None:
        rows = [record.row() for record in records]
        if rows:
            conn.executemany(f"INSERT INTO jobs ({', '.join(rows[0])}) VALUES ({', '.join('?' * len(rows[0]))})",
                             [tuple(row.values()) for row in rows])

    @staticmethod
    def update(conn: sqlite3.Connection, record: JobRecord) -> None:
        row = record.row()
        uuid = row.pop("uuid")
        conn.execute(f"UPDATE jobs SET {', '.join(f'{key} = ?' for key in row)} WHERE uuid = ?",
                     (*row.values(), uuid))

    @staticmethod
    def load(conn: sqlite3.Connection, uuid: str) -> JobRecord | None:
        rows = Store.load_where(conn, "uuid = ?", (uuid,))
        return rows[0] if rows else None

    @staticmethod
    def load_where(conn: sqlite3.Connection, where: str, parameters: Sequence[Any] = (),
                   order: str = "seq") -> list[JobRecord]:
        cursor = conn.execute(
            f"SELECT uuid, doc, sim, created, updated, log, wake_at, eligible_at FROM jobs WHERE {where} "
            f"ORDER BY {order}", tuple(parameters))
        return [JobRecord(uuid=uuid, doc=json.loads(doc), sim=json.loads(sim), created=created, updated=updated,
                          log=log, wake_at=wake_at, eligible_at=eligible_at)
                for uuid, doc, sim, created, updated, log, wake_at, eligible_at in cursor]

    @staticmethod
    def job_text(conn: sqlite3.Connection, uuid: str, version: str) -> str | None:
        row = conn.execute(f"SELECT {VERSION_COLUMNS[version]} FROM jobs WHERE uuid = ?", (uuid,)).fetchone()
        return None if row is None else str(row[0])

    @staticmethod
    def list_texts(conn: sqlite3.Connection, query: JobQuery, version: str, *, after: ListingKey | None = None,
                   skip: int = 0) -> tuple[list[str], ListingKey | None]:
        """The wire JSON of ``query.limit`` matching jobs, newest first (by creation, then submission order).

        They are the first after the job at ``after`` (a keyset cursor: an index seek whatever the
        depth), less ``skip`` more; also returns the place of the last one, the next page's ``after``.
        """
        where, parameters = _filters(query)
        if after is None:
            rows = _page(conn, where, parameters, version, query.limit, skip)
        else:
            # Two seeks: the rest of the cursor's own creation time, then what is older. SQLite ranges over
            # a row value by its first column only, and jobs seeded together share one creation time.
            created, seq = after
            tied = [*where, "created = ?", "seq < ?"]
            rows = _page(conn, tied, [*parameters, created, seq], version, query.limit, skip)
            if len(rows) < query.limit:
                if not rows and skip:
                    (in_tie,) = conn.execute(f"SELECT count(*) FROM jobs WHERE {' AND '.join(tied)}",
                                             [*parameters, created, seq]).fetchone()
                    skip = max(0, skip - in_tie)
                else:
                    skip = 0
                rows += _page(conn, [*where, "created < ?"], [*parameters, created], version,
                              query.limit - len(rows), skip)
        return [text for _, _, text in rows], ((rows[-1][0], rows[-1][1]) if rows else None)

    @staticmethod
    def last_update(conn: sqlite3.Connection) -> float | None:
        row = conn.execute("SELECT MAX(updated) FROM jobs").fetchone()
        return None if row[0] is None else float(row[0])

    @staticmethod
    def next_wake(conn: sqlite3.Connection) -> float | None:
        row = conn.execute("SELECT MIN(wake_at) FROM jobs WHERE wake_at IS NOT NULL").fetchone()
        return None if row[0] is None else float(row[0])

    # --- events and settings --------------------------------------------------------------------------

    @staticmethod
    def add_event(conn: sqlite3.Connection, uuid: str, time: float, kind: str, status: str | None,
                  message: str) -> None:
        conn.execute("INSERT INTO events (uuid, time, type, status, msg) VALUES (?, ?, ?, ?, ?)",
                     (uuid, time, kind, status, message))

    @staticmethod
    def events(conn: sqlite3.Connection, uuid: str) -> list[tuple[float, str, str | None, str]]:
        return list(conn.execute("SELECT time, type, status, msg FROM events WHERE uuid = ? ORDER BY id", (uuid,)))

    @staticmethod
    def get_meta(conn: sqlite3.Connection, key: str) -> str | None:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    @staticmethod
    def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
        conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = ?",
                     (key, value, value))


def _statements(script: str) -> list[str]:
    lines = (line for line in script.splitlines() if not line.lstrip().startswith("--"))
    return [statement for statement in "\n".join(lines).split(";") if statement.strip()]


def _upgrade_from_1(conn: sqlite3.Connection) -> None:
    """Add the scheduler's columns to a version 1 file and fill them for the jobs that use them."""
    for column in _V2_COLUMNS:
        conn.execute(f"ALTER TABLE jobs ADD COLUMN {column}")
    holders = ", ".join(f"'{status}'" for status in sorted(HOLDING_STATUSES))
    rows = conn.execute(f"SELECT uuid, doc, sim FROM jobs WHERE eligible_at IS NOT NULL OR status IN ({holders})")
    updates = [(*_scheduler_columns(json.loads(doc), json.loads(sim)).values(), uuid) for uuid, doc, sim in rows]
    conn.executemany("UPDATE jobs SET need_gpus = ?, need_cpus = ?, need_memory = ?, interactive = ?, alloc = ? "
                     "WHERE uuid = ?", updates)


def _filters(query: JobQuery) -> tuple[list[str], list[Any]]:
    """A listing's WHERE clauses and their parameters."""
    # "+status" keeps SQLite off jobs_by_status: with it, every page sorted all matching rows, texts
    # included, in a temporary B-tree (~100 ms per page at 5,000 jobs); jobs_by_created needs no sort.
    clauses = [f"+status IN ({', '.join('?' * len(query.statuses))})"]
    parameters: list[Any] = sorted(query.statuses)
    for column, value in (("user_urn", query.user_urn), ("project_urn", query.project_urn)):
        if value is not None:
            clauses.append(f"{column} = ?")
            parameters.append(value)
    # names are the last part of their URN; no index needed at emulator sizes
    for column, kind, value in (("user_urn", "user", query.user_name),
                                ("project_urn", "project", query.project_name)):
        if value is not None:
            suffix = f"+{kind}+{value}"
            clauses.append(f"substr({column}, ?) = ?")
            parameters.extend((-len(suffix), suffix))
    if query.cluster_ids:
        clauses.append(f"cluster_id IN ({', '.join('?' * len(query.cluster_ids))})")
        parameters.extend(query.cluster_ids)
    if query.updated_since is not None:
        clauses.append("updated >= ?")
        parameters.append(query.updated_since)
    return clauses, parameters


def _page(conn: sqlite3.Connection, where: list[str], parameters: list[Any], version: str, limit: int,
          skip: int) -> list[tuple[float, int, str]]:
    return conn.execute(
        f"SELECT created, seq, {VERSION_COLUMNS[version]} FROM jobs WHERE {' AND '.join(where)} "
        "ORDER BY created DESC, seq DESC LIMIT ? OFFSET ?", [*parameters, limit, skip]).fetchall()
