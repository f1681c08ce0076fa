"""The embedded GPULab emulator: GPULab's job API over real HTTP(S), with a simulated cluster in SQLite.

:func:`serve_in_thread` runs it for tests, benchmarks and ``--local`` mode; ``gpulab-apply emulator``
serves it from the command line. See ``docs/emulator.md``.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpulab_apply.emulator.clock import Clock, ManualClock, ScaledClock, parse_time
from gpulab_apply.emulator.config import EmulatorConfig, NodeConfig, TLSSettings
from gpulab_apply.emulator.faults import Fault, Faults
from gpulab_apply.emulator.server import EmulatorServer, server_ssl_context
from gpulab_apply.emulator.service import Emulator
from gpulab_apply.emulator.store import Store
from gpulab_apply.errors import ConfigError
from gpulab_apply.gpulab.local import LOCAL_DB_PATH, is_loopback

__all__ = ["LOCAL_DB_PATH", "EmulatorConfig", "Fault", "Faults", "ManualClock", "NodeConfig", "RunningEmulator",
           "TLSSettings", "open_emulator", "serve_in_thread"]

#: where the simulated clock was when the server last stopped, so a restart never moves time backwards
_CLOCK_KEY = "clock"


@dataclass(frozen=True, kw_only=True)
class RunningEmulator:
    """A live emulator: where it listens, and handles to steer it from a test or benchmark."""

    base_url: str
    emulator: Emulator
    faults: Faults
    db_path: Path

    @property
    def clock(self) -> Clock:
        """The simulated clock; a :class:`ManualClock` (``.advance(seconds)``) when configured ``manual``."""
        return self.emulator.clock

    def api_root(self, version: str = "3.1") -> str:
        """The versioned API root, e.g. ``http://127.0.0.1:PORT/api/gpulab/v3.1/``."""
        return f"{self.base_url}gpulab/v{version}/"

    def advance(self, seconds: float) -> None:
        """Move a manual clock forward; the simulation catches up on the next request."""
        clock = self.emulator.clock
        if not isinstance(clock, ManualClock):
            raise TypeError("only a manual clock can be advanced (EmulatorConfig(clock='manual'))")
        clock.advance(seconds)

    def seed_jobs(self, jobs: Iterable[Mapping[str, Any]], **options: Any) -> list[str]:
        """Store jobs directly, bypassing HTTP; see :meth:`Emulator.seed` for ``options``."""
        return self.emulator.seed(jobs, **options)

    def seed_job(self, job: Mapping[str, Any], **options: Any) -> str:
        return self.emulator.seed([job], **options)[0]


def open_emulator(db_path: Path, config: EmulatorConfig) -> Emulator:
    """The emulator over the database at ``db_path``, its clock resumed where it stopped."""
    store = Store(db_path)
    with store.read() as conn:
        # the latest stored change also counts: a killed server did not save its clock
        known = [float(t) for t in (Store.get_meta(conn, _CLOCK_KEY), Store.last_update(conn)) if t is not None]
    clock: Clock
    if config.clock == "manual":
        clock = ManualClock(max(known) if known else parse_time(config.manual_start))
    else:
        clock = ScaledClock(speed=config.speed, start=max([*known, time.time()]))
    return Emulator(store=store, config=config, clock=clock)


def close_emulator(emulator: Emulator) -> None:
    with emulator.store.write() as conn:
        Store.set_meta(conn, _CLOCK_KEY, repr(emulator.clock.now()))
    emulator.store.close()


@contextmanager
def serve_in_thread(*, db_path: Path | None = None, host: str = "127.0.0.1", port: int = 0,
                    tls: TLSSettings | None = None, config: EmulatorConfig | None = None,
                    allow_remote: bool = False, fault_seed: int | None = None) -> Iterator[RunningEmulator]:
    """Run the emulator on ``host:port`` (0 = a free port) in a background thread until the block ends.

    ``db_path=None`` uses a temporary database, removed afterwards.
    """
    if not allow_remote and not is_loopback(host):
        raise ConfigError(f"refusing to serve the emulator on {host}: it is not a loopback address",
                          hint="use 127.0.0.1, or allow it explicitly (--allow-remote)")
    with tempfile.TemporaryDirectory(prefix="gpulab-emulator-") as scratch:
        path = db_path if db_path is not None else Path(scratch) / "emulator.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        emulator = open_emulator(path, config or EmulatorConfig())
        faults = Faults(seed=fault_seed)
        server = EmulatorServer((host, port), emulator=emulator, faults=faults,
                                ssl_context=server_ssl_context(tls) if tls else None)
        thread = threading.Thread(target=server.serve, name="gpulab-emulator", daemon=True)
        thread.start()
        scheme = "https" if tls else "http"
        shown_host = f"[{host}]" if ":" in host else host
        try:
            yield RunningEmulator(base_url=f"{scheme}://{shown_host}:{server.server_address[1]}/api/",
                                  emulator=emulator, faults=faults, db_path=path)
        finally:
            server.stop()
            server.close_connections()
            server.server_close()
            thread.join()
            close_emulator(emulator)
