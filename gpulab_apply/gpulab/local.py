"""This machine: which addresses are loopback, and who a request without a client certificate is
(the embedded emulator's default user and project).

Shared by the emulator (which binds only to loopback and acts for that user) and the client side
(which sends plain HTTP only to loopback and reports that user), so neither imports the other.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from urllib.parse import urlsplit

from gpulab_apply.gpulab.identity import Identity

LOCAL_USER_URN = "urn:publicid:IDN+ilabt.imec.be+user+local"
LOCAL_USER_EMAIL = "local@example.com"
LOCAL_PROJECT_URN = "urn:publicid:IDN+ilabt.imec.be+project+local"
#: the folder, at the workspace's root, where this tool keeps local state (the ``--local`` emulator's database;
#: found by :mod:`gpulab_apply.workspace`)
STATE_DIR_NAME = ".gpulab-apply"
#: the database of ``gpulab-apply emulator`` and ``--local`` mode, relative to the state folder's parent
LOCAL_DB_PATH = Path(STATE_DIR_NAME) / "emulator.db"


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 (bracketed or not) or ``localhost``."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


#: characters no endpoint needs, and on which URL parsers disagree (``\\`` is a path separator to
#: urllib3 but part of the user name to urllib.parse)
AMBIGUOUS = re.compile(r"[\\\s\x00-\x1f\x7f]")


def request_host(url: str) -> str:
    """The host an HTTP request to ``url`` goes to, judged as ``requests`` (urllib3) will parse it.

    Raises ValueError, saying why, for a URL that parsers could read differently: one with a
    backslash, whitespace or control characters, or a host or port on which ``urllib.parse`` and
    urllib3 disagree. Such a URL may look like loopback and go elsewhere (``http://evil.invalid:8080\\@127.0.0.1/``
    goes to evil.invalid). A user name is allowed: both parsers agree that ``http://127.0.0.1@evil.invalid/``
    goes to evil.invalid, so it is judged by that host.
    """
    # urllib3 only to judge an endpoint: the emulator and the workspace use this module without it
    from urllib3.exceptions import LocationParseError
    from urllib3.util import parse_url

    if AMBIGUOUS.search(url):
        raise ValueError("it contains a backslash, a space or a control character")
    try:
        parsed = parse_url(url)
    except LocationParseError as exc:
        raise ValueError(f"it cannot be parsed ({exc})") from None
    split = urlsplit(url)
    host = (parsed.host or "").strip("[]").lower()
    if not host or host != (split.hostname or "").lower() or parsed.port != split.port:
        raise ValueError("URL parsers disagree on its host")
    return host


def has_userinfo(url: str) -> bool:
    """True when ``url`` holds a user name or password before its host (``https://user:pw@host/``), as any
    URL parser would read it: an ``@`` anywhere in the authority counts, even one a parser takes for the path."""
    authority = url.split("://", 1)[-1]
    return "@" in re.split(r"[/?#]", authority, maxsplit=1)[0]


def is_loopback_url(url: str) -> bool:
    """True only when a request to ``url`` unambiguously goes to this machine (see :func:`request_host`)."""
    try:
        return is_loopback(request_host(url))
    except ValueError:
        return False


def local_identity() -> Identity:
    """The emulator's default user, which every certificate-less request acts as."""
    return Identity(LOCAL_USER_URN, LOCAL_USER_EMAIL)
