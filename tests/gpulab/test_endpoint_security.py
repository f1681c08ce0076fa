"""An endpoint is judged as the HTTP stack reads it: a URL that looks like loopback must go to loopback.

``http://evil.invalid:8080\\@127.0.0.1/...`` passed the loopback check (urllib.parse reads the host
as 127.0.0.1) while requests sent it, in plain HTTP, to evil.invalid (urllib3 reads ``\\`` as the
start of the path). Every tricky URL below is refused before any connection is made.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from gpulab_apply.errors import ConfigError
from gpulab_apply.gpulab.client import GpulabClient
from gpulab_apply.gpulab.local import is_loopback_url, request_host
from gpulab_apply.settings import normalise_endpoint
from tests.conftest import RunCli

TRICKY = [
    "http://evil.invalid:8080\\@127.0.0.1/api/gpulab/v3.1/",  # backslash: urllib3 goes to evil.invalid
    "http://127.0.0.1@evil.invalid/api/gpulab/v3.1/",  # a user name before the real host, evil.invalid
    "http://127.0.0.1:80@evil.invalid/api/gpulab/v3.1/",
    "http://127.0.0.1%2f@evil.invalid/api/gpulab/v3.1/",
    "http://127.0.0.1 .evil.invalid/api/gpulab/v3.1/",
    "http://127.0.0.1\t/api/gpulab/v3.1/",
    "http://[::1%25eth0]/api/gpulab/v3.1/",
    "http://localhost.evil.invalid/api/gpulab/v3.1/",
    "http://127.0.0.1.evil.invalid/api/gpulab/v3.1/",
    "http://127.1/api/gpulab/v3.1/",  # loopback to the OS, but not unambiguously: refused too
    "http://2130706433/api/gpulab/v3.1/",
    "http://0x7f000001/api/gpulab/v3.1/",
]
PLAIN = ["http://127.0.0.1:8080/api/gpulab/v3.1/", "http://localhost/api/gpulab/v4.0/", "http://[::1]:9/api/gpulab/v3.1/",
         "http://127.8.9.10:1/api/gpulab/v3.1/"]


@pytest.mark.parametrize("url", TRICKY)
def test_tricky_urls_are_not_loopback(url: str) -> None:
    assert not is_loopback_url(url)
    with pytest.raises(ConfigError, match=r"--endpoint: (the endpoint is ambiguous|plain http:// is refused|the endpoint holds a user name)"):
        normalise_endpoint(url, None, source="--endpoint")
    with pytest.raises(ConfigError):
        GpulabClient(url, api_version="3.1")


@pytest.mark.parametrize("url", PLAIN)
def test_plain_loopback_urls_are_accepted(url: str) -> None:
    assert is_loopback_url(url)
    root, _ = normalise_endpoint(url, None, source="--endpoint")
    assert root == url


def test_a_user_name_is_judged_by_the_host_it_precedes_but_a_backslash_never_passes() -> None:
    assert request_host("https://alice:pw@gpulab.example.org/api/") == "gpulab.example.org"
    assert request_host("http://alice:pw@127.0.0.1:8/api/") == "127.0.0.1"
    assert request_host("http://127.0.0.1:80@evil.invalid/") == "evil.invalid"
    with pytest.raises(ValueError, match="backslash"):
        request_host("https://gpulab.ilabt.imec.be\\@evil.invalid/api/gpulab/v4.0/")
    with pytest.raises(ConfigError, match="ambiguous"):
        normalise_endpoint("https://gpulab.ilabt.imec.be\\@evil.invalid/api/gpulab/v4.0/", None, source="x")


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback port that counts as 'elsewhere': nothing may connect to it."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.setblocking(False)
        yield server


def test_the_cli_refuses_the_backslash_trick_without_connecting(cli: RunCli, listener: socket.socket,
                                                                 tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jobs.d").mkdir()
    elsewhere = listener.getsockname()[1]
    # before: urllib.parse saw 127.0.0.1:9 (the 'emulator'), urllib3 connected to 127.0.0.1:<elsewhere>
    url = f"http://127.0.0.1:{elsewhere}\\@127.0.0.1:9/api/gpulab/v3.1/"
    result = cli("plan", "jobs.d", "--endpoint", url, "--set", "lab")
    assert result.exit_code != 0
    assert "the endpoint is ambiguous: it contains a backslash" in result.stderr, result
    with pytest.raises(BlockingIOError):
        listener.accept()  # nobody connected
