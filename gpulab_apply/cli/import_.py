"""``gpulab-apply import``: job files for jobs that already run on GPULab, adopted (docs/authoring.md#import-and-adoption).

What the files hold, and the promises they keep, is :mod:`gpulab_apply.reconcile.importing`. This command
selects the jobs, makes every file first, checks each one where it will live (defaults and variables
applied, as ``validate`` and ``plan`` read it) against the job GPULab runs, and only then puts them in
place: all of them, or none.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import click

from gpulab_apply.app.connection import open_client
from gpulab_apply.cli.options import connection_options, job_directory_option
from gpulab_apply.cli.output import Output, pass_output
from gpulab_apply.cli.shared import job_file_facts
from gpulab_apply.errors import ConfigError, ExitStatus, InvalidJobsError, JobNotFoundError
from gpulab_apply.jobfiles.defaults import DefaultsOverlay, deep_merge, top_directory
from gpulab_apply.jobfiles.validation import validate_paths
from gpulab_apply.masking import safe
from gpulab_apply.model import RemoteJob, format_timestamp
from gpulab_apply.order import natural_sorted
from gpulab_apply.problems import Severity
from gpulab_apply.reconcile.adoption import same_request
from gpulab_apply.reconcile.importing import (
    DefaultsConflict,
    Occupied,
    References,
    check_target,
    dump,
    escape_variables,
    file_form,
    file_names,
    full_form,
    names_of,
    over_defaults,
    scratch_file,
    write_new,
)
from gpulab_apply.selectors import Candidate, resolve
from gpulab_apply.settings import Settings

#: where imported job files go by default, in the job root
DEFAULT_DIRECTORY = "imported"


@click.command("import", short_help="Write job files for jobs already on GPULab.",
               epilog="\b\nExample:\n  gpulab-apply import 'train-*'\n"
                      "  gpulab-apply import 1a2b3c4d --jobs jobs.d/legacy\n  gpulab-apply plan")
@click.argument("selectors", nargs=-1, required=True, metavar="SELECTOR...")
@job_directory_option(help=f"Where to write the job files [default: {DEFAULT_DIRECTORY}/ in the job root, jobs.d].",
                      multiple=False, file_okay=False, deprecated=("--dir",))
@click.option("--all", "include_final", is_flag=True, help="Also jobs that have ended (default: active jobs only).")
@click.option("--adopt/--no-adopt", default=True, show_default=True,
              help="Write x-gpulab-apply.adopt, so that apply manages the running job instead of resubmitting it.")
@click.option("--force", is_flag=True, help="Overwrite job files that exist (never through a symbolic link).")
@connection_options(job_files=False)
@pass_output
def import_(selectors: tuple[str, ...], paths: Path | None, include_final: bool, adopt: bool, force: bool, *,
            settings: Settings, output: Output) -> int:
    """Write one job file per selected job on GPULab, so that `import` then `render` gives the request GPULab
    stores: its name, description and request, without the values GPULab fills in by itself and without
    what the `_defaults.yaml` files reaching --jobs already say. Secret-looking values (environment
    variables named *TOKEN*, *SECRET*, *PASSWORD*, *KEY*, registry passwords, --token values) are written
    as ${VAR} references: set those variables, and the next `plan` shows the job in sync. With --adopt,
    the file names the job's UUID, so that `apply` manages it without cancelling and resubmitting it.

    SELECTOR selects jobs by name, glob or UUID (or its first 8+ characters). When several jobs share a name,
    the newest one is imported.
    """
    directory = paths
    if directory is None:  # the job root's, wherever in the repository this runs
        directory = Path(settings.workspace.relative(settings.workspace.job_root / DEFAULT_DIRECTORY))
    with open_client(settings) as client:
        listing = client.list_jobs(project_urn=client.project_urn)
        project_urn = client.project_urn
    # a sweep is named by its members in the job files (docs/commands.md#selectors)
    chosen = _select(listing, selectors, include_final=include_final,
                     sweeps=job_file_facts((), settings.workspace)[1])
    references = References()
    files = _prepare(chosen, directory, adopt=adopt, force=force, project_urn=project_urn, references=references)
    _write(files, directory, force=force, variables=references.values)
    output.render(lambda stream, color: stream.writelines(f"{line}\n" for line in _report(files, directory,
                                                                                         references, adopt=adopt)))
    return ExitStatus.OK


class _File(NamedTuple):
    job: RemoteJob
    path: Path
    text: str


def _select(listing: Sequence[RemoteJob], selectors: Sequence[str], *, include_final: bool,
            sweeps: Mapping[str, str]) -> list[RemoteJob]:
    """The newest selected job per name (docs/commands.md#selectors), in natural name order; a selector that
    matches no job is an error."""
    jobs = [job for job in listing if include_final or job.status.is_active]  # newest first
    try:
        chosen = {candidate.uuid for candidate in
                  resolve(selectors, [Candidate(job.name, sweeps.get(job.name), job.uuid) for job in jobs],
                          what="job" if include_final else "active job")}
    except JobNotFoundError as exc:
        if include_final:
            raise
        raise JobNotFoundError(exc.message, hint=f"{exc.hint}; --all includes jobs that have ended") from None
    newest: dict[str, RemoteJob] = {}
    for job in jobs:
        if job.uuid in chosen:
            newest.setdefault(job.name, job)
    return [newest[name] for name in natural_sorted(newest)]


def _prepare(chosen: Sequence[RemoteJob], directory: Path, *, adopt: bool, force: bool, project_urn: str | None,
             references: References) -> list[_File]:
    """Every file's text and place, or an error before anything is written."""
    # every job here was read whole and checked where GPULab's answer was read (gpulab/answers.py): its uuid an
    # id, its name valid Unicode text, its description, request and owner of their types (docs/client.md)
    names = file_names(job.name for job in chosen)
    defaults = _defaults_reaching(directory)
    now = format_timestamp(datetime.now(UTC))
    files = []
    for job in chosen:
        path = directory / names[job.name]
        try:
            check_target(path, force=force)
        except Occupied as why:
            raise ConfigError(f"{safe(path.as_posix())} {why}; nothing was written",
                              hint="use --force to overwrite it, or --jobs DIR to write elsewhere") from None
        body = references.apply(escape_variables(file_form(job, project_urn=project_urn)))
        try:
            body = over_defaults(body, defaults, escape_variables(full_form(job)))
        except DefaultsConflict as conflict:
            raise ConfigError(f"the _defaults.yaml reaching {safe(directory.as_posix())} sets {safe(conflict.path)}, "
                              f"which job {safe(job.name)!r} does not have, and a job file cannot remove a default "
                              "key; nothing was written",
                              hint="import into a directory those defaults do not reach (--jobs DIR)") from None
        if adopt:
            body["x-gpulab-apply"] = {"adopt": {"uuid": job.uuid}}
        used = sorted({ref.variable for ref in references.found if ref.job == job.name})
        header = (f"# Imported by gpulab-apply import from GPULab job {job.uuid} ({job.status.name}) on {now}.\n"
                  + "".join(f"# ${{{variable}}}: set it in the environment; its value is kept out of this file.\n"
                            for variable in used))
        files.append(_File(job, path, header + dump(body)))
    return files


def _defaults_reaching(directory: Path) -> Mapping[str, Any]:
    """What the ``_defaults.yaml`` files reaching a job file in ``directory`` merge under it."""
    probe = (directory / "job.yaml").as_posix()
    layers, problems = DefaultsOverlay(probe, top_directory(probe, [probe])).layers()
    if problems:
        raise InvalidJobsError("a _defaults.yaml reaching the import directory has problems; nothing was written",
                               problems=problems)
    merged: Any = {}
    for layer in layers:
        merged = deep_merge(merged, layer.data)
    return merged if isinstance(merged, Mapping) else {}


def _write(files: Sequence[_File], directory: Path, *, force: bool, variables: Mapping[str, str]) -> None:
    """Each file first beside its place, checked as ``plan`` will read it; then all moved into place."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {safe(directory.as_posix())}: {exc.strerror or exc}") from exc
    scratches: list[Path] = []
    try:
        scratches.extend(scratch_file(directory, file.path.name, file.text) for file in files)
        _verify(files, scratches, variables)
        for file, scratch in zip(files, scratches, strict=True):
            write_new(scratch, file.path, force=force)
    except Occupied as why:
        raise ConfigError(f"a file appeared meanwhile where import writes ({why}); some files may be written",
                          hint="run import again") from None
    except OSError as exc:
        raise ConfigError(f"cannot write in {safe(directory.as_posix())}: {exc.strerror or exc}") from exc
    finally:
        for scratch in scratches:
            with suppress(FileNotFoundError):
                scratch.unlink()


def _verify(files: Sequence[_File], scratches: Sequence[Path], variables: Mapping[str, str]) -> None:
    """Each file, read where it goes with its defaults and the variables' values, gives the job GPULab runs."""
    with _environment(variables):
        result = validate_paths(scratches)
    specs = {spec.location.path: spec for spec in result.jobs}
    for file, scratch in zip(files, scratches, strict=True):
        spec = specs.get(scratch.as_posix())
        errors = [str(p.message) for p in result.problems
                  if p.location.path == scratch.as_posix() and p.severity is Severity.ERROR]
        if spec is None or errors:
            raise InvalidJobsError(f"GPULab's job {safe(file.job.name)!r} does not make a valid job file: "
                                   f"{safe('; '.join(errors[:3]) or 'no job read back')}; nothing was written",
                                   hint="report this; --no-adopt does not help")
        if not same_request(spec, file.job):
            raise InvalidJobsError(f"the job file for {safe(file.job.name)!r} would not give the job GPULab runs; "
                                   "nothing was written", hint="report this, with the job's request")


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """The process environment with ``values`` set, for reading the new files as the user will once they
    set the variables the files name; restored after."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _report(files: Sequence[_File], directory: Path, references: References, *, adopt: bool) -> list[str]:
    lines = [f"  {safe(file.job.name)}: job {file.job.uuid[:8]} ({file.job.status.name}) -> "
             f"{safe(file.path.as_posix())}" for file in files]
    lines.append(f"Imported {len(files)} job(s) into {len(files)} file(s) in {safe(directory.as_posix())}.")
    used = names_of(references.found)
    if used:
        lines.append("Secret-looking values are written as ${VAR}; set these variables (the jobs' own values) "
                     "before plan or apply:")
        lines.extend(f"  {variable}: {', '.join(safe(name) for name in jobs)}" for variable, jobs in used.items())
    lines.append(f"Run `gpulab-apply plan`{' with them set' if used else ''}: "
                 + ("adopted jobs show as in sync." if adopt else "without --adopt they would be submitted again."))
    return lines


# The command table finds a command as the attribute named like it; "import" is a keyword in Python.
globals()["import"] = import_
