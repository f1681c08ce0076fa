"""``gpulab-apply import``: job files for jobs that already run on GPULab, adopted (docs/authoring.md#import-and-adoption)."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from gpulab_apply.cli.options import connection_options, job_directory_option
from gpulab_apply.cli.output import render
from gpulab_apply.cli.shared import job_file_facts
from gpulab_apply.errors import ConfigError, ExitStatus, InvalidJobsError, JobNotFoundError
from gpulab_apply.gpulab.connection import open_client
from gpulab_apply.masking import safe
from gpulab_apply.model import RemoteJob, format_timestamp
from gpulab_apply.order import natural_sorted
from gpulab_apply.selectors import Candidate, resolve
from gpulab_apply.settings import Settings

#: where imported job files go by default, in the job root
DEFAULT_DIRECTORY = "imported"
_FILE_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@click.command("import", short_help="Write job files for jobs already on GPULab.",
               epilog="\b\nExample:\n  gpulab-apply import 'train-*'\n"
                      "  gpulab-apply import 1a2b3c4d --jobs jobs.d/legacy\n  gpulab-apply plan")
@click.argument("selectors", nargs=-1, required=True, metavar="SELECTOR...")
@job_directory_option(help=f"Where to write the job files [default: {DEFAULT_DIRECTORY}/ in the job root, jobs.d].",
                      multiple=False, file_okay=False, deprecated=("--dir",))
@click.option("--all", "include_final", is_flag=True, help="Also jobs that have ended (default: active jobs only).")
@click.option("--adopt/--no-adopt", default=True, show_default=True,
              help="Write x-gpulab-apply.adopt, so that apply manages the running job instead of resubmitting it.")
@click.option("--force", is_flag=True, help="Overwrite job files that exist.")
@connection_options(job_files=False)
def import_(selectors: tuple[str, ...], paths: Path | None, include_final: bool, adopt: bool, force: bool, *,
            settings: Settings) -> int:
    """Write one job file per selected job on GPULab: its name, description and request as submitted, with
    the fields GPULab fills in itself left out, and (with --adopt) the job's UUID, so that `plan` shows it
    in sync and `apply` manages it without cancelling and resubmitting it.

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
    lines = [_import_one(job, directory, adopt=adopt, force=force, project_urn=project_urn) for job in chosen]
    lines.append(f"Imported {len(chosen)} job(s) into {directory.as_posix()}. Run `gpulab-apply plan`: "
                 + ("adopted jobs show as in sync." if adopt else "without --adopt they would be submitted again."))
    render(lambda stream, color: stream.writelines(f"{line}\n" for line in lines))
    return ExitStatus.OK


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


def _import_one(job: RemoteJob, directory: Path, *, adopt: bool, force: bool, project_urn: str | None) -> str:
    path = directory / f"{_FILE_UNSAFE.sub('_', job.name).strip('._') or job.uuid}.yaml"
    if path.exists() and not force:
        raise ConfigError(f"{path.as_posix()} exists; nothing was written for job {safe(job.name)!r}",
                          hint="use --force to overwrite it, or --dir to write elsewhere")
    body = job_file_body(job, project_urn=project_urn)
    header = (f"# Imported by gpulab-apply import from GPULab job {job.uuid} ({job.status.name}) "
              f"on {format_timestamp(datetime.now(UTC))}.\n")
    text = header + _yaml(body)
    if adopt:
        text += _yaml({"x-gpulab-apply": {"adopt": {"uuid": job.uuid, "spec": _spec_of(text, job.name, project_urn)}}})
    try:
        directory.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {path.as_posix()}: {exc.strerror or exc}") from exc
    return f"  {safe(job.name)}: job {job.uuid[:8]} ({job.status.name}) -> {path.as_posix()}"


def job_file_body(job: RemoteJob, *, project_urn: str | None) -> dict[str, Any]:
    """What the user submitted, as far as GPULab's answer shows it: the request in GPULab's normal form with
    the fields the server fills in when absent (null, false, empty lists and mappings) left out, the
    description without an ownership marker, and ``owner.projectUrn`` only when it is not the configured
    project. Durations stay: GPULab's answer cannot tell a default from a value the user chose."""
    from gpulab_apply.jobmodel.normal_form import normal_request
    from gpulab_apply.reconcile.marker import without_marker

    body: dict[str, Any] = {"name": job.name}
    description = without_marker(job.description or "")
    if description:
        body["description"] = description
    remote_project = job.owner.get("projectUrn")
    if isinstance(remote_project, str) and remote_project != project_urn:
        body["owner"] = {"projectUrn": remote_project}
    body["request"] = _without_empties(normal_request(dict(job.request))) or {}
    return body


def _without_empties(value: Any) -> Any:
    """``value`` without keys whose value is null, false or empty (after their own empties are gone)."""
    if not isinstance(value, Mapping):
        return value
    kept = {key: _without_empties(item) for key, item in value.items()}
    return {key: item for key, item in kept.items() if item is not None and item is not False and item != []
            and item != {}}


def _spec_of(text: str, name: str, project_urn: str | None) -> str:
    """The spec hash of the job file ``text`` as validate reads it: what adoption vouches for."""
    from gpulab_apply.jobfiles.validation import validate_paths
    from gpulab_apply.reconcile.planner import desired_spec_hash

    with tempfile.TemporaryDirectory(prefix="gpulab-apply-import-") as scratch:
        path = Path(scratch) / "job.yaml"
        path.write_text(text, encoding="utf-8")
        result = validate_paths([path])
    if not result.ok or not result.jobs:
        problems = "; ".join(str(problem) for problem in result.problems[:3])
        raise InvalidJobsError(f"GPULab's copy of job {safe(name)!r} does not validate as a job file: {problems}",
                               hint="import it with --no-adopt and fix the file by hand")
    return desired_spec_hash(result.jobs[0], project_urn)


def _yaml(data: Mapping[str, Any]) -> str:
    import io

    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    yaml.allow_unicode = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    buffer = io.StringIO()
    yaml.dump(dict(data), buffer)
    return buffer.getvalue()


# The command table finds a command as the attribute named like it; "import" is a keyword in Python.
globals()["import"] = import_
