"""What a request that got no (whole) answer means: was it sent, why did it fail, did the server hang up.

``requests`` and urllib3 wrap the real cause two or three layers deep; these read it out, for the
transport's retry decisions and messages (the TLS part is :mod:`gpulab.tls`). :data:`TRANSPORT_ERRORS`
is every exception the HTTP stack raises for a request or an answer it could not complete: the transport
catches exactly these and turns each into this tool's errors (docs/client.md#what-a-failure-means).
"""

from __future__ import annotations

import http.client
import ssl

import requests
import urllib3.exceptions

from gpulab_apply.gpulab.policy import Timeouts
from gpulab_apply.gpulab.tls import ssl_reason, tls_failure

#: what ``requests`` (and, under it, urllib3 and http.client) raise for a request or answer cut short: no
#: connection, a timeout, a body cut off mid-way or undecodable, a TLS failure mid-read. ``OSError`` and
#: ``HTTPException`` are there for whatever the layers above let through unwrapped; ``UnicodeError`` for
#: headers that are not text (``requests`` decodes a redirect's ``Location`` even when not following it).
TRANSPORT_ERRORS: tuple[type[Exception], ...] = (
    requests.exceptions.RequestException, urllib3.exceptions.HTTPError, http.client.HTTPException, OSError,
    UnicodeError,
)


class AnswerTimedOut(requests.exceptions.ReadTimeout):
    """The whole answer did not arrive within the time allowed for it (the server may trickle bytes)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no complete answer within {seconds:g} s")
        self.seconds = seconds


def may_have_reached_server(exc: BaseException) -> bool:
    """False only when no connection was made, so the request cannot have been seen by the server."""
    if isinstance(exc, requests.exceptions.ConnectTimeout | requests.exceptions.ProxyError):
        return False
    cause = exc.args[0] if exc.args else None
    reason = getattr(cause, "reason", None)
    return not isinstance(reason, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError)


def connection_reason(exc: BaseException, timeouts: Timeouts) -> str:
    """Why a request got no answer, in a few words."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"no connection within {timeouts.connect:g} s"
    if isinstance(exc, AnswerTimedOut):
        return f"no answer within {exc.seconds:g} s"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return f"no answer within {timeouts.read:g} s"
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return "the answer's compressed body is corrupt"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "the answer was cut off mid-body"
    if isinstance(exc, requests.exceptions.InvalidJSONError):
        return "the answer is not JSON"
    if isinstance(exc, UnicodeError):
        return "the answer's headers are not valid text"
    cause = exc.args[0] if exc.args else None
    reason = getattr(cause, "reason", None) or cause
    if isinstance(reason, urllib3.exceptions.NameResolutionError):
        return "the host name does not resolve"
    if isinstance(reason, urllib3.exceptions.NewConnectionError):
        return "connection refused" if "refused" in str(reason).lower() else "cannot connect"
    if isinstance(reason, urllib3.exceptions.ProtocolError):
        inner = reason.args[1] if len(reason.args) > 1 else reason
        return f"the connection was dropped ({type(inner).__name__})"
    failure = tls_failure(exc)
    if failure is not None:
        return f"the TLS connection failed ({ssl_reason(failure)})"
    if isinstance(exc, http.client.HTTPException | urllib3.exceptions.HTTPError):
        return f"the answer is not valid HTTP ({type(exc).__name__})"
    return f"connection failed ({type(reason).__name__})"


def is_unresolvable(exc: BaseException) -> bool:
    """The host name does not resolve: asking again in a few seconds gives the same answer (a typo in the
    endpoint, no network), so it is not retried (docs/client.md#retries)."""
    cause = exc.args[0] if exc.args else None
    reason = getattr(cause, "reason", None) or cause
    return isinstance(reason, urllib3.exceptions.NameResolutionError)


def is_hang_up(exc: BaseException) -> bool:
    """The server closed the connection (TLS EOF, reset, no status line) rather than refusing or timing out."""
    if isinstance(tls_failure(exc), ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return True
    cause = exc.args[0] if exc.args else None
    reason = getattr(cause, "reason", None) or cause
    if isinstance(reason, urllib3.exceptions.ProtocolError):
        inner = reason.args[1] if len(reason.args) > 1 else None
        return isinstance(inner, ConnectionResetError | http.client.RemoteDisconnected)
    return False
