"""``x-gpulab-apply: {adopt: {uuid, spec}}``: a job file that takes over a job already on GPULab
(docs/authoring.md#import-and-adoption).

``gpulab-apply import`` writes it. The planner treats the named job as this set's, submitted from the
spec hash recorded here, as long as it still has the file's name and belongs to this user; so a job
that was started by hand becomes managed without being cancelled and submitted again. When the file
changes (its spec hash differs from the recorded one) the job is replaced like any other.
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
        if not (isinstance(value, Mapping) and set(value) == {"uuid", "spec"} and isinstance(value["uuid"], str)
                and _UUID.match(value["uuid"]) and isinstance(value["spec"], str) and _SPEC.match(value["spec"])):
            return Expansion((), [draft.problem(path, "adopt must be {uuid: <the job's UUID>, spec: <16 hex digits>}, "
                                                      "as gpulab-apply import writes it", at_key=True)])
        rest = {key: item for key, item in options.items() if key != ADOPT}
        job = {key: item for key, item in data.items() if key != TOOL_KEY}
        if rest:
            job[TOOL_KEY] = rest
        return Expansion((draft.evolve(data=job, adopt=(value["uuid"].lower(), value["spec"])),))
