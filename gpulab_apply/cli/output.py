"""How commands write: whether a stream is a terminal, and a reporter's text echoed in one piece.

Light on purpose (no client, no requests), so every command can use it.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from typing import Any

import click


def is_terminal(stream: Any) -> bool:
    """Whether a stream is an interactive terminal (never true under CI or click's test runner)."""
    try:
        return stream is not None and bool(stream.isatty())
    except ValueError:  # a closed stream
        return False


def render(reporter: Callable[..., None], *, err: bool = False) -> None:
    """Run a reporter into a buffer and echo it; colour only when the target is a terminal."""
    color = is_terminal(sys.stderr if err else sys.stdout)
    buffer = io.StringIO()
    reporter(buffer, color=color)
    click.echo(buffer.getvalue(), nl=False, err=err, color=color)
