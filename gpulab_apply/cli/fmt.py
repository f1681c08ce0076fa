"""``gpulab-apply fmt``: rewrite job files into canonical form, keeping everything else (docs/validate.md#fmt).

The work is :mod:`gpulab_apply.app.formatting` (over :mod:`gpulab_apply.jobfiles.formatting`); this module reads
the options, has the files rewritten (or, with ``--check``, prints the diff) and says what it did. Offline, like
validate.
"""

from __future__ import annotations

import click

from gpulab_apply.app.formatting import format_jobs, rewrite
from gpulab_apply.cli.output import Output, pass_output
from gpulab_apply.errors import ExitStatus
from gpulab_apply.jobfiles.formatting import diff
from gpulab_apply.masking import safe


@click.command(short_help="Rewrite job files into canonical form; --check for CI.",
               epilog="\b\nExample:\n  gpulab-apply fmt\n  gpulab-apply fmt --check jobs.d")
@click.argument("paths", nargs=-1, type=click.Path(file_okay=True, dir_okay=True))
@click.option("--check", is_flag=True,
              help="Change nothing: print the diff and exit 1 when a file is not in canonical form.")
@pass_output
def fmt(paths: tuple[str, ...], check: bool, output: Output) -> int:
    """Rewrite the forms validate warns about ("GPULab reads X as Y": cpus: "4", interactive: yes, snake_case
    keys, a single value for a list) into canonical form, in place (default: the job root, jobs.d, with its
    _defaults.yaml files). Comments, order, anchors, quoting and layout stay as they are. No network.

    Exits 0 when nothing is left to rewrite (with --check: nothing would change), 1 otherwise or when a file
    cannot be rewritten.
    """
    write = output.write
    results, problems = format_jobs(paths)
    changed = [result for result in results if result.changed]
    for result in changed:
        if check:
            write(safe_lines(diff(result)))
            write(f"would reformat {safe(result.path)} ({len(result.fixed)} fix(es))\n", err=True)
        else:
            rewrite(result)
            write(f"reformatted {safe(result.path)} ({len(result.fixed)} fix(es))\n", err=True)
    problems += [problem for result in results for problem in result.problems]
    write("".join(safe(str(problem)) + "\n" for problem in problems), err=True)
    verb = "would be reformatted" if check else "reformatted"
    write(f"{len(changed)} of {len(results)} file(s) {verb}"
          + (f", {len(problems)} problem(s) left" if problems else "") + ".\n", err=True)
    return ExitStatus.ERROR if problems or (check and changed) else ExitStatus.OK


def safe_lines(text: str) -> str:
    """A diff with each line's control characters escaped (a file may hold any)."""
    return "".join(safe(line.rstrip("\r\n")) + "\n" for line in text.splitlines(keepends=True))

