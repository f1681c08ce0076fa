"""``x-gpulab-apply: {adopt: {uuid}}``: a job file that takes over a job already on GPULab
(docs/authoring.md#import-and-adoption).

``gpulab-apply import`` writes it. The planner treats the named job as this set's when it still has the
file's name and belongs to this user, so a job started by hand becomes managed without being cancelled
and submitted again. Whether it is in sync is decided from the running job itself, never taken on trust:
it is in sync exactly when the file's effective job (defaults and variables applied) is stored by GPULab
as the running job's request is (:func:`gpulab_apply.reconcile.adoption.same_request`); otherwise it is a changed job, replaced like any
other, and the plan shows the difference.

Version 1 of the block (``{uuid, spec}``, import before this change) recorded the spec hash of the file as
imported and trusted it. It stays readable, and an upgrade never restarts work: a file still as it was
imported keeps the job in sync, but the plan warns when the file and the job differ.

This module reads the block (validate's path: no marker module); whether an adopted job is in sync, and the marker
it is treated as carrying, are :mod:`gpulab_apply.reconcile.adoption`'s.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from gpulab_apply.jobfiles.drafts import Draft, Expansion
from gpulab_apply.jobmodel.schema import TOOL_KEY

ADOPT = "adopt"
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_SPEC = re.compile(r"[0-9a-f]{16}\Z")


class Adoption:
    """The transform: moves ``x-gpulab-apply.adopt`` out of the job into :attr:`Draft.adopt`, checked."""

    def __call__(self, draft: Draft) -> Expansion:
        data = draft.data
        options = data.get(TOOL_KEY) if isinstance(data, Mapping) else None
        if not isinstance(options, Mapping) or ADOPT not in options:
            return Expansion((draft,))
        path = (TOOL_KEY, ADOPT)
        value: Any = options[ADOPT]
        if "matrix" in options:
            return Expansion((), [draft.problem(path, "a sweep cannot adopt a job: adopt names one job", at_key=True)])
        if not (isinstance(value, Mapping) and set(value) in ({"uuid"}, {"uuid", "spec"})
                and isinstance(value["uuid"], str) and _UUID.match(value["uuid"])
                and ((isinstance(value.get("spec"), str) and _SPEC.match(value["spec"])) or "spec" not in value)):
            return Expansion((), [draft.problem(path, "adopt must be {uuid: <the job's UUID>}, as gpulab-apply import "
                                                      "writes it", at_key=True)])
        rest = {key: item for key, item in options.items() if key != ADOPT}
        job = {key: item for key, item in data.items() if key != TOOL_KEY}
        if rest:
            job[TOOL_KEY] = rest
        return Expansion((draft.evolve(data=job, adopt=(value["uuid"].lower(), value.get("spec"))),))
