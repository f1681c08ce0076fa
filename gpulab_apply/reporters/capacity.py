"""The capacity findings and the usage of a plan as every plan reporter shows them (docs/capacity.md).

Findings with one message (the members of a sweep asking the same) are one line that names the jobs, so a
10,000-job sweep that no node can run is one line, not 10,000.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from gpulab_apply.reporters import location_document

if TYPE_CHECKING:
    from gpulab_apply.problems import Location
    from gpulab_apply.reconcile.finding import CapacityFinding
    from gpulab_apply.reconcile.plan import Plan

#: names shown per line before "and N more"
_NAMES = 3
_LABEL = {"impossible": "Can never start", "waits": "Cannot start now"}


class CapacityLine(NamedTuple):
    """One line of findings: ``label``, the jobs, where the first is written, what the check found."""

    error: bool
    label: str
    names: str
    location: Location | None
    message: str

    def text(self) -> str:
        """``Can never start: big (jobs.d/big.yaml:1:1): needs 8 x A100 on one node; ...`` (not yet made safe)."""
        where = f" ({self.location})" if self.location is not None else ""
        return f"{self.label}: {self.names}{where}: {self.message}"


def capacity_lines(plan: Plan) -> list[CapacityLine]:
    """Errors first, then notes; findings with the same message share a line."""
    groups: dict[tuple[bool, str], list[CapacityFinding]] = {}
    for finding in plan.capacity:
        groups.setdefault((not finding.is_error, finding.message), []).append(finding)
    lines = []
    for (_, message), findings in sorted(groups.items(), key=lambda item: (item[0][0], item[1][0].name)):
        names = [finding.name for finding in findings]
        shown = ", ".join(names[:_NAMES]) + (f" and {len(names) - _NAMES} more" if len(names) > _NAMES else "")
        first = findings[0]
        lines.append(CapacityLine(first.is_error, _LABEL[first.verdict.value], shown, first.location, message))
    return lines


def usage_text(plan: Plan) -> str | None:
    """``used this month: 212 of 500 GPU-hours``, shown when a budget is set (docs/capacity.md#budgets)."""
    return plan.usage.line() if plan.usage is not None and plan.usage.budget is not None else None


def capacity_document(plan: Plan) -> dict[str, Any]:
    """The ``capacity`` and ``usage`` keys of the plan's JSON document."""
    usage = plan.usage
    return {
        "capacity": [{"name": f.name, "verdict": f.verdict.value, "message": f.message,
                      "location": location_document(f.location), "node": f.node, "clusterId": f.cluster_id}
                     for f in plan.capacity],
        "usage": None if usage is None else {
            "period": usage.period.value, "since": usage.since.isoformat().replace("+00:00", "Z"),
            "usedGpuHours": usage.used, "budgetGpuHours": usage.budget.gpu_hours if usage.budget else None,
            "leftGpuHours": usage.left},
    }
