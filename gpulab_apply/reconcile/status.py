"""Status: the jobs of one set as GPULab lists them, matched to the desired files they come from: the current run
of each name, or with ``every_run`` the whole history (docs/plan-apply.md#status)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from gpulab_apply.model import JobSpec, RemoteJob
from gpulab_apply.order import natural_key
from gpulab_apply.problems import Location
from gpulab_apply.reconcile.adoption import adopted_marker
from gpulab_apply.reconcile.marker import Marker, SpecHashes, manages, parse_marker
from gpulab_apply.reconcile.runs import age_key, cancelled_duplicates, current_run, desired_project, is_run_of
from gpulab_apply.reconcile.workflow import spec_hashes


@dataclass(frozen=True, kw_only=True)
class StatusRow:
    """One managed remote job, or a desired job with no remote job yet (``job`` is None)."""

    name: str
    job: RemoteJob | None
    #: the desired file the name comes from, None when the name is no longer desired
    source: Location | None
    #: whether the remote job carries the desired spec, in the desired project (None when either side is missing)
    in_sync: bool | None
    age_seconds: int | None
    gpus: int | None
    #: the matrix sweep the desired job is a member of (docs/authoring.md#matrix-sweeps)
    sweep: str | None = None
    #: whether the job is its name's current run (docs/plan-apply.md#the-current-run-and-history)
    current: bool = True
    #: a duplicate cancelled while a race converged (only listed with ``every_run``)
    duplicate: bool = False
    #: the sweep member's matrix values (docs/results.md#the-grid-of-a-sweep)
    matrix: tuple[tuple[str, str], ...] = ()


def status_rows(desired: Sequence[JobSpec], remote: Sequence[RemoteJob], *, set_name: str,
                project_urn: str | None, now: datetime, user_urn: str | None = None,
                every_run: bool = False) -> tuple[StatusRow, ...]:
    """The current run of every name with jobs of ``set_name`` and ``user_urn`` in the listing (with
    ``every_run``: every job, oldest first per name), plus desired names never submitted: the jobs apply
    manages (docs/plan-apply.md#ownership)."""
    by_name = {spec.name: spec for spec in desired}
    adopted = {spec.adopt[0]: spec for spec in desired if spec.adopt is not None}
    runs: dict[str, list[RemoteJob]] = {}
    markers: dict[str, Marker | None] = {}
    every_hash = spec_hashes(desired, project_urn)  # a job with needs hashes theirs too (docs/workflows.md)
    for job in remote:
        marker = parse_marker(job.description) or _adopted_marker(job, adopted.get(job.uuid.lower()), set_name,
                                                                   every_hash)
        if manages(marker, job.owner, set_name=set_name, user_urn=user_urn):
            runs.setdefault(job.name, []).append(job)
            markers[job.uuid] = marker
    rows: list[StatusRow] = []
    for name, jobs in sorted(runs.items()):
        spec = by_name.get(name)
        hashes = every_hash.get(name) if spec else None
        project = desired_project(spec, project_urn) if spec else None

        def carries(job: RemoteJob, hashes: SpecHashes | None = hashes, project: str | None = project) -> bool:
            return hashes is not None and is_run_of(job, markers.get(job.uuid), hashes, project)

        duplicates = cancelled_duplicates(jobs, markers)
        current = current_run(jobs, carries=carries, duplicates=duplicates)
        for job in sorted(jobs, key=age_key) if every_run else [current] if current else []:
            resources = job.request.get("resources") or {}
            rows.append(StatusRow(
                name=name,
                job=job,
                source=spec.location if spec else None,
                in_sync=carries(job) if spec else None,
                age_seconds=max(0, int((now - job.created).total_seconds())) if job.created else None,
                gpus=resources.get("gpus") if isinstance(resources.get("gpus"), int) else None,
                sweep=spec.sweep if spec else None,
                matrix=spec.matrix if spec else (),
                current=job is current,
                duplicate=job.uuid in duplicates,
            ))
    for spec in desired:
        if spec.name not in runs:
            resources = (spec.job.get("request") or {}).get("resources") or {}
            rows.append(StatusRow(name=spec.name, job=None, source=spec.location, in_sync=None, age_seconds=None,
                                  gpus=resources.get("gpus") if isinstance(resources.get("gpus"), int) else None,
                                  sweep=spec.sweep, matrix=spec.matrix))
    return tuple(sorted(rows, key=lambda row: natural_key(row.name)))


def _adopted_marker(job: RemoteJob, spec: JobSpec | None, set_name: str,
                    every_hash: Mapping[str, SpecHashes]) -> Marker | None:
    """The marker a job file's ``adopt`` gives the job, as the planner gives it (docs/authoring.md)."""
    if spec is None or spec.adopt is None or spec.name != job.name:
        return None
    return adopted_marker(spec, job, set_name=set_name, hashes=every_hash[spec.name])
