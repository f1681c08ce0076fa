"""The GPULab login certificate: one PEM file holding the user's certificate and private key.

Reads who the certificate says the user is (user URN, e-mail, validity, authority), checks that it
can be used (present, readable, has a key that belongs to it, decryptable, within its validity
dates) and builds the :class:`ssl.SSLContext` that presents it to GPULab.

Encrypted keys are checked with ``cryptography`` first and the password is always handed to OpenSSL
explicitly, so OpenSSL never prompts on a terminal by itself (a hidden hang in CI otherwise). The
password is never logged or put into a message.
"""

from __future__ import annotations

import functools
import re
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from gpulab_apply.errors import CertificateError
from gpulab_apply.gpulab.identity import URN_PREFIX, Identity, PasswordPrompt
from gpulab_apply.gpulab.tls import ssl_reason

__all__ = ["Credentials", "Identity", "PasswordPrompt", "check_validity", "identity_of", "load_credentials"]

#: GPULab refuses the old iMinds Virtual Wall accounts, as its official CLI does
LEGACY_AUTHORITY = "wall2.ilabt.iminds.be"

_KEY_BLOCK = re.compile(
    rb"-----BEGIN ((?:RSA |EC |DSA |ENCRYPTED )?PRIVATE KEY)-----.+?-----END \1-----", re.DOTALL
)


_HINT_DOWNLOAD = (
    "Download your login certificate (PEM with certificate and key) from the iLab.t account portal "
    "and pass it with --cert or GPULAB_CERT."
)


@dataclass(frozen=True, kw_only=True)
class Credentials:
    """A usable login PEM: its path, its identity, and the key's password when it has one."""

    path: Path
    identity: Identity
    password: bytes | None = field(default=None, repr=False)

    def ssl_context(self, *, ca_bundle: Path | None = None) -> ssl.SSLContext:
        """A TLS client context presenting this certificate, verifying the server.

        Trust: only ``ca_bundle`` when given, else the system store plus certifi's bundle (what
        ``requests`` users expect). Hostname checking and certificate verification stay on.
        """
        try:
            context = ssl.create_default_context(cafile=str(ca_bundle) if ca_bundle else None)
        except (OSError, ssl.SSLError) as exc:
            raise CertificateError(
                f"Cannot use the CA bundle {ca_bundle}: {ssl_reason(exc)}",
                hint="--ca-bundle / GPULAB_CA_BUNDLE must be a PEM file of CA certificates.",
            ) from None
        if ca_bundle is None:
            _load_certifi(context)
        password = self.password

        def provide_password() -> bytes:
            # Never reached for a plain key; for an encrypted one the password was checked already.
            # Returning bytes (never None) keeps OpenSSL from prompting on the terminal.
            return password or b""

        try:
            context.load_cert_chain(str(self.path), str(self.path), password=provide_password)
        except (ssl.SSLError, OSError) as exc:
            raise CertificateError(
                f"OpenSSL cannot use the certificate and key in {self.path}: {ssl_reason(exc)}",
                hint=_HINT_DOWNLOAD,
            ) from None
        return context


def load_credentials(
    path: Path,
    *,
    password: str | None = None,
    prompt: PasswordPrompt | None = None,
    now: datetime | None = None,
) -> Credentials:
    """Read and check a login PEM; ask ``prompt`` for a password only when the key is encrypted.

    Raises :class:`CertificateError` with a distinct message for each way it can be unusable.
    """
    data = _read(path)
    certificate = _first_certificate(path, data)
    identity = identity_of(certificate, path=path)
    key_block = _KEY_BLOCK.search(data)
    if key_block is None:
        raise CertificateError(
            f"{path} holds a certificate but no private key",
            hint="GPULab's login PEM has both in one file; " + _HINT_DOWNLOAD,
        )
    # Dates before the key: no point asking for the password of an expired certificate.
    check_validity(identity, path=path, now=now)
    secret = _decrypt_key(path, key_block.group(0), certificate, password=password, prompt=prompt)
    return Credentials(path=path, identity=identity, password=secret)


def identity_of(certificate: x509.Certificate, *, path: Path) -> Identity:
    """The user URN and e-mail from the subjectAltName (first URI, first e-mail), and the dates."""
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = x509.SubjectAlternativeName([])
    uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    emails = san.get_values_for_type(x509.RFC822Name)
    user_urn = next((uri for uri in uris if uri.startswith(URN_PREFIX) and "+user+" in uri), None)
    if user_urn is None:
        raise CertificateError(
            f"The certificate in {path} has no GPULab user URN (urn:publicid:IDN+...+user+...) "
            "in its subjectAltName",
            hint="This is not an iLab.t login certificate. " + _HINT_DOWNLOAD,
        )
    authority = user_urn[len(URN_PREFIX):].split("+", 1)[0]
    if authority == LEGACY_AUTHORITY:
        raise CertificateError(
            f"The certificate in {path} belongs to a legacy Virtual Wall account ({user_urn}); "
            "GPULab does not accept those",
            hint="Create an imec iLab.t account and use its login certificate.",
        )
    return Identity(
        user_urn=user_urn,
        email=emails[0] if emails else None,
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        authority=authority,
    )


def check_validity(identity: Identity, *, path: Path, now: datetime | None = None) -> None:
    """Refuse a certificate outside its validity dates, as GPULab's CLI does."""
    now = now or datetime.now(UTC)
    if now > identity.not_after:
        days = (now - identity.not_after).days
        raise CertificateError(
            f"The certificate in {path} expired on {_day(identity.not_after)} "
            f"({days} day{'' if days == 1 else 's'} ago)",
            hint="Download a new login certificate from the iLab.t account portal.",
        )
    if now < identity.not_before:
        raise CertificateError(
            f"The certificate in {path} is not valid before {_day(identity.not_before)}",
            hint="Check this computer's clock, or wait until the certificate becomes valid.",
        )


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CertificateError(f"Certificate file not found: {path}", hint=_HINT_DOWNLOAD) from None
    except IsADirectoryError:
        raise CertificateError(f"Certificate path is a directory, not a PEM file: {path}",
                               hint=_HINT_DOWNLOAD) from None
    except OSError as exc:
        raise CertificateError(
            f"Cannot read certificate file {path}: {exc.strerror or exc}",
            hint="Check the file's permissions (it should be readable by you only).",
        ) from None


def _first_certificate(path: Path, data: bytes) -> x509.Certificate:
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise CertificateError(f"{path} holds no PEM certificate", hint=_HINT_DOWNLOAD)
    try:
        return x509.load_pem_x509_certificates(data)[0]
    except ValueError as exc:
        raise CertificateError(f"The certificate in {path} is damaged: {exc}", hint=_HINT_DOWNLOAD) from None


def _decrypt_key(
    path: Path,
    block: bytes,
    certificate: x509.Certificate,
    *,
    password: str | None,
    prompt: PasswordPrompt | None,
) -> bytes | None:
    """Check the key loads (with a password when encrypted) and matches the certificate.

    Returns the password (bytes) for an encrypted key, None for a plain one.
    """
    secret: bytes | None = None
    # The RSA self-check (are p, q, d consistent?) costs 30-80 ms and guards nothing here: what matters
    # is that the key belongs to the certificate, checked below, and OpenSSL checks it again on loading.
    load = functools.partial(serialization.load_pem_private_key, unsafe_skip_rsa_key_validation=True)
    try:
        key = load(block, password=None)
    except TypeError:  # cryptography: "Password was not given but private key is encrypted"
        if password is None and prompt is not None:
            password = prompt(path)
        if not password:
            raise CertificateError(
                f"The private key in {path} is encrypted and no password was given",
                hint="Set GPULAB_CERT_PASSWORD, or run on a terminal to be asked for it.",
            ) from None
        secret = password.encode()
        try:
            key = load(block, password=secret)
        except ValueError:
            raise CertificateError(
                f"Wrong password for the private key in {path}",
                hint="Check GPULAB_CERT_PASSWORD (it is the password of the login certificate).",
            ) from None
    except ValueError as exc:
        raise CertificateError(f"The private key in {path} cannot be read: {exc}", hint=_HINT_DOWNLOAD) from None
    except UnsupportedAlgorithm as exc:
        raise CertificateError(f"The private key in {path} cannot be used: {exc}") from None
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*spki) != certificate.public_key().public_bytes(*spki):
        raise CertificateError(
            f"The private key in {path} does not belong to its certificate",
            hint="The PEM mixes a key and a certificate from different downloads. " + _HINT_DOWNLOAD,
        )
    return secret


def _load_certifi(context: ssl.SSLContext) -> None:
    try:
        import certifi  # a dependency of requests; absent only in unusual installs
    except ImportError:
        return
    context.load_verify_locations(certifi.where())


def _day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
