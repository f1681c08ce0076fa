"""The suite's one harness: a job repository driven through the real CLI against an emulator.

``Repo(root, emulator, cli)`` is a ``jobs.d`` directory under ``root`` and the CLI pointed at the emulator, one set and
one project (``--endpoint``, ``--set``, ``--project``); with ``set_name=None`` only the endpoint is passed, so the set
and project come from the repository's ``gpulab-apply.yaml``. The ``repo`` fixture (tests/conftest.py) is one in the
test's temporary directory, which is also the working directory.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from gpulab_apply.emulator import RunningEmulator
from gpulab_apply.gpulab.client import GpulabClient
from gpulab_apply.model import RemoteJob
from gpulab_apply.reconcile.marker import parse_marker
from tests.conftest import CliResult, RunCli
from tests.fixtures.jobs import job_yaml

#: QUEUED -> RUNNING takes schedule 2 s + assign 3 s + start 10 s of simulated time (the emulator's defaults)
TO_RUNNING = 20
#: the emulator's default simulated run time is 10 min
TO_FINISHED = 20 * 60


class Repo:
    """A job directory, and the CLI pointed at one emulator (and set and project, unless the config names them)."""

    def __init__(self, root: Path, emulator: RunningEmulator, cli: RunCli, *, set_name: str | None = "lab",
                 project: str = "local", version: str = "3.1", options: Sequence[str] = (),
                 client_options: Mapping[str, Any] | None = None) -> None:
        """``options`` go to every command after the connection (``--cert``...); ``client_options`` to the
        ``GpulabClient`` that ``remote`` lists with (``ssl_context``, ``identity``)."""
        self.root = root
        self.jobs = root / "jobs.d"
        self.jobs.mkdir(parents=True, exist_ok=True)
        self.emulator = emulator
        self.cli = cli
        self.version = version
        self.connection: tuple[str, ...] = ("--endpoint", emulator.api_root(version))
        if set_name is not None:
            self.connection += ("--set", set_name, "--project", project)
        self.options = tuple(options)
        self.connection += self.options
        self.client_options = dict(client_options or {})

    def write(self, name: str, text: str | None = None, **options: Any) -> Path:
        """``jobs.d/<name>.yaml``: ``text``, or the job ``job_yaml(name, **options)`` builds."""
        path = self.jobs / f"{name}.yaml"
        path.write_text(text if text is not None else job_yaml(name, **options))
        return path

    def __call__(self, *args: str, input: str | None = None, env: dict[str, str | None] | None = None) -> CliResult:
        """The CLI with these arguments and the connection options."""
        return self.cli(*args, *self.connection, input=input, env=env)

    def apply(self, *args: str) -> CliResult:
        """``apply jobs.d --yes``, which must succeed."""
        result = self("apply", "jobs.d", "--yes", *args)
        assert result.exit_code == 0, result
        return result

    def client(self) -> GpulabClient:
        return GpulabClient(self.emulator.api_root(self.version), api_version=self.version, **self.client_options)

    def remote(self) -> list[RemoteJob]:
        """Every job GPULab lists, as the server orders them."""
        with self.client() as client:
            return list(client.list_jobs())

    def active(self) -> list[RemoteJob]:
        """The queued and running jobs, by name."""
        return sorted((job for job in self.remote() if job.status.is_active), key=lambda job: job.name)


@pytest.fixture
def repo(tmp_path: Path, emulator: RunningEmulator, cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> Repo:
    """A ``Repo`` in the test's temporary directory, which is the working directory (set ``lab``, API v3.1)."""
    monkeypatch.chdir(tmp_path)
    return Repo(tmp_path, emulator, cli)


@contextmanager
def submissions_held(emulator: RunningEmulator, runs: int, *, timeout: float = 60) -> Iterator[None]:
    """Every submission waits until submissions of ``runs`` different apply runs (their markers' run ids) have
    arrived. An apply lists before it submits, so then every run listed before any of their jobs existed: a race
    decided by this barrier, not by how fast a busy machine starts threads. After ``timeout`` seconds they go
    on (the test then fails on what it asserts about the race, not by hanging)."""
    submit = emulator.emulator.submit
    runs_seen: set[str] = set()
    arrived = threading.Condition()

    def held(body: object, **options: Any) -> str:
        marker = parse_marker(body.get("description")) if isinstance(body, dict) else None
        with arrived:
            if marker is not None:
                runs_seen.add(marker.run_id)
                arrived.notify_all()
            arrived.wait_for(lambda: len(runs_seen) >= runs, timeout=timeout)
        return submit(body, **options)

    emulator.emulator.submit = held
    try:
        yield
    finally:
        emulator.emulator.submit = submit
