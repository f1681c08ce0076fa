"""How patiently, and how far, the HTTP adapter trusts GPULab: timeouts, retries and answer limits.

The adapter's own types (docs/client.md#timeouts-and-retries, docs/client.md#limits): settings build
them from flags and files, the adapter reads them; nothing here knows where a value came from.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

#: GPULab's own API root, the endpoint when none is configured
DEFAULT_ENDPOINT = "https://gpulab.ilabt.imec.be/api/gpulab/v4.0/"


@dataclass(frozen=True, kw_only=True)
class Timeouts:
    """Seconds to wait for a connection, and for each whole answer (status line, headers and body).

    ``read`` bounds the answer as a whole, not each read of it: a server that trickles a byte now and
    then is cut off when the time is up.
    """

    connect: float = 5.0
    read: float = 30.0


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How failed idempotent requests are retried: exponential backoff with jitter.

    Attempt ``n`` (1-based) waits ``min(max_backoff, backoff * 2**(n-1))``, of which the second half
    is random, so parallel clients do not retry in lockstep. ``Retry-After`` (429/503) is honoured
    up to ``max_retry_after`` seconds.
    """

    retries: int = 5
    backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 120.0

    def delay(self, attempt: int) -> float:
        ceiling = min(self.max_backoff, self.backoff * 2.0 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


@dataclass(frozen=True, kw_only=True)
class AnswerLimits:
    """What one answer, and one listing, may hold before it is refused as broken or hostile.

    Far above anything GPULab serves (a page of 500 jobs is about 1.5 MB), far below what would
    exhaust memory: an answer is read in pieces and dropped once it passes ``max_bytes``.
    """

    #: bytes of one answer's body, after decompression
    max_bytes: int = 64 * 1024 * 1024
    #: nesting of JSON arrays and objects in an answer (a job is about 6 deep)
    max_depth: int = 64
    #: characters of a job's name (GPULab itself accepts names of 2,000 characters)
    max_name: int = 4096
    #: pages of one v4.0 listing, and jobs in one listing (v3.x and v4.0)
    max_pages: int = 200
    max_jobs: int = 100_000
