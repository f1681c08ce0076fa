"""The login PEM: identity, and one distinct, actionable error for each way it can be unusable."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gpulab_apply.errors import CertificateError
from gpulab_apply.gpulab.certificate import Identity, load_credentials
from tests.fixtures.certificates import JDOE_EMAIL, JDOE_URN, LoginPemVariants


def error_of(path: Path, **kwargs: object) -> CertificateError:
    with pytest.raises(CertificateError) as caught:
        load_credentials(path, **kwargs)  # type: ignore[arg-type]
    return caught.value


def test_identity_comes_from_the_subject_alt_name(login_variant: LoginPemVariants) -> None:
    not_after = datetime(2031, 5, 1, 12, 0, tzinfo=UTC)
    credentials = load_credentials(login_variant(not_after=not_after))
    identity = credentials.identity
    assert identity.user_urn == JDOE_URN
    assert identity.email == JDOE_EMAIL
    assert identity.authority == "ilabt.imec.be"
    assert identity.username == "jdoe"
    assert identity.not_after == not_after
    assert identity.days_left(datetime(2031, 4, 21, 12, 0, tzinfo=UTC)) == 10
    assert credentials.password is None


def test_project_urn_uses_the_users_authority(login_variant: LoginPemVariants) -> None:
    identity = load_credentials(login_variant(user_urn="urn:publicid:IDN+example.org:sub+user+ann")).identity
    assert identity.project_urn("myproj") == "urn:publicid:IDN+example.org:sub+project+myproj"
    full = "urn:publicid:IDN+ilabt.imec.be+project+other"
    assert identity.project_urn(full) == full
    with pytest.raises(CertificateError, match="Invalid project name 'my proj'"):
        identity.project_urn("my proj")


def test_ssl_context_presents_the_certificate_and_verifies_servers(login_variant: LoginPemVariants) -> None:
    context = load_credentials(login_variant()).ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True


def test_missing_file(tmp_path: Path) -> None:
    error = error_of(tmp_path / "nope.pem")
    assert error.message == f"Certificate file not found: {tmp_path / 'nope.pem'}"
    assert error.hint is not None and "GPULAB_CERT" in error.hint


def test_directory_instead_of_file(tmp_path: Path) -> None:
    assert error_of(tmp_path).message == f"Certificate path is a directory, not a PEM file: {tmp_path}"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files regardless of their mode")
def test_unreadable_file(login_variant: LoginPemVariants) -> None:
    path = login_variant()
    path.chmod(0)
    assert error_of(path).message == f"Cannot read certificate file {path}: Permission denied"


def test_unreadable_path(login_variant: LoginPemVariants) -> None:
    # A path through a file: unreadable for anyone, root included (who ignores file modes).
    path = login_variant() / "login.pem"
    assert error_of(path).message == f"Cannot read certificate file {path}: Not a directory"


def test_file_without_certificate(login_variant: LoginPemVariants) -> None:
    path = login_variant(with_certificate=False)
    assert error_of(path).message == f"{path} holds no PEM certificate"


def test_file_without_key(login_variant: LoginPemVariants) -> None:
    path = login_variant(with_key=False)
    error = error_of(path)
    assert error.message == f"{path} holds a certificate but no private key"
    assert error.hint is not None and "both in one file" in error.hint


def test_key_of_another_certificate(login_variant: LoginPemVariants) -> None:
    path = login_variant(foreign_key=True)
    assert error_of(path).message == f"The private key in {path} does not belong to its certificate"


@pytest.mark.parametrize("traditional", [False, True], ids=["pkcs8", "proc-type"])
def test_encrypted_key_with_password(login_variant: LoginPemVariants, traditional: bool) -> None:
    path = login_variant(password="s3cret pass", traditional=traditional)
    credentials = load_credentials(path, password="s3cret pass")
    assert credentials.password == b"s3cret pass"
    assert "s3cret" not in repr(credentials)
    credentials.ssl_context()  # OpenSSL gets the password too; no prompt, no error


@pytest.mark.parametrize("traditional", [False, True], ids=["pkcs8", "proc-type"])
def test_encrypted_key_without_password(login_variant: LoginPemVariants, traditional: bool) -> None:
    path = login_variant(password="s3cret", traditional=traditional)
    error = error_of(path)
    assert error.message == f"The private key in {path} is encrypted and no password was given"
    assert error.hint == "Set GPULAB_CERT_PASSWORD, or run on a terminal to be asked for it."


def test_encrypted_key_with_wrong_password(login_variant: LoginPemVariants) -> None:
    path = login_variant(password="s3cret")
    error = error_of(path, password="wrong")
    assert error.message == f"Wrong password for the private key in {path}"
    assert "wrong" not in str(error.hint)


def test_prompt_is_asked_only_for_an_encrypted_key(login_variant: LoginPemVariants) -> None:
    asked: list[Path] = []

    def prompt(path: Path) -> str:
        asked.append(path)
        return "s3cret"

    load_credentials(login_variant("plain.pem"), prompt=prompt)
    assert asked == []
    encrypted = login_variant("encrypted.pem", password="s3cret")
    assert load_credentials(encrypted, prompt=prompt).password == b"s3cret"
    assert asked == [encrypted]


def test_password_from_settings_wins_over_the_prompt(login_variant: LoginPemVariants) -> None:
    def prompt(path: Path) -> str:
        raise AssertionError("prompted although a password was given")

    credentials = load_credentials(login_variant(password="s3cret"), password="s3cret", prompt=prompt)
    assert credentials.password == b"s3cret"


def test_expired_certificate(login_variant: LoginPemVariants) -> None:
    now = datetime.now(UTC)
    path = login_variant(not_before=now - timedelta(days=400), not_after=now - timedelta(days=3, hours=1))
    error = error_of(path)
    expired = (now - timedelta(days=3, hours=1)).strftime("%Y-%m-%d %H:%M UTC")
    assert error.message == f"The certificate in {path} expired on {expired} (3 days ago)"
    assert error.hint == "Download a new login certificate from the iLab.t account portal."


def test_expired_certificate_is_reported_before_asking_for_a_password(login_variant: LoginPemVariants) -> None:
    now = datetime.now(UTC)
    path = login_variant(password="s3cret", not_before=now - timedelta(days=9), not_after=now - timedelta(days=2))
    assert "expired on" in error_of(path).message


def test_not_yet_valid_certificate(login_variant: LoginPemVariants) -> None:
    start = datetime.now(UTC) + timedelta(days=2)
    path = login_variant(not_before=start, not_after=start + timedelta(days=30))
    error = error_of(path)
    assert error.message == f"The certificate in {path} is not valid before {start:%Y-%m-%d %H:%M} UTC"
    assert error.hint is not None and "clock" in error.hint


def test_certificate_without_user_urn(login_variant: LoginPemVariants) -> None:
    path = login_variant(user_urn=None)
    error = error_of(path)
    assert error.message == (
        f"The certificate in {path} has no GPULab user URN (urn:publicid:IDN+...+user+...) in its subjectAltName"
    )


def test_legacy_virtual_wall_account_is_refused(login_variant: LoginPemVariants) -> None:
    path = login_variant(user_urn="urn:publicid:IDN+wall2.ilabt.iminds.be+user+old")
    assert "legacy Virtual Wall account" in error_of(path).message


def test_identity_without_email(login_variant: LoginPemVariants) -> None:
    assert load_credentials(login_variant(email=None)).identity.email is None


def test_missing_ca_bundle(login_variant: LoginPemVariants, tmp_path: Path) -> None:
    credentials = load_credentials(login_variant())
    with pytest.raises(CertificateError, match=r"Cannot use the CA bundle .*missing\.pem"):
        credentials.ssl_context(ca_bundle=tmp_path / "missing.pem")


def test_identity_is_a_value() -> None:
    moment = datetime(2030, 1, 1, tzinfo=UTC)
    one = Identity(user_urn=JDOE_URN, email=None, not_before=moment, not_after=moment, authority="ilabt.imec.be")
    assert one == Identity(user_urn=JDOE_URN, email=None, not_before=moment, not_after=moment,
                           authority="ilabt.imec.be")


def test_encrypted_key_without_password_and_without_terminal_fails_fast(login_variant: LoginPemVariants, tmp_path: Path) -> None:
    # The real entry point, stdin not a terminal: no OpenSSL "Enter PEM pass phrase:" hang.
    path = login_variant(password="s3cret")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GPULAB", "HTTPS_PROXY", "https_proxy"))}
    proc = subprocess.run(
        [sys.executable, "-m", "gpulab_apply", "whoami", "--cert", str(path),
         "--endpoint", "https://127.0.0.1:9/api/gpulab/v3.1/"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30, env=env, cwd=tmp_path, check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr == (
        f"Error: The private key in {path} is encrypted and no password was given\n"
        "Hint: Set GPULAB_CERT_PASSWORD, or run on a terminal to be asked for it.\n"
    )
