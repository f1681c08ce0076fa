"""``gpulab-apply status``: the managed jobs of the set and their GPULab state, once or refreshed (``--watch``)."""

from __future__ import annotations

from pathlib import Path

import click

from gpulab_apply.app.status import status_of, watch_status
from gpulab_apply.cli.group import JobPaths
from gpulab_apply.cli.names import complete_job_names
from gpulab_apply.cli.options import connection_options
from gpulab_apply.cli.output import Output, format_option
from gpulab_apply.errors import ExitStatus
from gpulab_apply.reporters.status import RESULTS_FORMATS
from gpulab_apply.settings import Settings

#: moves the cursor home and clears the screen, so a refresh replaces the previous table on a terminal
_CLEAR = "\x1b[H\x1b[2J"


@click.command(short_help="List the jobs of this set and their state.",
               epilog="\b\nExample:\n  gpulab-apply status\n  gpulab-apply status --all\n  gpulab-apply status --watch --interval 10\n"
                      "  gpulab-apply status --format markdown > status.md")
@click.argument("paths", nargs=-1, type=JobPaths())
@format_option("status", "text (a table), json (versioned), markdown (a pull-request comment).")
@click.option("--watch", is_flag=True, help="Refresh every --interval seconds until Ctrl-C.")
@click.option("--interval", type=click.FloatRange(min=0.1), default=5.0, show_default=True, metavar="SECONDS",
              help="Seconds between refreshes with --watch.")
@click.option("--count", type=click.IntRange(min=1), metavar="N", help="With --watch: stop after N refreshes.")
@click.option("--target", "targets", multiple=True, metavar="SELECTOR", shell_complete=complete_job_names,
              help="Only these jobs: a name, glob, sweep name or UUID (prefix) (repeatable; docs/commands.md).")
@click.option("--all", "every_run", is_flag=True,
              help="Every job of each name (earlier runs, cancelled duplicates), not only the current run.")
@connection_options
def status(paths: tuple[Path, ...], *, output: Output, watch: bool, interval: float, count: int | None,
           targets: tuple[str, ...], every_run: bool, settings: Settings) -> int:
    """List the jobs of this set: status, age, GPUs, the job file each comes from, and why a queued job waits.

    One row per name, its current run; --all lists every run. PATHS (default: the job root, jobs.d) select job
    directories or files inside it, and --target selects jobs: only those are listed. A line per sweep ends it.
    """
    results = output.fmt in RESULTS_FORMATS  # the formats that say how the ended jobs ended (docs/results.md)
    if not watch:
        output.emit(status_of(settings, paths, every_run=every_run, targets=targets, results=results,
                              hide=output.hide))
        return ExitStatus.OK
    clear = output.is_terminal()
    try:
        for refresh, report in enumerate(watch_status(settings, paths, every_run=every_run, interval=interval,
                                                      count=count, targets=targets, results=results,
                                                      hide=output.hide)):
            if clear:
                output.write(_CLEAR)
            elif refresh and output.fmt == "text":
                output.write("\n")
            output.emit(report)
    except KeyboardInterrupt:  # the way to stop watching: not an error
        pass
    return ExitStatus.OK
