"""Shell completion: ``gpulab-apply completion SHELL`` prints the script, and job names complete from the
local job files (no network), for ``--target``, ``logs`` and ``wait`` (docs/editors.md#shell-completion).

Click does the protocol: the shell calls ``gpulab-apply`` with ``_GPULAB_APPLY_COMPLETE=<shell>_complete``
and the words so far, and reads the candidates back.
"""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

from gpulab_apply.cli import COMPLETE_VAR, PROG_NAME, cli
from gpulab_apply.errors import ExitStatus

SHELLS = ("bash", "zsh", "fish")


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
    completer = get_completion_class(shell)
    assert completer is not None  # the Choice allows only shells click knows
    click.echo(completer(cli, {}, PROG_NAME, COMPLETE_VAR).source(), nl=False)
    return ExitStatus.OK
