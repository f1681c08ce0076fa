"""Loading and planning for plan, apply, status, wait and logs: the workspace's selection, validated desired jobs,
one listing, the plan. Returns results or raises the one error hierarchy; writes nothing (the commands' reporters do).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from gpulab_apply.app.prefetch import ListingAhead
from gpulab_apply.errors import ConfigError, InvalidJobsError, ServerError
from gpulab_apply.gpulab.api import V3_MAX_COUNT, ApiVersion
from gpulab_apply.gpulab.client import GpulabClient
from gpulab_apply.gpulab.inventory import read_inventory
from gpulab_apply.gpulab.listing import Listing, set_filter, truncated_error
from gpulab_apply.jobfiles.validation import validate_paths  # jsonschema: for the commands that load jobs
from gpulab_apply.jobfiles.variables import unset_note
from gpulab_apply.masking import Secrets
from gpulab_apply.reconcile.capacity import check_capacity, submitted, with_capacity
from gpulab_apply.reconcile.guards import Guards
from gpulab_apply.reconcile.marker import manages, parse_marker
from gpulab_apply.reconcile.planfile import dump_plan
from gpulab_apply.reconcile.planner import Plan, PlanOptions, build_plan
from gpulab_apply.reconcile.usage import usage_of
from gpulab_apply.reconcile.window import proven_new
from gpulab_apply.reporters.plan import explain
from gpulab_apply.selectors import Candidate, by_uuid_only, matches, resolve, resolve_names
from gpulab_apply.settings import Settings
from gpulab_apply.workspace import Selection

if TYPE_CHECKING:
    from gpulab_apply.jobfiles.validation import ValidationResult


def select(paths: Sequence[str | Path], settings: Settings) -> Selection:
    """What the paths on the command line select of the workspace's job root (all of it when none are given);
    a path outside the job root is refused: the set is the job root's, and a path only narrows it
    (docs/plan-apply.md#workspace)."""
    workspace = settings.workspace
    selection = workspace.select(paths)
    # a path that does not exist is reported as a problem at that path, with the job files' other problems
    outside = [path for path in selection.outside if (workspace.cwd / path).exists()]
    if outside:
        job_root = workspace.relative(workspace.job_root)
        raise ConfigError(f"{', '.join(outside)}: not inside the job root {job_root}; the jobs of this "
                          f"set are the job root's, and a path only selects some of them",
                          hint=f"move the files into {job_root}, or name another job root with `jobs: DIR` in "
                               "gpulab-apply.yaml")
    return selection


def load_desired(selection: Selection, settings: Settings, *, submission: bool = False,
                 meanwhile: Callable[[], None] | None = None) -> ValidationResult:
    """Validate the job files: their jobs, and warnings only. An error stops the command with exit 1 before any
    network, and the CLI reports the problems in the command's format (a Markdown plan that says it failed,
    annotations in CI). The values they took from the environment are in the result (and the error): the command
    hands them to its output, which masks them. Only a ``submission`` (apply) needs every ``${VAR}`` set; other
    commands see placeholders (docs/authoring.md#variables-offline). ``meanwhile``: what to do while a large set is
    checked in other processes (:func:`gpulab_apply.jobfiles.validation.validate_paths`)."""
    # API v4.0 requires owner.projectUrn: without --project, a job lacking one is a problem in its file
    require_project = ApiVersion(settings.api_version).is_v4 and not settings.project and not settings.local
    result = validate_paths(selection.paths, require_project=require_project, strict=settings.strict,
                            job_root=settings.workspace.job_root, submission=submission, meanwhile=meanwhile)
    if not result.ok:
        raise InvalidJobsError(f"the job files have {len(result.problems)} problem(s); nothing was submitted or cancelled",
                               hint="fix them and run the command again", problems=result.problems,
                               files=result.files, secrets=result.secrets)
    return result


@dataclass(frozen=True, slots=True)
class Planned:
    """A plan with what it was made from: the selection of the job root, and what the job files took from the
    environment (to mask wherever the plan is shown or saved)."""

    plan: Plan
    selection: Selection
    secrets: Secrets


def plan_jobs(settings: Settings, paths: Sequence[str | Path], *, hide: Callable[[Secrets], None],
              targets: Sequence[str] = (), rerun_failed: bool = False, cancel_protected: Sequence[str] = (),
              capacity: bool = True) -> Planned:
    """``plan``: the job files under ``paths`` read and checked (``hide`` told their secrets), one listing, and the
    plan (:func:`make_plan`). A large set's listing is read while its files are checked (:class:`ListingAhead`),
    and reported only if they are valid."""
    selection = select(paths, settings)
    with ListingAhead(settings, list_remote) as ahead:
        desired = load_desired(selection, settings, meanwhile=ahead.read)
        hide(desired.secrets)
        client, remote = ahead.client()
        plan = make_plan(desired, client, settings, selection=selection, targets=targets, rerun_failed=rerun_failed,
                         cancel_protected=cancel_protected, capacity=capacity, remote=remote)
    return Planned(plan=plan, selection=selection, secrets=desired.secrets)


def save_plan(planned: Planned, out: Path, settings: Settings, *, now: datetime) -> None:
    """Write the plan file ``apply FILE`` applies exactly (docs/plan-format.md)."""
    text = dump_plan(planned.plan, endpoint=endpoint_of(settings),
                     paths=settings.workspace.from_root(planned.selection.paths), created=now,
                     api_version=settings.api_version, secrets=planned.secrets, explain=explain)
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write the plan file {out}: {exc.strerror}") from exc


def make_plan(desired: ValidationResult, client: GpulabClient, settings: Settings, *, selection: Selection,
              targets: Sequence[str] = (), rerun_failed: bool = False,
              cancel_protected: Sequence[str] = (), guards: Guards | None = None, capacity: bool = True,
              remote: Listing | None = None) -> Plan:
    """List this user's jobs once and plan the desired jobs (from :func:`load_desired`) against them; on a
    windowed listing (v3.x), look in git for evidence that the jobs to create are new
    (docs/plan-apply.md#limits-per-api-version). A ``selection`` narrower than the job root makes a narrowed plan,
    which cancels nothing outside it (docs/plan-apply.md#workspace). The job files' warnings go into the plan, so
    every format shows them. ``capacity``: read GPULab's inventory once and judge each job to submit against it
    (docs/capacity.md). ``remote``: the listing, when it was read already (:class:`ListingAhead`).
    """
    remote = remote if remote is not None else list_remote(client)
    window = remote.window
    targets, cancel_protected = named_jobs(desired, remote, targets=targets, cancel_protected=cancel_protected)
    options = PlanOptions(project_urn=client.project_urn,
                          user_urn=client.identity.user_urn if client.identity else None, rerun_failed=rerun_failed,
                          targets=tuple(targets), cancel_protected=frozenset(cancel_protected),
                          narrowed_to=selection.narrowed_to,
                          window_hours=None if window is None else int(window.total_seconds() // 3600),
                          guards=guards or Guards(max_gpu_hours=settings.max_gpu_hours),
                          max_active=settings.max_active)
    now = client.server_time or datetime.now(UTC)  # running work is measured on GPULab's clock
    plan = build_plan(desired.jobs, remote, set_name=settings.set_name, options=options, now=now,
                      outside=desired.outside)
    plan = _with_usage_and_capacity(plan, remote, client, settings, now=now, capacity=capacity)
    if desired.problems:  # load_desired let warnings only through
        plan = dataclasses.replace(plan, file_warnings=desired.problems)
    if desired.unset:  # the plan stands without them (the spec hash sees ${VAR}), apply does not
        plan = dataclasses.replace(plan, warnings=(*plan.warnings, unset_note(desired.unset)))
    if remote.partial:
        # only final jobs are unlisted (v3.x: the newest 200 of a status): a name with no listed job may
        # have an unlisted one, whatever git says, so its create stays unseen
        statuses = ", ".join(sorted(status.name for status in remote.partial))
        plan = dataclasses.replace(plan, warnings=(*plan.warnings, (
            f"GPULab listed only the newest {V3_MAX_COUNT} of your {statuses} jobs: a desired name with no listed "
            "job may have an unlisted one, so creating it needs --allow-unseen")))
    elif remote.complete_since is not None and (files := plan.unproven_files()):
        plan = plan.with_evidence(proven_new(files, since=remote.complete_since, cwd=Path.cwd()))
    return plan


def named_jobs(desired: ValidationResult, remote: Listing, *, targets: Sequence[str],
               cancel_protected: Sequence[str]) -> tuple[list[str], list[str]]:
    """``--target`` and ``--cancel-protected`` in the one selector grammar (docs/commands.md#selectors), against
    the job files' jobs and the listed ones: a selector that matches nothing is an error, as in every command.
    ``--target`` keeps its globs and sweep names (the planner also targets listed jobs of a sweep whose files are
    gone); one that matched only by UUID becomes that job's name. ``--cancel-protected`` becomes the names."""
    candidates = [*(Candidate(spec.name, spec.sweep) for spec in desired.jobs),
                  *(Candidate(job.name, uuid=job.uuid) for job in remote)]
    resolve(targets, candidates, what="job in the job files or on GPULab")
    renamed = by_uuid_only(matches(targets, candidates))
    named = [name for selector in targets for name in renamed.get(selector, (selector,))]
    protected = resolve_names(cancel_protected, candidates, what="job in the job files or on GPULab")
    return list(dict.fromkeys(named)), protected


def _with_usage_and_capacity(plan: Plan, remote: Listing, client: GpulabClient, settings: Settings, *, now: datetime,
                             capacity: bool) -> Plan:
    """The plan with the set's GPU-hours used this period (and the budget), and the capacity findings."""
    user_urn = client.identity.user_urn if client.identity else None
    runs = [job for job in remote if manages(parse_marker(job.description), job.owner, set_name=settings.set_name,
                                             user_urn=user_urn)]
    plan = dataclasses.replace(plan, usage=usage_of(runs, now=now, budget=settings.budget))
    if not capacity or not (jobs := submitted(plan)):
        return plan
    try:
        inventory = read_inventory(client)
    except ServerError as exc:
        # GPULab answered, but not with an inventory this tool can read: the plan stands without the check
        return dataclasses.replace(plan, warnings=(*plan.warnings, f"capacity not checked: {exc.message}"))
    return with_capacity(plan, check_capacity(jobs, inventory, project_urn=client.project_urn))


def list_remote(client: GpulabClient) -> Listing:
    """This user's jobs in every project (docs/plan-apply.md#projects). A v3.x listing that misses only *final* jobs of this user (the newest 200 of a
    status are listed, e.g. after a race left 300 CANCELLED duplicates) is accepted, with ``partial`` saying
    so; one that misses active jobs is an error (an unlisted job of ours could be submitted again)."""
    remote = client.list_jobs(**set_filter(user_urn=client.identity.user_urn if client.identity else None,
                                           project_urn=client.project_urn), allow_partial=True)
    if any(status.is_active for status in remote.partial):
        raise truncated_error(remote.partial)
    return remote


def endpoint_of(settings: Settings) -> str:
    """The endpoint a plan file records: the API root, or ``local`` for the embedded emulator."""
    return "local" if settings.local else (settings.api_root or settings.endpoint)
