"""A stored job -> the JSON each API version sends.

v4.0 is GPULab's current shape (common 6.x): statuses as upper-cased values (``ON HOLD``). v3.x sends
status names (``ONHOLD``) and lacks the keys the v6 schema added to ``state``; v3.0 also lacks
``tallyIncrement`` (GPULab's ``make_compatible_with('3.0')``).
"""

from __future__ import annotations

import json
from typing import Any

from gpulab_apply.gpulab.api import ApiVersion
from gpulab_apply.jobmodel.status import JobStatus

#: keys of ``state`` (by section) that only the v6 schema (API v4.0) has
_V6_ONLY = {
    "scheduling": ("haltEvents", "schedulerSeenBase", "schedulerSeenScoreHalt", "schedulerSeenPrioHalt",
                   "ignoringReservationIds"),
    "eventTimes": ("wasteNotify",),
}


def wire_status(name: str, version: str) -> str:
    """A status name as ``version`` sends it: the name for v3.x, the upper-cased value for v4.0."""
    return JobStatus[name].value.upper() if ApiVersion(version).is_v4 else name


def job_text(doc: dict[str, Any], version: str) -> str:
    """The JSON text of one job as served under ``/v{version}/``."""
    state = doc["state"]
    if ApiVersion(version).is_v4:
        wire = {**doc, "state": {**state, "status": wire_status(state["status"], version)}}
    else:
        # copies only of what changes: serialising is the hot path of every status change
        wire_state = {key: value for key, value in state.items() if key != "wasteReview"}
        for section, keys in _V6_ONLY.items():
            wire_state[section] = {key: value for key, value in state[section].items() if key not in keys}
        if version == "3.0":
            wire_state["scheduling"].pop("tallyIncrement", None)
        wire = {**doc, "state": wire_state}
    return json.dumps(wire, separators=(",", ":"))
