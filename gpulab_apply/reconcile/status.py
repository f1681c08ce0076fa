"""Status: the jobs of one set as GPULab lists them, matched to the desired files they come from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from gpulab_apply.model import JobSpec, RemoteJob
from gpulab_apply.problems import Location
from gpulab_apply.reconcile.marker import Marker, manages, parse_marker
from gpulab_apply.reconcile.planner import age_key, desired_hashes


@dataclass(frozen=True, kw_only=True)
class StatusRow:
    """One managed remote job, or a desired job with no remote job yet (``job`` is None)."""

    name: str
    job: RemoteJob | None
    #: the desired file the name comes from, None when the name is no longer desired
    source: Location | None
    #: whether the remote job carries the desired spec (None when either side is missing)
    in_sync: bool | None
    age_seconds: int | None
    gpus: int | None
    #: the matrix sweep the desired job is a member of (docs/authoring.md#matrix-sweeps)
    sweep: str | None = None


def status_rows(desired: Sequence[JobSpec], remote: Sequence[RemoteJob], *, set_name: str,
                project_urn: str | None, now: datetime, user_urn: str | None = None) -> tuple[StatusRow, ...]:
    """Every job of ``set_name`` and ``user_urn`` in the listing (oldest first per name) plus desired names
    never submitted: the jobs apply manages (docs/plan-apply.md#ownership)."""
    by_name = {spec.name: spec for spec in desired}
    rows: list[StatusRow] = []
    seen: set[str] = set()
    adopted = {spec.adopt[0]: spec for spec in desired if spec.adopt is not None}
    for job in sorted(remote, key=lambda j: (j.name, *age_key(j))):
        marker = parse_marker(job.description) or _adopted_marker(job, adopted.get(job.uuid.lower()), set_name,
                                                                   project_urn)
        if not manages(marker, job.owner, set_name=set_name, user_urn=user_urn):
            continue
        seen.add(job.name)
        assert marker is not None  # as manages() checked
        spec = by_name.get(job.name)
        resources = job.request.get("resources") or {}
        rows.append(StatusRow(
            name=job.name,
            job=job,
            source=spec.location if spec else None,
            in_sync=desired_hashes(spec, project_urn).matches(marker, project_urn=job.owner.get("projectUrn"))
            if spec else None,
            age_seconds=max(0, int((now - job.created).total_seconds())) if job.created else None,
            gpus=resources.get("gpus") if isinstance(resources.get("gpus"), int) else None,
            sweep=spec.sweep if spec else None,
        ))
    for spec in desired:
        if spec.name not in seen:
            resources = (spec.job.get("request") or {}).get("resources") or {}
            rows.append(StatusRow(name=spec.name, job=None, source=spec.location, in_sync=None, age_seconds=None,
                                  gpus=resources.get("gpus") if isinstance(resources.get("gpus"), int) else None,
                                  sweep=spec.sweep))
    return tuple(sorted(rows, key=lambda row: row.name))


def _adopted_marker(job: RemoteJob, spec: JobSpec | None, set_name: str, project_urn: str | None) -> Marker | None:
    """The marker a job file's ``adopt`` gives the job, as the planner gives it (docs/authoring.md)."""
    from gpulab_apply.jobfiles.adoption import adopted_marker

    if spec is None or spec.adopt is None or spec.name != job.name:
        return None
    return adopted_marker(spec, job, set_name=set_name, hashes=desired_hashes(spec, project_urn))
