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

PathPart = str | int


def is_secret_name(name: str) -> bool:
    """Whether an environment variable's name looks secret."""
    return _SECRET_NAME.search(name) is not None


def mask_text(text: str) -> str:
    """``user:pass@`` credentials in free text (an image name, a server's error message) -> ``user:***@``."""
    return _IMAGE_CREDENTIALS.sub(lambda m: f"{m['user']}:{MASK}@", text)


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
