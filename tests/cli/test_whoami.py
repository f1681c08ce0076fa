"""``gpulab-apply whoami`` through the real entry point, against the emulator over mutual TLS and --local."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import sys
import time
from pathlib import Path

import pytest

from gpulab_apply.emulator import RunningEmulator
from gpulab_apply.gpulab.certificate import load_credentials
from tests.conftest import RunCli
from tests.fixtures.certificates import CertificateAuthority, LoginPemVariants


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("GPULAB_ENDPOINT", "GPULAB_CERT", "GPULAB_CERT_PASSWORD", "GPULAB_CA_BUNDLE", "GPULAB_PROJECT",
                 "GPULAB_APPLY_SET", "GPULAB_APPLY_CONFIG", "GPULAB_API_VERSION", "GPULAB_APPLY_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_whoami_over_mutual_tls(cli: RunCli, tls_emulator: RunningEmulator, login_pem: Path, ca_file: Path) -> None:
    identity = load_credentials(login_pem).identity
    result = cli("whoami", "--endpoint", tls_emulator.base_url, "--api-version", "4.0", "--ca-bundle", str(ca_file),
                 "--project", "myproj", "--set", "exp-1", env={"GPULAB_CERT": str(login_pem)})
    assert result.exit_code == 0, result
    lines = result.stdout.splitlines()
    days = identity.days_left()
    assert lines[:-1] == [
        "User:        urn:publicid:IDN+ilabt.imec.be+user+jdoe",
        "E-mail:      jdoe@example.com",
        f"Certificate: {login_pem}",
        f"Valid until: {identity.not_after:%Y-%m-%d %H:%M} UTC ({days} days left - renew it soon)",
        f"Endpoint:    {tls_emulator.api_root('4.0')}",
        "API version: 4.0",
        "Project:     urn:publicid:IDN+ilabt.imec.be+project+myproj",
        "Set:         exp-1",
    ]
    assert re.fullmatch(r"GPULab accepts this certificate \(checked with a job listing in \d+\.\d\d s\)\.", lines[-1])
    assert result.stderr == ""


def test_whoami_when_gpulab_rejects_the_certificate(
    cli: RunCli, tls_emulator: RunningEmulator, other_authority: CertificateAuthority, ca_file: Path, tmp_path: Path,
    quick_retries: None,
) -> None:
    pem = LoginPemVariants(other_authority, tmp_path)("stranger.pem")
    result = cli("whoami", "--endpoint", tls_emulator.base_url, "--cert", str(pem), "--ca-bundle", str(ca_file))
    assert result.exit_code == 1, result
    assert result.stdout.startswith("User:        urn:publicid:IDN+ilabt.imec.be+user+jdoe\n")
    assert "accepts" not in result.stdout
    # the alert, or a reset that swallowed it (see tests/gpulab/test_client_tls.py)
    assert re.match(r"Error: (127\.0\.0\.1 rejected the client certificate during the TLS handshake \("
                    r"|Could not list jobs: 127\.0\.0\.1 closed every connection right after the TLS handshake)",
                    result.stderr), result.stderr
    assert result.stderr.endswith(
        "Hint: Check --cert / GPULAB_CERT: GPULab accepts iLab.t login certificates only.\n"
    )


def test_verbose_output_never_shows_the_password(
    cli: RunCli, tls_emulator: RunningEmulator, login_variant: LoginPemVariants, ca_file: Path
) -> None:
    secret = "correct horse battery staple"
    pem = login_variant(password=secret)
    result = cli("whoami", "--verbose", "--endpoint", tls_emulator.api_root("3.1"), "--cert", str(pem),
                 "--ca-bundle", str(ca_file), env={"GPULAB_CERT_PASSWORD": secret})
    assert result.exit_code == 0, result
    assert secret not in result.stdout + result.stderr
    assert "gpulab-apply: password:     (set)  [GPULAB_CERT_PASSWORD]\n" in result.stderr
    assert f"gpulab-apply: certificate:  {pem}  [--cert]\n" in result.stderr
    assert re.search(r"gpulab-apply: GET https://127\.0\.0\.1:\d+/api/gpulab/v3\.1/jobs\?max_count=1&max_hours=1 "
                     r"-> 200 in \d+\.\d\d s \(attempt 1\)", result.stderr), result.stderr


def test_wrong_password_from_the_environment(cli: RunCli, login_variant: LoginPemVariants) -> None:
    pem = login_variant(password="right")
    # a password is masked in all output, even in a path: this one appears nowhere else
    result = cli("whoami", "--cert", str(pem), env={"GPULAB_CERT_PASSWORD": "not-the-right-one"})
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: Wrong password for the private key in {pem}\n"
        "Hint: Check GPULAB_CERT_PASSWORD (it is the password of the login certificate).\n"
    )


def test_whoami_local(cli: RunCli, tmp_path: Path) -> None:
    result = cli("whoami", "--local", "--set", "demo")
    assert result.exit_code == 0, result
    lines = result.stdout.splitlines()
    assert lines[:3] == [
        "User:        urn:publicid:IDN+ilabt.imec.be+user+local",
        "E-mail:      local@example.com",
        "Certificate: none (local emulator: every request acts as this user)",
    ]
    assert re.fullmatch(r"Endpoint:    http://127\.0\.0\.1:\d+/api/gpulab/v4\.0/", lines[3])
    assert lines[4:7] == [
        "API version: 4.0",
        "Project:     urn:publicid:IDN+ilabt.imec.be+project+local",
        "Set:         demo",
    ]
    assert lines[7].startswith("The emulator accepts the connection (checked with a job listing in ")
    assert (tmp_path / ".gpulab-apply" / "emulator.db").is_file()


def test_whoami_refuses_plain_http_to_a_remote_host(cli: RunCli) -> None:
    result = cli("whoami", "--endpoint", "http://gpulab.example.org/api/")
    assert result.exit_code == 64  # a bad --endpoint is a usage error (docs/commands.md#exit-codes)
    assert result.stderr.startswith("Error: --endpoint: plain http:// is refused for gpulab.example.org")


def test_whoami_without_certificate(cli: RunCli) -> None:
    result = cli("whoami")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: No client certificate: GPULab authenticates with your iLab.t login certificate\n"
        "Hint: Pass --cert PEM or set GPULAB_CERT (or use --local to try the embedded emulator).\n"
    )


def test_bad_api_version_flag_is_a_usage_error(cli: RunCli) -> None:
    result = cli("whoami", "--api-version", "5.0")
    assert result.exit_code == 64
    assert "Invalid value for '--api-version'" in result.stderr


def test_password_is_prompted_for_on_a_terminal(tls_emulator: RunningEmulator, login_variant: LoginPemVariants,
                                                ca_file: Path, tmp_path: Path) -> None:
    pem = login_variant(password="s3cret")
    argv = [sys.executable, "-m", "gpulab_apply", "whoami", "--endpoint", tls_emulator.base_url, "--cert", str(pem),
            "--ca-bundle", str(ca_file)]
    env = {key: value for key, value in os.environ.items() if not key.startswith("GPULAB")}
    pid, fd = pty.fork()
    if pid == 0:  # the child: the real entry point, with the pseudo-terminal as its terminal
        os.chdir(tmp_path)
        os.execve(sys.executable, argv, env)
    output = b""
    try:
        output = _read_until(fd, b"Password for the private key in ")
        os.write(fd, b"s3cret\n")
        output += _read_until(fd, b"checked with a job listing")
    finally:
        status = _reap(pid)
        os.close(fd)
    text = output.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "s3cret" not in text  # hidden input: not echoed
    assert "User:        urn:publicid:IDN+ilabt.imec.be+user+jdoe" in text
    assert "GPULab accepts this certificate" in text


def _reap(pid: int, timeout: float = 10.0) -> int:
    """The child's wait status; a child still running after ``timeout`` seconds is killed (no hang)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    return os.waitpid(pid, 0)[1]


def _read_until(fd: int, marker: bytes, timeout: float = 20.0) -> bytes:
    """What a pseudo-terminal shows until ``marker`` appears (failing after ``timeout`` seconds)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"{marker!r} did not appear; the terminal showed: {seen!r}")
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                chunk = b""
            if not chunk:
                raise AssertionError(f"{marker!r} did not appear before the end; the terminal showed: {seen!r}")
            seen += chunk
    return seen
