"""``render`` for the command line: the effective jobs, after defaults, matrix and variables (docs/authoring.md#render)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from gpulab_apply.errors import InvalidJobsError
from gpulab_apply.jobfiles.validation import validate_paths
from gpulab_apply.masking import Secrets
from gpulab_apply.order import natural_key
from gpulab_apply.reporters.render import RenderResult
from gpulab_apply.selectors import Candidate, resolve_names
from gpulab_apply.workspace import find_workspace


def render_jobs(paths: Sequence[Path], names: Sequence[str], *, explain: bool, hide: Callable[[Secrets], None],
                config: str | None = None) -> RenderResult:
    """The effective jobs of the job files under ``paths`` (``hide`` told their secrets as soon as they are read),
    in the one order (docs/commands.md#order), those ``names`` select (docs/commands.md#selectors; all when none);
    invalid files, or a selector that matches nothing, stop it. ``config``: the config file named, else the
    workspace's own."""
    workspace = find_workspace(paths, config=config)
    result = validate_paths(workspace.select(paths).paths, job_root=workspace.job_root)
    hide(result.secrets)
    if not result.ok:
        raise InvalidJobsError(f"the job files have {len(result.problems)} problem(s)",
                               hint="fix them (gpulab-apply validate) and run render again",
                               problems=result.problems, files=result.files)
    jobs = sorted(result.jobs, key=lambda spec: natural_key(spec.name))
    if names:  # nothing matched is an error
        chosen = set(resolve_names(names, (Candidate(spec.name, spec.sweep) for spec in jobs),
                                   what="job in the job files"))
        jobs = [spec for spec in jobs if spec.name in chosen]
    return RenderResult(tuple(jobs), explain=explain, secrets=result.secrets, unset=result.unset)
