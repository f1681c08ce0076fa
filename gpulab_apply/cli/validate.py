"""``gpulab-apply validate``: check job files against GPULab's rules, offline.

The command a pre-commit hook or an editor starts on every save, so its start-up counts
(docs/validate.md#start-up): this module and what it imports at the top (:mod:`gpulab_apply.app.validation`) must
stay light. It reads no network setting and imports neither ``requests`` nor ``jsonschema`` (jsonschema only explains an
invalid job; tests/cli/test_validate_argv.py holds the line).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from gpulab_apply.app.validation import validate_jobs
from gpulab_apply.cli.group import JobPaths, config_given, is_verbose, verbose_option
from gpulab_apply.cli.output import Output, format_option
from gpulab_apply.errors import ExitStatus


@click.command(short_help="Check job files against GPULab's rules, offline.",
               epilog="\b\nExample:\n  gpulab-apply validate\n  gpulab-apply validate jobs.d/train.yaml --format json")
# a PATH named that does not exist is a usage error (64); a missing default job root is a located problem (1)
@click.argument("paths", nargs=-1, type=JobPaths(target_hint=False))
@format_option("validate", "text for people, json for programs, github for workflow annotations, gitlab for a "
                           "Code Quality report.")
@click.option("--strict", is_flag=True, default=None,
              help="Forms GPULab accepts but that are not canonical (cpus: \"4\", interactive: yes) are errors, "
                   "not warnings. Also GPULAB_APPLY_STRICT or strict: true in gpulab-apply.yaml.")
@verbose_option
def validate(paths: tuple[Path, ...], output: Output, strict: bool | None, verbose: bool | None) -> int:
    """Check job files (default: jobs.d) and report every problem with file:line:col. No network.

    Exits 0 when every job is valid (warnings allowed, unless --strict), 1 when there is an error.
    """
    with job_file_lines(output, is_verbose(verbose)):
        result = validate_jobs(paths, strict=strict, environ=output.environ, config=config_given())
    output.hide(result.secrets)
    output.emit(result)
    return ExitStatus.OK if result.ok else ExitStatus.ERROR


@contextmanager
def job_file_lines(output: Output, verbose: bool) -> Iterator[None]:
    """With --verbose, the job files' log lines (each file skipped) on stderr; the logging it needs is imported
    only then (docs/validate.md#start-up)."""
    if not verbose:
        yield
        return
    from gpulab_apply.cli.options import verbose_lines  # logging and the settings: only for -v (start-up)

    with verbose_lines(output):
        yield
