"""Who a request acts as: the user a login certificate names, or the emulator's default user.

One type for both sides: the client reads it from the login certificate (:mod:`certificate`), the
emulator from the certificate a caller presents (or its configured default user). It lives apart
from :mod:`certificate` so the emulator need not import ``cryptography`` to use it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gpulab_apply.errors import CertificateError

URN_PREFIX = "urn:publicid:IDN+"
_PROJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
#: asks the user for the key's password (the CLI prompts, only on a terminal); None when it cannot
PasswordPrompt = Callable[[Path], str]
_EVER_SINCE = datetime.min.replace(tzinfo=UTC)
_FOREVER = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Identity:
    """A GPULab user: URN, e-mail and, for a certificate, its validity dates.

    ``authority`` (``ilabt.imec.be``) is the URN's authority, also that of the user's projects; it
    is derived from ``user_urn`` when not given.
    """

    user_urn: str
    email: str | None
    not_before: datetime = _EVER_SINCE
    not_after: datetime = _FOREVER
    authority: str = ""

    def __post_init__(self) -> None:
        if not self.authority:
            derived = self.user_urn.removeprefix(URN_PREFIX).split("+", 1)[0]
            object.__setattr__(self, "authority", derived)

    @property
    def username(self) -> str:
        return self.user_urn.rsplit("+", 1)[-1]

    def days_left(self, now: datetime | None = None) -> int:
        """Whole days until the certificate expires (negative once expired)."""
        return (self.not_after - (now or datetime.now(UTC))).days

    def project_urn(self, project: str) -> str:
        """The project URN for a project name, under the user's authority (as GPULab's CLI builds it).

        A full project URN is returned unchanged.
        """
        if project.startswith(URN_PREFIX):
            return project
        if not _PROJECT_NAME.match(project):
            raise CertificateError(
                f"Invalid project name {project!r}",
                hint="A project name is letters, digits, '-', '_' and '.', or a full project URN.",
            )
        return f"{URN_PREFIX}{self.authority}+project+{project}"
