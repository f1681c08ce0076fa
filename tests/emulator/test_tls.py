"""Mutual TLS: the server requires a client certificate and takes the user from its subjectAltName."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from gpulab_apply.emulator import RunningEmulator
from tests.fixtures.certificates import CertificateAuthority, MakeLoginPem
from tests.fixtures.jobs import MINIMAL_JOB

TIMEOUT = 10


def test_identity_comes_from_the_client_certificate(tls_emulator: RunningEmulator, login_pem: Path,
                                                    ca_file: Path) -> None:
    assert tls_emulator.base_url.startswith("https://127.0.0.1:")
    # verify= on each call: requests lets REQUESTS_CA_BUNDLE override a Session's verify (psf/requests#3829)
    with requests.Session() as session:
        session.cert = (str(login_pem), str(login_pem))
        response = session.post(tls_emulator.api_root() + "jobs", json=MINIMAL_JOB, verify=str(ca_file),
                                timeout=TIMEOUT)
        assert response.status_code == 200, response.text
        job = session.get(tls_emulator.api_root() + f"jobs/{response.text}", verify=str(ca_file),
                          timeout=TIMEOUT).json()
    assert job["owner"]["userUrn"] == "urn:publicid:IDN+ilabt.imec.be+user+jdoe"
    assert job["owner"]["userEmail"] == "jdoe@example.com"


def test_only_the_owner_may_change_a_job(tls_emulator: RunningEmulator, login_pem: Path,
                                         make_login_pem: MakeLoginPem, ca_file: Path) -> None:
    alice = make_login_pem("alice")
    created = requests.post(tls_emulator.api_root() + "jobs", json=MINIMAL_JOB, cert=(str(login_pem), str(login_pem)),
                            verify=str(ca_file), timeout=TIMEOUT)
    response = requests.put(tls_emulator.api_root() + f"jobs/{created.text}/state/status", data="CANCELLED",
                            cert=(str(alice), str(alice)), verify=str(ca_file), timeout=TIMEOUT)
    assert (response.status_code, response.text) == (403, f"Job {created.text} belongs to another user\n")


def test_a_client_certificate_is_required(tls_emulator: RunningEmulator, ca_file: Path) -> None:
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(tls_emulator.api_root() + "jobs", verify=str(ca_file), timeout=TIMEOUT)


def test_certificates_from_another_ca_are_refused(tls_emulator: RunningEmulator, ca_file: Path,
                                                  tmp_path: Path) -> None:
    stranger = tmp_path / "stranger.pem"
    stranger.write_bytes(CertificateAuthority.create("someone else").login_pem("mallory"))
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(tls_emulator.api_root() + "jobs", cert=(str(stranger), str(stranger)), verify=str(ca_file),
                     timeout=TIMEOUT)


def test_a_certificate_without_user_urn_is_forbidden(tls_emulator: RunningEmulator, make_login_pem: MakeLoginPem,
                                                     ca_file: Path) -> None:
    nobody = make_login_pem("nobody", urn="")
    response = requests.post(tls_emulator.api_root() + "jobs", json=MINIMAL_JOB, cert=(str(nobody), str(nobody)),
                             verify=str(ca_file), timeout=TIMEOUT)
    assert (response.status_code, response.text) == (
        403, "The client certificate has no user URN and e-mail in its subjectAltName\n")


def test_plain_http_to_the_tls_port_fails(tls_emulator: RunningEmulator) -> None:
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(tls_emulator.api_root().replace("https://", "http://") + "jobs", timeout=TIMEOUT)
