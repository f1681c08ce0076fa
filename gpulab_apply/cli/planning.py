"""What plan, apply and status share: validated desired jobs, one listing, the plan, and rendering.

Not a command: a helper for the command modules, kept here so that options -> calls -> output stays thin.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from gpulab_apply.cli import JOBS_DIR
from gpulab_apply.errors import InvalidJobsError
from gpulab_apply.gpulab.api import V3_MAX_COUNT, ApiVersion
from gpulab_apply.gpulab.client import GpulabClient
from gpulab_apply.gpulab.listing import Listing, set_filter, truncated_error
from gpulab_apply.reconcile.guards import Guards
from gpulab_apply.reconcile.planner import Plan, PlanOptions, build_plan
from gpulab_apply.reconcile.window import proven_new
from gpulab_apply.settings import Settings

if TYPE_CHECKING:
    from gpulab_apply.jobfiles.validation import ValidationResult

DEFAULT_PATHS = (Path(JOBS_DIR),)


def load_desired(paths: Sequence[Path], settings: Settings) -> ValidationResult:
    """Validate the job files: their jobs, and warnings only. An error stops the command with exit 1 before any
    network, and the CLI reports the problems in the command's format (a Markdown plan that says it failed,
    annotations in CI)."""
    from gpulab_apply.jobfiles.validation import validate_paths

    # API v4.0 requires owner.projectUrn: without --project, a job lacking one is a problem in its file
    require_project = ApiVersion(settings.api_version).is_v4 and not settings.project and not settings.local
    result = validate_paths(paths, require_project=require_project, strict=settings.strict)
    if not result.ok:
        raise InvalidJobsError(f"the job files have {len(result.problems)} problem(s); nothing was sent to GPULab",
                               hint="fix them and run the command again", problems=result.problems,
                               files=result.files)
    return result


def make_plan(desired: ValidationResult, client: GpulabClient, settings: Settings, *,
              targets: Sequence[str] = (), rerun_failed: bool = False,
              cancel_protected: Sequence[str] = (), guards: Guards | None = None) -> Plan:
    """List this user's jobs once and plan the desired jobs (from :func:`load_desired`) against them; on a
    windowed listing (v3.x), look in git for evidence that the jobs to create are new
    (docs/plan-apply.md#limits-per-api-version). The job files' warnings go into the plan, so every format
    shows them."""
    remote = list_remote(client)
    window = remote.window
    options = PlanOptions(project_urn=client.project_urn,
                          user_urn=client.identity.user_urn if client.identity else None, rerun_failed=rerun_failed,
                          targets=tuple(targets), cancel_protected=frozenset(cancel_protected),
                          window_hours=None if window is None else int(window.total_seconds() // 3600),
                          guards=guards or Guards(max_gpu_hours=settings.max_gpu_hours),
                          max_active=settings.max_active)
    now = client.server_time or datetime.now(UTC)  # running work is measured on GPULab's clock
    plan = build_plan(desired.jobs, remote, set_name=settings.set_name, options=options, now=now)
    if desired.problems:  # load_desired let warnings only through
        plan = dataclasses.replace(plan, file_warnings=desired.problems)
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
