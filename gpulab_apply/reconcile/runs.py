"""The runs of one job name: which remote jobs are runs of a desired job, which one is the current run, and which
are duplicates cancelled while a race converged (docs/plan-apply.md#the-current-run-and-history).

A name gathers runs over time: reruns, restarts after a halt, and, after applies raced, duplicates that one of
them cancelled. Plan and status must agree on which run is *current*:

* an active run decides (the oldest with the desired spec, else the newest);
* otherwise a run with the desired spec that FINISHED means the experiment is done, whatever came after it;
* otherwise the newest run that is not a cancelled duplicate.

A *cancelled duplicate* is recognised from what GPULab lists, so no marker changes and jobs cancelled by
earlier versions of the tool are recognised too: a CANCELLED job of the set whose older twin (same name, same
spec, same project) was still active when it was cancelled. That is exactly what apply's deduplication cancels
(it keeps the oldest job of a spec and cancels newer active ones); a person who cancels such a job by hand
cancelled a duplicate too. A cancelled job with no older active twin is a run of its own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime

from gpulab_apply.jobmodel.status import FINAL_STATUSES, JobStatus
from gpulab_apply.model import JobSpec, RemoteJob, parse_timestamp
from gpulab_apply.reconcile.marker import Marker, SpecHashes

#: GPULab's event-time keys of the final statuses (reference §5.3 ``state.eventTimes``)
_FINAL_EVENTS = tuple(status.name for status in FINAL_STATUSES)
_EPOCH = datetime.min.replace(tzinfo=UTC)


def age_key(job: RemoteJob) -> tuple[datetime, str]:
    """Oldest first: by creation time, then uuid, so concurrent applies agree on which job survives."""
    return (job.created or _EPOCH, job.uuid)


def project_of(job: RemoteJob) -> str | None:
    project = job.owner.get("projectUrn")
    return project if isinstance(project, str) and project else None


def desired_project(spec: JobSpec, project_urn: str | None) -> str | None:
    """The project a desired job runs in: its own ``owner.projectUrn`` (file or ``_defaults.yaml``), else
    ``--project``'s; None when neither says (API v3.x then uses the user's default project)."""
    owner = spec.job.get("owner")
    if isinstance(owner, Mapping) and isinstance(owner.get("projectUrn"), str) and owner["projectUrn"]:
        return str(owner["projectUrn"])
    return project_urn


def in_project(job: RemoteJob, project: str | None) -> bool:
    """Whether ``job`` runs in ``project``. Nothing to compare (no desired project, or a job listed without
    one) is no difference: filling in the project a job already runs in changes nothing."""
    remote = project_of(job)
    return project is None or remote is None or remote == project


def is_run_of(job: RemoteJob, marker: Marker | None, hashes: SpecHashes, project: str | None) -> bool:
    """Whether ``job`` (with ``marker``) was submitted from the desired job with ``hashes``, in ``project``:
    moving a job to another project is a change, as a changed spec is (docs/plan-apply.md#projects)."""
    return (marker is not None and hashes.matches(marker, project_urn=project_of(job))
            and in_project(job, project))


def cancelled_duplicates(jobs: Iterable[RemoteJob], markers: Mapping[str, Marker | None]) -> frozenset[str]:
    """The uuids of the CANCELLED jobs among ``jobs`` (one set's and user's) that an older twin outlived.

    A twin has the same name, marker spec, project and attempt, and is older (:func:`age_key`); it outlived the
    job when it had not ended (no final event time) by the moment the job was cancelled. Jobs whose times are not
    listed are never counted as duplicates: they stay runs of their own. A cancelled retry (attempt 2 and up)
    with an older twin is a duplicate however they ended: racing applies submit one retry each, and verification
    keeps the oldest even when it already FAILED (docs/workflows.md#retries).
    """
    twins: dict[tuple[str, str, str | None, int], list[RemoteJob]] = defaultdict(list)
    for job in jobs:
        marker = markers.get(job.uuid)
        if marker is not None:
            twins[(job.name, marker.spec, project_of(job), marker.attempt)].append(job)
    found: set[str] = set()
    for (_, _, _, attempt), group in twins.items():
        if len(group) < 2:
            continue
        group.sort(key=age_key)
        ends = [_ended(job) for job in group]
        for index, job in enumerate(group):
            if job.status is not JobStatus.CANCELLED or index == 0:
                continue
            if attempt > 1:  # one run per retry: a second run of the same attempt is a racing apply's twin
                found.add(job.uuid)
                continue
            cancelled = _event(job, "CANCELLING") or _event(job, "CANCELLED") or _event(job, "statusUpdated")
            if cancelled is None:
                continue
            if any(not older.status.is_final or (end is not None and end >= cancelled)
                   for older, end in zip(group[:index], ends[:index], strict=True)):
                found.add(job.uuid)
    return frozenset(found)


def current_run(jobs: Sequence[RemoteJob], *, carries: Callable[[RemoteJob], bool],
                duplicates: frozenset[str] = frozenset()) -> RemoteJob | None:
    """The current run among one name's jobs of the set (rules in the module docstring); None when none.

    ``carries`` says whether a job is a run of the desired job (always False for a name no longer desired).
    """
    active = sorted((job for job in jobs if job.status.is_active), key=age_key)
    if active:
        same = [job for job in active if carries(job)]
        return same[0] if same else active[-1]
    finished = [job for job in jobs if job.status is JobStatus.FINISHED and carries(job)]
    if finished:
        return max(finished, key=age_key)
    runs = [job for job in jobs if job.uuid not in duplicates]
    return max(runs, key=age_key) if runs else None


def ended_at(job: RemoteJob) -> datetime | None:
    """When an ended job ended (see :func:`_ended`); None while it is active or when GPULab lists no time."""
    return _ended(job)


def _ended(job: RemoteJob) -> datetime | None:
    """When an ended job ended (its first final event time, else its last status change); None if active."""
    if not job.status.is_final:
        return None
    times = [time for key in _FINAL_EVENTS if (time := _event(job, key)) is not None]
    return min(times) if times else _event(job, "statusUpdated")


def _event(job: RemoteJob, key: str) -> datetime | None:
    state = job.raw.get("state")
    events = state.get("eventTimes") if isinstance(state, Mapping) else None
    value = events.get(key) if isinstance(events, Mapping) else None
    return parse_timestamp(value) if isinstance(value, str) else None
