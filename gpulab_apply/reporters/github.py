"""GitHub Actions workflow commands (``::error file=...,line=...::message``), escaped as the runner expects."""

from __future__ import annotations

from typing import Literal

from gpulab_apply.masking import safe
from gpulab_apply.problems import Location

Level = Literal["error", "warning", "notice"]


def _escape_data(text: str) -> str:
    # a message may span lines on purpose (a diff under a job); each line loses its control characters
    text = "\n".join(safe(line) for line in text.split("\n"))
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(safe(text)).replace(":", "%3A").replace(",", "%2C")


def annotation(level: Level, message: str, *, location: Location | None = None, title: str | None = None) -> str:
    """One workflow-command line; GitHub pins it to ``location`` in the pull request's diff."""
    properties = []
    if location is not None:
        properties.append(f"file={_escape_property(location.path)}")
        if location.line is not None:
            properties.append(f"line={location.line}")
            if location.column is not None:
                properties.append(f"col={location.column}")
    if title:
        properties.append(f"title={_escape_property(title)}")
    head = f"::{level} {','.join(properties)}" if properties else f"::{level}"
    return f"{head}::{_escape_data(message)}"
