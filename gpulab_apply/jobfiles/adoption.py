"""``x-gpulab-apply: {adopt: {uuid}}``: a job file that takes over a job already on GPULab
(docs/authoring.md#import-and-adoption).

``gpulab-apply import`` writes it. The planner treats the named job as this set's when it still has the
file's name and belongs to this user, so a job started by hand becomes managed without being cancelled
and submitted again. Whether it is in sync is decided from the running job itself, never taken on trust:
it is in sync exactly when the file's effective job (defaults and variables applied) is stored by GPULab
as the running job's request is (:func:`same_request`); otherwise it is a changed job, replaced like any
other, and the plan shows the difference.

Version 1 of the block (``{uuid, spec}``, import before this change) recorded the spec hash of the file as
imported and trusted it. It stays readable, and an upgrade never restarts work: a file still as it was
imported keeps the job in sync, but the plan warns when the file and the job differ (:func:`adoption_warning`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from gpulab_apply.jobfiles.drafts import Draft, Expansion
from gpulab_apply.jobmodel.schema import TOOL_KEY
from gpulab_apply.masking import safe
from gpulab_apply.model import JobSpec, RemoteJob

if TYPE_CHECKING:  # validate reads the adopt block without the marker module (and its hashlib, dataclasses)
    from gpulab_apply.reconcile.marker import Marker, SpecHashes

ADOPT = "adopt"
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_SPEC = re.compile(r"[0-9a-f]{16}\Z")
#: the marker's run id for an adopted job (it was not submitted by any apply run)
ADOPTED_RUN = "adopted"


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


def same_request(spec: JobSpec, job: RemoteJob) -> bool:
    """Whether GPULab stores the file's effective job as it stores the running ``job``: same name, and the
    same request once both carry every default GPULab fills in (docs/authoring.md#import-and-adoption)."""
    from gpulab_apply.jobfiles.importing import stored_request

    request = spec.job.get("request")
    if spec.name != job.name or not isinstance(request, Mapping):
        return False
    # a value that waits for a variable not set is unknown here, not different: it is compared once given
    unknown = [path[1:] for path in spec.unset if path[:1] == ("request",)]
    return bool(_without(stored_request(request), unknown) == _without(stored_request(job.request), unknown))


def _without(request: Mapping[str, Any], paths: Sequence[tuple[str | int, ...]]) -> Any:
    """``request`` without the values at ``paths`` (a copy; absent paths are no error)."""
    if not paths:
        return request
    copy = json.loads(json.dumps(request))
    for path in paths:
        parent: Any = copy
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if isinstance(parent, dict):
            parent.pop(path[-1], None)
    return copy


def adopted_marker(spec: JobSpec, job: RemoteJob, *, set_name: str, hashes: SpecHashes) -> Marker:
    """The marker the adopted ``job`` is treated as carrying: the desired spec when the file gives the job
    GPULab runs (or, version 1, the file is still as import wrote it), else a spec of the job's own, so
    the plan replaces it and shows why."""
    from gpulab_apply.reconcile.marker import Marker, spec_hash

    assert spec.adopt is not None
    recorded = spec.adopt[1]
    if same_request(spec, job) or (recorded is not None and recorded == hashes.current):
        return Marker(set_name=set_name, spec=hashes.current, run_id=ADOPTED_RUN)
    if recorded is not None:  # version 1: as before, the recorded spec (it differs from the file's now)
        return Marker(set_name=set_name, spec=recorded, run_id=ADOPTED_RUN)
    return Marker(set_name=set_name, spec=spec_hash({"name": job.name, "request": dict(job.request)}), run_id=ADOPTED_RUN)


def adoption_warning(spec: JobSpec, job: RemoteJob) -> str | None:
    """A version 1 adoption kept in sync although the file does not give the running job: say so."""
    if spec.adopt is None or spec.adopt[1] is None or same_request(spec, job):
        return None
    return (f"{safe(spec.name)}: the adopted job {safe(job.uuid[:8])} differs from {safe(spec.location.path)} (imported by an older "
            "gpulab-apply, which dropped values); it is kept as it runs. Run `gpulab-apply import --force` for a "
            "file that matches it, or remove `spec` from its adopt block to have apply replace the job")
