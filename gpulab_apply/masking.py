"""Secret masking for everything this tool shows (docs/plan-apply.md#secrets).

Two kinds of secret appear in jobs: environment variables whose *names* look secret (``*TOKEN*``,
``*SECRET*``, ``*PASSWORD*``, ``*KEY*``, any case) and registry credentials in an image reference
(``user:pass@registry/...``, a GPULab extension). Values are replaced by :data:`MASK`; the structure and
the non-secret parts stay visible so that a diff still says *that* a secret changed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

MASK = "***"

_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|KEY", re.IGNORECASE)
# user:pass@ before the registry; a docker reference has no other '@' (digests are rejected by GPULab)
_IMAGE_CREDENTIALS = re.compile(r"(?P<user>[^\s/:@'\"]+):(?P<password>[^\s/@'\"]+)@")

# a secret-looking name and its value in free text: a server's error message quoting the submitted
# environment as JSON ("HF_TOKEN": "hf_x"), as a Python dict ('HF_TOKEN': 'hf_x') or as NAME=value
_SECRET_ASSIGNMENT = re.compile(
    r"""(?P<name>(?P<q>["']?)\b[A-Za-z0-9_.-]*(?:TOKEN|SECRET|PASSWORD|KEY)[A-Za-z0-9_.-]*(?P=q)(?:\s*[:=]\s*|\s+with\s+value\s+))"""
    r"""(?P<value>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s,;}\])]+)""",
    re.IGNORECASE,
)
# the userinfo of a URL (``https://user:pass@host``, ``https://token@host``): all of it may be a secret
_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#@\s]*)@")
# what must never reach a terminal or a CI log raw: C0 and C1 controls, DEL, the line and paragraph
# separators, and the bidirectional overrides that reorder what a reader sees
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

PathPart = str | int


def is_secret_name(name: str) -> bool:
    """Whether an environment variable's name looks secret."""
    return _SECRET_NAME.search(name) is not None


def mask_text(text: str) -> str:
    """``user:pass@`` credentials (an image name, a message quoting one) -> ``user:***@``; a URL's
    userinfo -> ``***@``."""
    return _IMAGE_CREDENTIALS.sub(lambda m: f"{m['user']}:{MASK}@", mask_url(text))


def mask_message(text: str) -> str:
    """A message for people (a server's error, a hint, a log line) with every secret it may quote masked:
    what :func:`mask_text` masks, and the value after a secret-looking name (``"HF_TOKEN": "***"``,
    ``'API_KEY': '***'``, ``PASSWORD=***``, ``"HF_TOKEN" with value "***"``). Not for image names, where
    ``key:tag`` is no secret."""
    return mask_text(_SECRET_ASSIGNMENT.sub(_mask_assignment, text))


def _mask_assignment(match: re.Match[str]) -> str:
    value = match["value"]
    quote = value[0] if value[0] in "\"'" else ""
    return f"{match['name']}{quote}{MASK}{quote}"


def mask_url(text: str) -> str:
    """Every URL's userinfo (``https://user:pass@host/``) -> ``https://***@host/``; other text unchanged."""
    return _URL_USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)


def safe(text: str) -> str:
    """``text`` fit to print anywhere: control characters escaped (a newline shows as ``\\n``).

    User strings (job names, paths, server messages) pass through this before any reporter prints them,
    so that none can start a new line in a terminal or a CI log: no forged ``::error::`` workflow
    command, no broken table row, no escape sequence that repaints the terminal.
    """
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(lambda m: _ESCAPES.get(m[0]) or _escape(m[0]), text)


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def mask_value(value: Any, path: Sequence[PathPart] = ()) -> Any:
    """A copy of ``value`` (found at ``path`` in a job, e.g. ``("request", "docker")``) with secrets masked."""
    if len(path) >= 2 and path[-2] == "environment" and isinstance(path[-1], str) and is_secret_name(path[-1]):
        return MASK
    if path and path[-1] == "image" and isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {key: mask_value(item, (*path, key)) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [mask_value(item, (*path, index)) for index, item in enumerate(value)]
    return value
