"""Problems found in job files, as data: what is wrong, and exactly where.

Loader, schema and semantic checks all produce :class:`Problem` records; reporters render them.
Lines and columns are 1-based, as editors and GitHub annotations count them.

Records are frozen dataclasses (docs/validate.md#start-up); :class:`Problem` is still a named tuple until the
reporters that copy it with ``_replace`` move to :func:`dataclasses.replace`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Location:
    """A place in a file: ``path`` as the user named it (posix separators), 1-based line and column."""

    path: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        parts = [self.path]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)


class Problem(NamedTuple):
    """One thing wrong with a job file.

    ``json_path`` is the dotted path inside the job (``request.resources.gpus``, list items as
    ``storage[2]``), empty for problems of the file or document itself. Reports list problems by file,
    line and column (:func:`gpulab_apply.jobfiles.validation.validate_paths` sorts them with an explicit
    key; comparing two problems as tuples would reach ``hint``, which may be None).
    """

    location: Location
    message: str
    json_path: str = ""
    severity: Severity = Severity.ERROR
    #: an extra line of advice ("did you mean `cpuMemoryGb`?"), or None
    hint: str | None = None

    def __str__(self) -> str:
        where = f"{self.json_path}: " if self.json_path else ""
        text = f"{self.location}: {self.severity.value}: {where}{self.message}"
        return f"{text} ({self.hint})" if self.hint else text


def format_json_path(path: Sequence[str | int]) -> str:
    """A path inside a job as problems and diffs show it: ``("request", "docker", "storage", 2)`` ->
    ``request.docker.storage[2]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text
