"""Whether an adopted job is in sync, and the marker it is treated as carrying (docs/authoring.md#import-and-adoption).

A job file's ``x-gpulab-apply: {adopt: {uuid}}`` block is read by :mod:`gpulab_apply.jobfiles.adoption`; here the
planner and status decide from the running job itself: it is in sync exactly when the file's effective job
(defaults and variables applied) is stored by GPULab as the running job's request is (:func:`same_request`).
Version 1 blocks (``{uuid, spec}``) keep the job in sync while the file is as imported, with a warning when they
differ (:func:`adoption_warning`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from gpulab_apply.masking import safe
from gpulab_apply.model import JobSpec, RemoteJob
from gpulab_apply.reconcile.importing import stored_request
from gpulab_apply.reconcile.marker import Marker, SpecHashes, spec_hash

#: the marker's run id for an adopted job (it was not submitted by any apply run)
ADOPTED_RUN = "adopted"


def same_request(spec: JobSpec, job: RemoteJob) -> bool:
    """Whether GPULab stores the file's effective job as it stores the running ``job``: same name, and the
    same request once both carry every default GPULab fills in (docs/authoring.md#import-and-adoption)."""
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
