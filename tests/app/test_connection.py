"""open_client: from settings to a working client, for each way of reaching GPULab (docs/client.md#settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gpulab_apply.app.connection import open_client
from gpulab_apply.emulator import RunningEmulator
from gpulab_apply.errors import CertificateError, ConfigError
from gpulab_apply.gpulab.local import LOCAL_USER_URN, local_identity
from gpulab_apply.settings import Settings, resolve_settings
from tests.fixtures.certificates import MakeLoginPem
from tests.fixtures.jobs import MINIMAL_JOB

JDOE_URN = "urn:publicid:IDN+ilabt.imec.be+user+jdoe"


def settings(tmp_path: Path, **flags: Any) -> Settings:
    return resolve_settings(flags=flags, env={}, cwd=tmp_path)


def test_local_starts_the_embedded_emulator_with_its_state_beside_the_jobs(tmp_path: Path) -> None:
    with open_client(settings(tmp_path, local=True)) as client:
        assert client.api_root.startswith("http://127.0.0.1:")
        assert client.identity == local_identity()
        assert client.project_urn == "urn:publicid:IDN+ilabt.imec.be+project+local"
        uuid = client.submit({**MINIMAL_JOB, "owner": {"projectUrn": client.project_urn}})
        assert [job.uuid for job in client.list_jobs()] == [uuid]
    assert (tmp_path / ".gpulab-apply" / "emulator.db").is_file()
    # the state outlives the process: the next --local run sees the job
    with open_client(settings(tmp_path, local=True)) as client:
        assert [job.uuid for job in client.list_jobs()] == [uuid]


def test_plain_http_to_loopback_acts_as_the_emulators_default_user(emulator: RunningEmulator, tmp_path: Path) -> None:
    with open_client(settings(tmp_path, endpoint=emulator.api_root("3.1"), project="p")) as client:
        assert client.api_root == emulator.api_root("3.1")
        assert client.identity is not None and client.identity.user_urn == LOCAL_USER_URN
        assert client.project_urn == "urn:publicid:IDN+ilabt.imec.be+project+p"
        assert client.list_jobs() == ()


def test_https_without_a_certificate_is_refused_before_any_request(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No client certificate") as caught, \
            open_client(settings(tmp_path, endpoint="https://127.0.0.1:9/api/gpulab/v3.1/")):
        pass
    assert caught.value.hint is not None and "--cert" in caught.value.hint


def test_a_certificate_problem_is_reported_before_any_request(tmp_path: Path) -> None:
    # port 9 (discard) is never contacted: the certificate is read first
    with pytest.raises(CertificateError, match="Certificate file not found"), open_client(
            settings(tmp_path, endpoint="https://127.0.0.1:9/api/gpulab/v3.1/", cert=str(tmp_path / "none.pem"))):
        pass


def test_https_with_a_certificate_identifies_the_user(tls_emulator: RunningEmulator, login_pem: Path,
                                                       ca_file: Path, tmp_path: Path) -> None:
    options = {"endpoint": tls_emulator.api_root("4.0"), "cert": str(login_pem), "ca_bundle": str(ca_file),
               "project": "myproj"}
    with open_client(settings(tmp_path, **options)) as client:
        assert client.identity is not None and client.identity.user_urn == JDOE_URN
        assert client.project_urn == "urn:publicid:IDN+ilabt.imec.be+project+myproj"
        uuid = client.submit({**MINIMAL_JOB, "owner": {"projectUrn": client.project_urn}})
        assert client.get_job(uuid).owner["userUrn"] == JDOE_URN


def test_an_encrypted_key_asks_the_prompt_once(tls_emulator: RunningEmulator, make_login_pem: MakeLoginPem,
                                               ca_file: Path, tmp_path: Path) -> None:
    pem = make_login_pem("jdoe", password="s3cret")
    asked: list[Path] = []

    def prompt(path: Path) -> str:
        asked.append(path)
        return "s3cret"

    resolved = resolve_settings(flags={"endpoint": tls_emulator.api_root("3.1"), "cert": str(pem),
                                       "ca_bundle": str(ca_file)}, env={}, cwd=tmp_path, password_prompt=prompt)
    with open_client(resolved) as client:
        assert client.list_jobs() == ()
    assert asked == [pem]
