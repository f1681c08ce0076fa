"""ApiVersion: the one answer to "is this v4?" and to what each version can list."""

from __future__ import annotations

import pytest

from gpulab_apply.gpulab.api import API_VERSIONS, ApiVersion
from gpulab_apply.gpulab.identity import Identity


@pytest.mark.parametrize(("text", "expected"), [
    ("3.0", ApiVersion.V3_0), ("3.1", ApiVersion.V3_1), (" v4.0 ", ApiVersion.V4_0), ("V3.1", ApiVersion.V3_1),
    ("4", None), ("3.2", None), ("", None), ("4.0.0", None),
])
def test_parse(text: str, expected: ApiVersion | None) -> None:
    assert ApiVersion.parse(text) is expected


def test_capabilities() -> None:
    assert [v.is_v4 for v in ApiVersion] == [False, False, True]
    assert ApiVersion.V3_1.max_hours == 744 and ApiVersion.V3_0.max_count == 200
    assert ApiVersion.V4_0.max_hours is None and ApiVersion.V4_0.max_count is None
    assert ApiVersion.V3_0.other is ApiVersion.V4_0 and ApiVersion.V4_0.other is ApiVersion.V3_1
    # its own wire text, so it can stand where a str did
    assert str(ApiVersion.V4_0) == "4.0" and f"v{ApiVersion.V3_1}" == "v3.1"
    assert "4.0" in (ApiVersion.V3_1, ApiVersion.V4_0)
    assert API_VERSIONS == ("3.0", "3.1", "4.0")


@pytest.mark.parametrize(("url", "expected"), [
    ("https://h/api/gpulab/v3.1/", "3.1"), ("https://h/api/gpulab/v4.0", "4.0"), ("https://h/api/gpulab/v9.9/", "9.9"),
    ("https://h/api/gpulab/", None), ("https://h/v3.1/jobs", None),
])
def test_in_url(url: str, expected: str | None) -> None:
    assert ApiVersion.in_url(url) == expected


def test_identity_derives_its_authority() -> None:
    local = Identity("urn:publicid:IDN+ilabt.imec.be+user+local", "local@example.com")
    assert local.authority == "ilabt.imec.be" and local.username == "local"
    assert local.project_urn("p") == "urn:publicid:IDN+ilabt.imec.be+project+p"
    assert Identity("urn:publicid:IDN+x+user+y", None, authority="z").authority == "z"
