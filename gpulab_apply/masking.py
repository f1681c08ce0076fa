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
    r"""(?P<name>(?P<q>["']?)(?<!\{)\b[A-Za-z0-9_.-]*(?:TOKEN|SECRET|PASSWORD|KEY)[A-Za-z0-9_.-]*(?P=q)(?:\s*[:=]\s*|\s+with\s+value\s+))"""
    r"""(?P<value>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s,;}\])]+)""",
    re.IGNORECASE,
)
# the userinfo of a URL (``https://user:pass@host``, ``https://token@host``): all of it may be a secret
_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#@\s]*)@")
#: what must never reach a terminal or a CI log raw: C0 and C1 controls, DEL, the line and paragraph
#: separators, and the bidirectional controls that reorder what a reader sees (also why validate warns of a job name)
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

PathPart = str | int

#: values this run took from the environment (``${VAR}`` in job files): secrets wherever they appear
_registered: set[str] = set()
_registered_pattern: re.Pattern[str] | None = None
#: shorter values are masked only where a whole job value equals them: masking every "1" in free text
#: would garble messages without hiding anything a reader could not guess
MIN_TEXT_SECRET = 4


def register_secret(value: str) -> None:
    """Mask ``value`` in every later output of this process (docs/authoring.md#variables)."""
    global _registered_pattern
    if value and value not in _registered:
        _registered.add(value)
        longest_first = sorted((v for v in _registered if len(v) >= MIN_TEXT_SECRET), key=len, reverse=True)
        _registered_pattern = re.compile("|".join(map(re.escape, longest_first))) if longest_first else None


def mask_registered(text: str) -> str:
    """Registered secrets in ``text`` -> ``***``."""
    if text in _registered:
        return MASK
    return _registered_pattern.sub(MASK, text) if _registered_pattern is not None else text


def is_secret_name(name: str) -> bool:
    """Whether an environment variable's name looks secret."""
    return _SECRET_NAME.search(name) is not None


def mask_text(text: str) -> str:
    """``user:pass@`` credentials in free text (an image name, a server's error message) -> ``user:***@``,
    and the userinfo of URLs -> ``***@``."""
    return _IMAGE_CREDENTIALS.sub(lambda m: f"{m['user']}:{MASK}@", mask_url(mask_registered(text)))


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
    if UNSAFE.search(text) is None:
        return text
    return UNSAFE.sub(lambda m: _ESCAPES.get(m[0]) or _escape(m[0]), text)


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
    if isinstance(value, str) and _registered:
        return mask_registered(value)
    return value
