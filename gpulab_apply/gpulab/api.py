"""GPULab's API versions, and what each one can do: the single answer to "is this v4?".

The client, the settings and the emulator all ask it here (reference §1.4, docs/client.md#api-versions).
"""

from __future__ import annotations

import re
from enum import StrEnum


class ApiVersion(StrEnum):
    """A GPULab job API version, as it appears in the API root (``.../api/gpulab/v3.1/``).

    A ``StrEnum``: it is its own wire text (``"3.1"``) and compares equal to it.
    """

    V3_0 = "3.0"
    V3_1 = "3.1"
    V4_0 = "4.0"

    @property
    def is_v4(self) -> bool:
        """v4.0: pages listings, answers ``{"items": [...]}``, requires ``owner.projectUrn``, knows CANCELLING."""
        return self is ApiVersion.V4_0

    @property
    def max_hours(self) -> int | None:
        """How far back a listing can see, in hours: GPULab caps v3.x at 744 (31 days); v4.0 has no cap."""
        return None if self.is_v4 else V3_MAX_HOURS

    @property
    def max_count(self) -> int | None:
        """At most this many jobs per v3.x listing (no pages); None on v4.0, which pages."""
        return None if self.is_v4 else V3_MAX_COUNT

    @property
    def other(self) -> ApiVersion:
        """The version to suggest when this one is not served: 4.0 for v3.x, 3.1 for v4.0."""
        return ApiVersion.V3_1 if self.is_v4 else ApiVersion.V4_0

    @classmethod
    def parse(cls, text: object) -> ApiVersion | None:
        """``3.1``, ``v3.1``, ``V4.0`` (surrounding blanks ignored); None for anything else."""
        if isinstance(text, ApiVersion):
            return text
        cleaned = str(text).strip().lstrip("vV")
        try:
            return cls(cleaned)
        except ValueError:
            return None

    @classmethod
    def in_url(cls, url: str) -> str | None:
        """The ``X.Y`` of a ``/vX.Y/`` path ending, supported or not; None when the path names no version."""
        match = _VERSION_IN_PATH.search(url.split("?", 1)[0].split("#", 1)[0].rstrip("/"))
        return match.group(1) if match else None


#: GPULab's own client limits on v3.x (reference §1.4): at most 200 jobs, at most 744 hours back
V3_MAX_COUNT = 200
V3_MAX_HOURS = 744
#: what GPULab fills in for ``request.scheduling.maxDuration`` when a job leaves it out: "GPULab always stops
#: your jobs after 2 weeks" (reference §2, scheduling; the documented default has changed before)
DEFAULT_MAX_DURATION = "2 weeks"
#: every supported version's wire text, oldest first
API_VERSIONS: tuple[str, ...] = tuple(version.value for version in ApiVersion)
#: the version used when neither the endpoint nor a setting names one; why not 3.1: docs/client.md#api-versions
DEFAULT_API_VERSION = ApiVersion.V4_0.value
_VERSION_IN_PATH = re.compile(r"/v(\d+\.\d+)$")
