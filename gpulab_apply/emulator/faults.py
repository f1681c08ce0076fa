"""Fault injection for robustness tests: latency, 5xx answers, and "commit the write, then drop the connection".

Faults are switched per endpoint (``"POST jobs"``, ``"GET jobs/{uuid}"``, ... or ``"*"`` for all) at
runtime, from tests or from ``gpulab-apply emulator`` flags.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, replace

#: the endpoints faults can be attached to, as ``METHOD path-template``
ENDPOINTS = (
    "GET version", "GET clusters", "GET slaves", "GET jobs", "POST jobs", "GET jobs/{uuid}", "DELETE jobs/{uuid}",
    "PUT jobs/{uuid}/state/status", "GET jobs/{uuid}/log", "GET jobs/{uuid}/debug",
)
ALL = "*"
ERROR_STATUSES = (500, 502, 504)


@dataclass(frozen=True, kw_only=True)
class Fault:
    """What goes wrong on one endpoint.

    ``latency``: seconds added before answering. ``error_rate``: share of requests (0..1) answered with
    one of ``error_statuses`` instead of being processed. ``drop_after_commit``: share of requests
    (0..1) that are processed and committed, then the connection is closed without an answer.
    ``times``: apply to this many more requests only (None = until cleared). ``retry_after``: whole
    seconds sent as ``Retry-After`` with the error answers (for 429 Too Many Requests and 503).
    """

    latency: float = 0.0
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = ERROR_STATUSES
    drop_after_commit: float = 0.0
    times: int | None = None
    retry_after: int | None = None

    def __post_init__(self) -> None:
        for name in ("error_rate", "drop_after_commit"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.latency < 0:
            raise ValueError("latency must not be negative")
        if not self.error_statuses or any(not (500 <= status <= 599 or status == 429)
                                          for status in self.error_statuses):
            raise ValueError("error_statuses must be 429 or 5xx statuses")
        if self.retry_after is not None and self.retry_after < 0:
            raise ValueError("retry_after must not be negative")


@dataclass(frozen=True, kw_only=True)
class Decision:
    """What to do with one request."""

    latency: float = 0.0
    error_status: int | None = None
    drop_after_commit: bool = False
    retry_after: int | None = None


_NOTHING = Decision()


class Faults:
    """The faults in force, per endpoint; thread-safe. A seed makes fractional rates reproducible."""

    def __init__(self, *, seed: int | None = None) -> None:
        self._faults: dict[str, Fault] = {}
        self._lock = threading.Lock()
        self._random = random.Random(seed)

    def set(self, endpoint: str, fault: Fault | None = None, /, **settings: object) -> None:
        """Put ``fault`` (or ``Fault(**settings)``) on ``endpoint``, replacing what was there."""
        if endpoint != ALL and endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; use one of: {', '.join(ENDPOINTS)} or '*'")
        chosen = fault if fault is not None else Fault(**settings)  # type: ignore[arg-type]
        with self._lock:
            self._faults[endpoint] = chosen

    def clear(self, endpoint: str | None = None) -> None:
        """Remove the faults of ``endpoint``, or all of them."""
        with self._lock:
            if endpoint is None:
                self._faults.clear()
            else:
                self._faults.pop(endpoint, None)

    def decide(self, endpoint: str) -> Decision:
        """Draw what happens to one request to ``endpoint`` (the specific rule wins over ``*``)."""
        if not self._faults:
            return _NOTHING
        with self._lock:
            key = endpoint if endpoint in self._faults else ALL
            fault = self._faults.get(key)
            if fault is None:
                return _NOTHING
            if fault.times is not None:
                if fault.times <= 1:
                    del self._faults[key]
                else:
                    self._faults[key] = replace(fault, times=fault.times - 1)
            error = None
            if fault.error_rate and self._random.random() < fault.error_rate:
                error = self._random.choice(fault.error_statuses)
            drop = bool(fault.drop_after_commit) and self._random.random() < fault.drop_after_commit
            return Decision(latency=fault.latency, error_status=error, drop_after_commit=drop and error is None,
                            retry_after=fault.retry_after if error is not None else None)
