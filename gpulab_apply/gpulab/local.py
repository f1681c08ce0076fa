"""This machine: which addresses are loopback, and who a request without a client certificate is
(the embedded emulator's default user and project).

Shared by the emulator (which binds only to loopback and acts for that user) and the client side
(which sends plain HTTP only to loopback and reports that user), so neither imports the other.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

LOCAL_USER_URN = "urn:publicid:IDN+ilabt.imec.be+user+local"
LOCAL_USER_EMAIL = "local@example.com"
LOCAL_PROJECT_URN = "urn:publicid:IDN+ilabt.imec.be+project+local"
#: the folder, beside the job files, where this tool keeps local state (the ``--local`` emulator's database)
STATE_DIR_NAME = ".gpulab-apply"
#: the database of ``gpulab-apply emulator`` and ``--local`` mode, relative to the working directory
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


def up_to_repository_top(start: Path, cwd: Path) -> list[Path]:
    """The directories from ``start`` up to the git repository's top level, nearest first; outside a repository,
    up to the working directory ``cwd`` at most (never wandering above where the user stands)."""
    walk: list[Path] = []
    for candidate in (start, *start.parents):
        walk.append(candidate)
        if (candidate / ".git").exists():
            return walk
    here = cwd.resolve()
    return walk[:walk.index(here) + 1] if here in walk else [start]


def find_state_dir(job_paths: Sequence[Path], cwd: Path) -> Path:
    """The ``.gpulab-apply/`` directory of the repository the command works in, so that ``--local`` run
    from a subdirectory finds the same emulator state as from the top.

    The directories from the first job directory (or the working directory) up to the git repository's
    top level (outside a repository: up to the working directory) are searched for an existing
    ``.gpulab-apply/``, nearest first. A new one goes beside the nearest ``jobs.d``, else at the top of
    the repository (outside one: in the working directory).
    """
    start = ((cwd / job_paths[0]) if job_paths else cwd).resolve()
    start = start if start.is_dir() or not start.exists() else start.parent
    walk = up_to_repository_top(start, cwd)
    for candidate in walk:
        if (candidate / STATE_DIR_NAME).is_dir():
            return candidate / STATE_DIR_NAME
    for candidate in walk:
        if (candidate / "jobs.d").is_dir():
            return candidate / STATE_DIR_NAME
    return walk[-1] / STATE_DIR_NAME
