"""Reading TLS failures: OpenSSL's short reason, and the ``ssl.SSLError`` buried in an exception chain.

Shared by certificate loading (no ``requests`` there) and the transport, which meets TLS errors
wrapped two or three layers deep by ``urllib3`` and ``requests``.
"""

from __future__ import annotations

import ssl


def ssl_reason(exc: BaseException) -> str:
    """OpenSSL's short reason (``CERTIFICATE_VERIFY_FAILED``, ``TLSV1_ALERT_UNKNOWN_CA``) when the ssl
    module set one, else the OS error text, else the exception's text."""
    return str(getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc)


def tls_failure(exc: BaseException) -> ssl.SSLError | None:
    """The ssl.SSLError somewhere in an exception's causes, contexts, ``reason`` and arguments, if any."""
    seen: set[int] = set()
    pending: list[object] = [exc]
    while pending:
        current = pending.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLError):
            return current
        pending.extend([current.__cause__, current.__context__, getattr(current, "reason", None), *current.args])
    return None
