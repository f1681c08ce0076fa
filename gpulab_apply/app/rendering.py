"""``render`` for the command line: the effective jobs, after defaults, matrix and variables (docs/authoring.md#render)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fnmatch import fnmatchcase
from pathlib import Path

from gpulab_apply.errors import InvalidJobsError
from gpulab_apply.jobfiles.validation import validate_paths
from gpulab_apply.masking import Secrets
from gpulab_apply.model import JobSpec
from gpulab_apply.reporters.render import RenderResult
from gpulab_apply.workspace import find_workspace


def render_jobs(paths: Sequence[Path], names: Sequence[str], *, explain: bool,
                hide: Callable[[Secrets], None]) -> RenderResult:
    """The effective jobs of the job files under ``paths`` (``hide`` told their secrets as soon as they are read),
    those named by ``names`` (globs over job and sweep names; all when none); invalid files, or no match, stop it."""
    workspace = find_workspace(paths)
    result = validate_paths(workspace.select(paths).paths, job_root=workspace.job_root)
    hide(result.secrets)
    if not result.ok:
        raise InvalidJobsError(f"the job files have {len(result.problems)} problem(s)",
                               hint="fix them (gpulab-apply validate) and run render again",
                               problems=result.problems, files=result.files)
    jobs = [spec for spec in result.jobs if not names or _selected(spec, names)]
    if names and not jobs:
        raise InvalidJobsError(f"no job or sweep matches {', '.join(map(repr, names))}",
                               hint="gpulab-apply render lists every job")
    return RenderResult(tuple(jobs), explain=explain, secrets=result.secrets)


def _selected(spec: JobSpec, globs: Sequence[str]) -> bool:
    return any(fnmatchcase(spec.name, glob) or (spec.sweep is not None and fnmatchcase(spec.sweep, glob))
               for glob in globs)
