"""Simulated time: wall time sped up, or a manual clock that tests move forward explicitly.

Times are POSIX seconds (floats). The emulator never sleeps on simulated time: it advances the
cluster lazily to ``clock.now()`` whenever a request comes in.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

from gpulab_apply.model import format_timestamp, parse_timestamp


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
    """POSIX seconds as GPULab serialises its timestamps (:func:`gpulab_apply.model.format_timestamp`)."""
    return format_timestamp(seconds)


def parse_time(text: str) -> float:
    """An RFC 3339 timestamp with a zone as POSIX seconds (:func:`gpulab_apply.model.parse_timestamp`);
    ValueError for anything else, which the emulator turns into a 400 answer."""
    parsed = parse_timestamp(text)
    if parsed is None:
        raise ValueError(f"not an RFC 3339 time with a zone: {text!r}")
    return parsed.timestamp()
