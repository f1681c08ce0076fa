"""A job's log, read whole or followed with ``Range`` (docs/client.md), against the emulator's log endpoint."""

from __future__ import annotations

from typing import Any

import pytest

from gpulab_apply.emulator import RunningEmulator
from gpulab_apply.emulator.server import _Handler as EmulatorHandler
from gpulab_apply.errors import ServerError
from gpulab_apply.gpulab.client import GpulabClient
from tests.fixtures.jobs import PROJECT_URN, make_job


@pytest.fixture
def finished_job(emulator: RunningEmulator) -> tuple[GpulabClient, str]:
    client = GpulabClient(emulator.api_root("4.0"), api_version="4.0")
    uuid = client.submit(make_job("logged", project_urn=PROJECT_URN))
    emulator.advance(3600)
    return client, uuid


def test_following_reads_each_byte_once(finished_job: tuple[GpulabClient, str]) -> None:
    client, uuid = finished_job
    whole = client.read_log(uuid)
    assert len(whole) > 20
    pieces, offset = [], 0
    for _ in range(3):
        piece = client.read_log(uuid, start=offset)
        pieces.append(piece)
        offset += len(piece)
    assert b"".join(pieces) == whole and pieces[1:] == [b"", b""]
    assert client.read_log(uuid, start=7) == whole[7:]


def test_a_server_that_ignores_range_is_cut_to_size(finished_job: tuple[GpulabClient, str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    client, uuid = finished_job
    whole = client.read_log(uuid)

    def whole_log(self: Any) -> tuple[int, str, bytes, dict[str, str]]:
        return 200, "text/plain", whole, {}

    monkeypatch.setattr(EmulatorHandler, "_get_log", whole_log)
    assert client.read_log(uuid, start=10) == whole[10:]


def test_a_range_from_elsewhere_is_an_error_not_a_gap(finished_job: tuple[GpulabClient, str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    client, uuid = finished_job
    whole = client.read_log(uuid)

    def later_part(self: Any) -> tuple[int, str, bytes, dict[str, str]]:
        return 206, "text/plain", whole[12:], {"Content-Range": f"bytes 12-{len(whole) - 1}/{len(whole)}"}

    monkeypatch.setattr(EmulatorHandler, "_get_log", later_part)
    with pytest.raises(ServerError, match="from byte 12, not 4"):
        client.read_log(uuid, start=4)
    assert client.read_log(uuid, start=20) == whole[20:]
