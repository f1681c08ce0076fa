"""Shell completion: ``gpulab-apply completion SHELL`` prints the script, and job names complete from the
local job files (no network), for ``--target``, ``logs`` and ``wait`` (docs/editors.md#shell-completion).

Click does the protocol: the shell calls ``gpulab-apply`` with ``_GPULAB_APPLY_COMPLETE=<shell>_complete``
and the words so far, and reads the candidates back.
"""

from __future__ import annotations

from pathlib import Path

import click
from click.shell_completion import CompletionItem, get_completion_class

from gpulab_apply.cli import COMPLETE_VAR, PROG_NAME
from gpulab_apply.errors import ExitStatus, GpulabApplyError

SHELLS = ("bash", "zsh", "fish")


def job_names(paths: tuple[str, ...] | list[str], *, job_root: str | Path = ".", sweeps: bool = False) -> list[str]:
    """The names of the jobs the files under ``paths`` define, in natural order: matrix members by their
    generated names (and, with ``sweeps``, the sweeps' own names, which ``--target`` takes too),
    ``_defaults.yaml`` from ``job_root`` down applied; jobs of files with problems are left out."""
    from gpulab_apply.jobfiles.validation import validate_paths

    jobs = validate_paths(paths, job_root=job_root).jobs
    names = {spec.name for spec in jobs} | ({spec.sweep for spec in jobs if spec.sweep} if sweeps else set())
    from gpulab_apply.reporters.status import natural_key  # one order for status and completion

    return sorted(names, key=natural_key)


def complete_job_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Candidates for a job name: the names in the command's job directories (default: the job root)."""
    # While an option's value is being completed, click may leave the positional words unparsed in ctx.args.
    from gpulab_apply.workspace import find_workspace

    given = [str(path) for path in ctx.params.get("paths") or ctx.args if Path(path).exists()]
    try:
        workspace = find_workspace(given)
        names = job_names(workspace.select(given).paths, job_root=workspace.job_root, sweeps=param.name == "targets")
    except (OSError, GpulabApplyError):  # completion must never print a traceback into the shell
        return []
    already = set(ctx.params.get(param.name or "") or ()) if param.multiple or param.nargs == -1 else set()
    return [CompletionItem(name) for name in names if name.startswith(incomplete) and name not in already]


@click.command(short_help="Print the shell completion script.",
               epilog="\b\nExample:\n  eval \"$(gpulab-apply completion bash)\"")
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> int:
    """Print the completion script for SHELL: commands, options, and job names from jobs.d.

    \b
    bash (~/.bashrc):  eval "$(gpulab-apply completion bash)"
    zsh (~/.zshrc):    eval "$(gpulab-apply completion zsh)"
    fish:              gpulab-apply completion fish > ~/.config/fish/completions/gpulab-apply.fish
    """
    from gpulab_apply.cli import cli

    completer = get_completion_class(shell)
    assert completer is not None  # the Choice allows only shells click knows
    click.echo(completer(cli, {}, PROG_NAME, COMPLETE_VAR).source(), nl=False)
    return ExitStatus.OK
