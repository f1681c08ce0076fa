"""What the capacity check finds about one job the plan submits (docs/capacity.md): data the plan holds, apart from
the check (:mod:`gpulab_apply.reconcile.capacity`), which reads the plan, so that neither imports the other."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gpulab_apply.problems import Location


class Verdict(StrEnum):
    #: no node this project may use can ever run it (an error: apply refuses it)
    IMPOSSIBLE = "impossible"
    #: it can run, but no node has the room free now (a note)
    WAITS = "waits"


@dataclass(frozen=True, slots=True, kw_only=True)
class CapacityFinding:
    """What the capacity check says about one job the plan submits."""

    name: str
    verdict: Verdict
    message: str
    location: Location | None = None
    #: the nearest node (impossible) or None
    node: str | None = None
    cluster_id: int | None = None

    @property
    def is_error(self) -> bool:
        return self.verdict is Verdict.IMPOSSIBLE
