"""Simulated time: wall time sped up, or a manual clock that tests move forward explicitly.

Times are POSIX seconds (floats). The emulator never sleeps on simulated time: it advances the
cluster lazily to ``clock.now()`` whenever a request comes in.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...


class ScaledClock:
    """Wall time, ``speed`` times faster, starting at ``start`` (never before the last stored event)."""

    def __init__(self, *, speed: float = 1.0, start: float | None = None) -> None:
        self.speed = speed
        self._origin_wall = time.monotonic()
        self._origin_sim = time.time() if start is None else start

    def now(self) -> float:
        return self._origin_sim + (time.monotonic() - self._origin_wall) * self.speed


class ManualClock:
    """A clock that only moves when told to, for deterministic tests."""

    def __init__(self, start: float) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        """Move simulated time forward by ``seconds`` and return the new time."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        with self._lock:
            self._now += seconds
            return self._now


def format_time(seconds: float) -> str:
    """RFC 3339 in UTC with whole seconds, as GPULab serialises its timestamps."""
    return datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> float:
    """Parse an RFC 3339 timestamp with a zone (``Z`` or an offset) to POSIX seconds."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp without a time zone: {text}")
    return parsed.timestamp()
