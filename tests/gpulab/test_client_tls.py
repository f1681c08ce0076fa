"""Mutual TLS against the emulator with generated certificates: success, and each way trust can fail."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from gpulab_apply.emulator import RunningEmulator
from gpulab_apply.errors import AmbiguousSubmitError, CertificateError, ConnectionFailedError
from gpulab_apply.gpulab.certificate import load_credentials
from gpulab_apply.gpulab.client import GpulabClient
from gpulab_apply.gpulab.policy import RetryPolicy
from tests.fixtures.certificates import CertificateAuthority, LoginPemVariants, MakeLoginPem
from tests.fixtures.jobs import MINIMAL_JOB

FAST_RETRY = RetryPolicy(retries=2, backoff=0.01, max_backoff=0.02)
#: With TLS 1.3 the server's refusal comes after the client sent its request; whether the client reads the
#: TLS alert or only sees the connection reset (which discards the alert) is a race on the server's host.
REJECTED = re.compile(
    r"127\.0\.0\.1 rejected the client certificate during the TLS handshake \(.*ALERT.*\)"
    r"|Could not list jobs: 127\.0\.0\.1 closed every connection right after the TLS handshake without answering "
    r"\(3 attempts\); it probably does not accept the client certificate"
)


def tls_client(emulator: RunningEmulator, pem: Path, *, ca_bundle: Path | None, password: str | None = None,
               version: str = "3.1") -> GpulabClient:
    credentials = load_credentials(pem, password=password)
    return GpulabClient(
        emulator.api_root(version), api_version=version, ssl_context=credentials.ssl_context(ca_bundle=ca_bundle),
        retry=FAST_RETRY, identity=credentials.identity,
        project_urn=credentials.identity.project_urn("myproj"),
    )


@pytest.fixture
def jdoe(tls_emulator: RunningEmulator, login_pem: Path, ca_file: Path) -> Iterator[GpulabClient]:
    with tls_client(tls_emulator, login_pem, ca_bundle=ca_file) as client:
        yield client


def test_mutual_tls_identifies_the_user_by_certificate(jdoe: GpulabClient) -> None:
    uuid = jdoe.submit({**MINIMAL_JOB, "owner": {"projectUrn": jdoe.project_urn}})
    remote = jdoe.get_job(uuid)
    assert remote.owner["userUrn"] == "urn:publicid:IDN+ilabt.imec.be+user+jdoe"
    assert remote.owner["projectUrn"] == "urn:publicid:IDN+ilabt.imec.be+project+myproj"
    assert [j.uuid for j in jdoe.list_jobs()] == [uuid]


@pytest.mark.parametrize("version", ["3.1", "4.0"])
def test_encrypted_key_over_tls(tls_emulator: RunningEmulator, login_variant: LoginPemVariants, ca_file: Path,
                                version: str) -> None:
    pem = login_variant(password="s3cret", traditional=True)
    with tls_client(tls_emulator, pem, ca_bundle=ca_file, password="s3cret", version=version) as client:
        client.check_access()
        uuid = client.submit({**MINIMAL_JOB, "owner": {"projectUrn": client.project_urn}})
        # the server saw the decrypted key's certificate: the job is jdoe's
        assert client.get_job(uuid).owner["userUrn"] == "urn:publicid:IDN+ilabt.imec.be+user+jdoe"


def test_certificate_from_another_ca_is_rejected_by_the_server(
    tls_emulator: RunningEmulator, other_authority: CertificateAuthority, ca_file: Path, tmp_path: Path
) -> None:
    pem = LoginPemVariants(other_authority, tmp_path)()
    with tls_client(tls_emulator, pem, ca_bundle=ca_file) as client, pytest.raises(CertificateError) as caught:
        client.check_access()
    assert REJECTED.match(caught.value.message), caught.value.message
    assert caught.value.hint == "Check --cert / GPULAB_CERT: GPULab accepts iLab.t login certificates only."


def test_post_with_a_rejected_certificate_is_not_ambiguous(
    tls_emulator: RunningEmulator, other_authority: CertificateAuthority, ca_file: Path, tmp_path: Path
) -> None:
    pem = LoginPemVariants(other_authority, tmp_path)()
    with tls_client(tls_emulator, pem, ca_bundle=ca_file) as client, pytest.raises(CertificateError):
        client.submit(MINIMAL_JOB)


def test_server_not_trusted_without_its_ca(tls_emulator: RunningEmulator, login_pem: Path) -> None:
    # Without --ca-bundle only the system store and certifi are trusted: not the test CA.
    with tls_client(tls_emulator, login_pem, ca_bundle=None) as client, \
            pytest.raises(ConnectionFailedError) as caught:
        client.list_jobs()
    assert caught.value.message.startswith("The server certificate of 127.0.0.1 is not trusted: ")
    assert "certificate" in caught.value.message.split("not trusted: ")[1]  # OpenSSL's verify message
    assert caught.value.hint == (
        "If the server uses a private CA, pass its certificate with --ca-bundle (GPULAB_CA_BUNDLE)."
    )


def test_a_ca_bundle_means_only_that_ca(tls_emulator: RunningEmulator, login_pem: Path,
                                        other_authority: CertificateAuthority, tmp_path: Path) -> None:
    wrong_ca = tmp_path / "other-ca.pem"
    wrong_ca.write_bytes(other_authority.cert_pem)
    with tls_client(tls_emulator, login_pem, ca_bundle=wrong_ca) as client, \
            pytest.raises(ConnectionFailedError, match="is not trusted"):
        client.version()


def test_plain_http_client_against_a_tls_server_fails_clearly(tls_emulator: RunningEmulator) -> None:
    root = tls_emulator.api_root("3.1").replace("https://", "http://")
    with GpulabClient(root, api_version="3.1", retry=FAST_RETRY) as client, \
            pytest.raises(ConnectionFailedError, match=r"^Could not list jobs: "):
        client.list_jobs()


def test_two_users_see_their_own_identity(tls_emulator: RunningEmulator, make_login_pem: MakeLoginPem,
                                          ca_file: Path) -> None:
    with tls_client(tls_emulator, make_login_pem("ann"), ca_bundle=ca_file) as ann:
        uuid = ann.submit(MINIMAL_JOB)
        assert ann.get_job(uuid).owner["userUrn"] == "urn:publicid:IDN+ilabt.imec.be+user+ann"


def test_post_dropped_after_commit_over_tls_is_ambiguous(jdoe: GpulabClient, tls_emulator: RunningEmulator) -> None:
    job = {**MINIMAL_JOB, "name": "landed"}
    jdoe.check_access()
    tls_emulator.faults.set("POST jobs", drop_after_commit=1.0, times=1)
    with pytest.raises(AmbiguousSubmitError, match="after the request was sent; GPULab may have created the job"):
        jdoe.submit(job)
    assert [j.name for j in jdoe.list_jobs()] == ["landed"]


def test_every_connection_closed_before_any_answer_points_at_the_certificate(
    tls_emulator: RunningEmulator, login_pem: Path, ca_file: Path
) -> None:
    tls_emulator.faults.set("GET jobs", drop_after_commit=1.0)
    with tls_client(tls_emulator, login_pem, ca_bundle=ca_file) as client, pytest.raises(CertificateError) as caught:
        client.list_jobs()
    assert caught.value.message == (
        "Could not list jobs: 127.0.0.1 closed every connection right after the TLS handshake without answering "
        "(3 attempts); it probably does not accept the client certificate"
    )


def test_connections_closed_after_an_answer_are_a_connection_failure(
    tls_emulator: RunningEmulator, login_pem: Path, ca_file: Path
) -> None:
    with tls_client(tls_emulator, login_pem, ca_bundle=ca_file) as client:
        client.version()
        tls_emulator.faults.set("GET jobs", drop_after_commit=1.0)
        with pytest.raises(ConnectionFailedError, match=r"^Could not list jobs: the connection was dropped"):
            client.list_jobs()
