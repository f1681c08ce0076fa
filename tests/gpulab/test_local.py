from __future__ import annotations

import pytest

from gpulab_apply.gpulab.local import is_loopback


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST", "127.0.0.1", "127.5.6.7", "::1", "[::1]"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["10.0.0.1", "192.168.1.2", "0.0.0.0", "::", "gpulab.ilabt.imec.be",
                                  "localhost.example.com", ""])
def test_other_hosts_are_not_loopback(host: str) -> None:
    # the client sends plain HTTP, and the emulator binds, only where this says True
    assert not is_loopback(host)
