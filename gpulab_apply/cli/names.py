"""Job names from the job files, offline: for ``wait`` without selectors and for shell completion
(docs/editors.md#shell-completion). Light on purpose: completion runs on every Tab press."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import click
from click.shell_completion import CompletionItem

from gpulab_apply.errors import GpulabApplyError
from gpulab_apply.model import JobSpec
from gpulab_apply.order import natural_sorted


def job_specs(paths: Sequence[str | Path], *, job_root: str | Path = ".") -> list[JobSpec]:
    """The jobs the files under ``paths`` define, ``_defaults.yaml`` from ``job_root`` down applied; jobs of
    files with problems are left out."""
    # the job files are read only when names are asked for: every command that completes names imports this module
    from gpulab_apply.jobfiles.validation import validate_paths

    return list(validate_paths(paths, job_root=job_root).jobs)


def job_names(paths: Sequence[str | Path], *, job_root: str | Path = ".", sweeps: bool = False) -> list[str]:
    """The names of the jobs the files under ``paths`` define, in natural order: matrix members by their
    generated names (and, with ``sweeps``, the sweeps' own names, which selectors take too)."""
    jobs = job_specs(paths, job_root=job_root)
    names = {spec.name for spec in jobs} | ({spec.sweep for spec in jobs if spec.sweep} if sweeps else set())
    return natural_sorted(names)


def _completer(names_of: Callable[[list[JobSpec]], set[str]]) -> Callable[
        [click.Context, click.Parameter, str], list[CompletionItem]]:
    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
        """Candidates from the command's job directories (default: the job root), as seen from ``-C DIR``."""
        from gpulab_apply.workspace import find_workspace  # only on a Tab press: completion runs nothing else

        root = ctx.find_root().params.get("directory")
        cwd = Path(str(root)).expanduser().absolute() if root else Path.cwd()
        # While an option's value is being completed, click may leave the positional words unparsed in ctx.args.
        given = [str(path) for path in ctx.params.get("paths") or ctx.args if (cwd / str(path)).exists()]
        try:
            workspace = find_workspace(given, cwd=cwd)
            selection = [str(cwd / path) for path in workspace.select(given).paths]
            names = natural_sorted(names_of(job_specs(selection, job_root=workspace.job_root)))
        except (OSError, GpulabApplyError):  # completion must never print a traceback into the shell
            return []
        already = set(ctx.params.get(param.name or "") or ()) if param.multiple or param.nargs == -1 else set()
        return [CompletionItem(name) for name in names if name.startswith(incomplete) and name not in already]

    return complete


#: job names and sweep names (every selector but a glob or a UUID): ``--target``, ``render``, ``status --target``
complete_job_names = _completer(lambda jobs: {spec.name for spec in jobs} | {spec.sweep for spec in jobs if spec.sweep})
#: job names only: ``logs`` prints one job's log, so a sweep's name would be refused
complete_single_job_names = _completer(lambda jobs: {spec.name for spec in jobs})
#: the names of protected jobs only: ``--cancel-protected`` is refused for any other
complete_protected_names = _completer(lambda jobs: {spec.name for spec in jobs if spec.protect})
