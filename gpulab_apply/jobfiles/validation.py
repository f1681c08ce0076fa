"""Validating a set of job files: the desired jobs, and every problem with them, each at file:line:col.

This is what ``gpulab-apply validate`` reports and what ``plan`` and ``apply`` start from. It reads
files (:mod:`gpulab_apply.jobfiles.loader`), checks each document against the Job2 schema
(:mod:`gpulab_apply.jobmodel.schema`) and GPULab's cross-field rules (:mod:`gpulab_apply.jobmodel.rules`), then checks
the set: job names are identities, so a name may appear only once.
"""

from __future__ import annotations

import functools
import os
import sys
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpulab_apply.jobfiles.adoption import Adoption
from gpulab_apply.jobfiles.defaults import DefaultsOverlay, defaults_problems, top_directory
from gpulab_apply.jobfiles.drafts import Draft, Transform, run_transforms
from gpulab_apply.jobfiles.loader import DEFAULTS_NAMES, discover, read
from gpulab_apply.jobfiles.matrix import MAX_JOBS, JobBudget, MatrixExpansion
from gpulab_apply.jobfiles.needs import NeedProblem, need_problems
from gpulab_apply.jobfiles.variables import Variables
from gpulab_apply.jobmodel.durations import parse_duration
from gpulab_apply.jobmodel.normal_form import canonical_job
from gpulab_apply.jobmodel.rules import judge
from gpulab_apply.jobmodel.schema import TOOL_KEY, Violation
from gpulab_apply.masking import NO_SECRETS, Secrets, mask_text
from gpulab_apply.model import JobSpec, Workflow
from gpulab_apply.problems import Location, Problem, Severity

__all__ = ["ValidationResult", "validate_paths"]


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """The outcome of validating job files.

    ``jobs`` holds the jobs of fully valid documents only, in file order; ``problems`` is sorted by
    file, line and column; ``files`` counts the job files read. ``secrets`` are the values the files took
    from the environment, valid or not: whatever shows the jobs or the problems masks them
    (docs/security.md). ``unset``: the variables the files use that are not set here and have no default, left
    as placeholders (sorted; only without ``submission``): a submission will need them.
    """

    jobs: tuple[JobSpec, ...]
    problems: tuple[Problem, ...]
    files: int
    secrets: Secrets = NO_SECRETS
    #: when the paths given are narrower than the job root and their jobs have ``needs``: the other valid jobs of
    #: the job root, which those needs name and whose specs their spec hashes include (docs/workflows.md)
    outside: tuple[JobSpec, ...] = ()
    #: the variables a submission needs that are not set (docs/authoring.md#variables-offline)
    unset: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not any(problem.severity is Severity.ERROR for problem in self.problems)


@dataclass(frozen=True, slots=True)
class _Candidate:
    """What the set-wide checks need of a document; its node graph is let go once the file is checked."""

    name: str | None
    name_location: Location
    spec: JobSpec | None  # None when the document has problems of its own
    #: values the job took from the environment
    secrets: frozenset[str] = frozenset()
    #: variables the job needs that are not set here (left as placeholders)
    unset: frozenset[str] = frozenset()


def validate_paths(paths: Sequence[str | Path], *, require_project: bool = False,
                   strict: bool = False, job_root: str | Path = ".", submission: bool = False,
                   meanwhile: Callable[[], None] | None = None) -> ValidationResult:
    """Read and check every job file under ``paths``; never raises for a problem in a file.

    ``require_project`` (API v4.0 without ``--project``): a job without ``owner.projectUrn`` is an
    error at that job. ``strict``: a form GPULab accepts but that is not canonical is an error, not a
    warning. ``job_root``: every ``_defaults.yaml`` from it down applies to the files inside it, whichever
    paths were given (docs/plan-apply.md#workspace). ``submission``: the jobs are to be submitted, so every
    ``${VAR}`` needs its value; without it an unset variable stays a placeholder whose value is not checked
    (docs/authoring.md#variables-offline). Large sets are checked on every core (see :func:`_check_all`);
    ``meanwhile`` is called while they are, and only then: what the caller has to do anyway and can do in this
    otherwise idle process (``plan`` reads the listing, docs/plan-apply.md#speed). It must not raise.
    """
    files, problems = discover(paths)
    candidates: list[_Candidate] = []
    given = tuple(str(path) for path in paths)
    for file_problems, file_candidates in _check_all(files, require_project=require_project, strict=strict,
                                                     given=given, job_root=str(job_root), submission=submission,
                                                     meanwhile=meanwhile):
        problems.extend(file_problems)
        candidates.extend(file_candidates)
    secrets = Secrets(secret for candidate in candidates for secret in candidate.secrets)
    if secrets:  # in every message already made, wherever a check quoted a value
        problems = [p._replace(message=secrets.mask(mask_text(p.message)),
                               hint=p.hint and secrets.mask(mask_text(p.hint))) for p in problems]
    if len(candidates) > MAX_JOBS:  # slices checked in parallel each had the whole budget
        problems.append(Problem(Location(given[0] if given else "."), f"{len(candidates):,} jobs, more than the "
                                f"{MAX_JOBS:,} one run may hold", hint="split the job files over several runs"))
        candidates = []
    duplicate_problems, duplicated = _duplicate_names(candidates)
    problems.extend(duplicate_problems)
    jobs = tuple(c.spec for c in candidates if c.spec is not None and id(c) not in duplicated)
    outside: tuple[JobSpec, ...] = ()
    if any(job.workflow.needs for job in jobs):  # a need names jobs of the set: checked on the whole set
        if not _covers(paths, job_root):  # the set is the whole job root's, whichever paths were given
            selected = {job.name for job in jobs}
            whole = validate_paths([job_root], require_project=require_project, strict=strict, job_root=job_root)
            outside = tuple(job for job in whole.jobs if job.name not in selected)
        wrong = [found for found in need_problems((*jobs, *outside)) if found.job in jobs]
        problems.extend(_need_problem(found) for found in wrong)
        jobs = tuple(job for job in jobs if job.name not in {found.job.name for found in wrong})
    # a problem in a shared defaults file is found once per job file it reaches: report it once
    unique = sorted(set(problems), key=_problem_order)
    unset = tuple(sorted({name for candidate in candidates for name in candidate.unset}))
    return ValidationResult(jobs=jobs, problems=tuple(unique), files=len(files), secrets=secrets, outside=outside,
                            unset=unset)


def _covers(paths: Sequence[str | Path], job_root: str | Path) -> bool:
    """Whether ``paths`` hold the whole job root (or one of its parents)."""
    root = os.path.realpath(job_root)
    return any(root == (given := os.path.realpath(path)) or root.startswith(given.rstrip(os.sep) + os.sep)
               for path in paths)


#: below this many files a worker process costs more than it saves
PARALLEL_MIN_FILES = 200

_FileResult = tuple[list[Problem], list[_Candidate]]


def _check_all(files: Sequence[str], *, require_project: bool, strict: bool = False, given: Sequence[str] = (),
               job_root: str = ".", workers: int | None = None, submission: bool = False,
               meanwhile: Callable[[], None] | None = None) -> list[_FileResult]:
    """Each file's problems and candidates, in file order.

    Parsing dominates and each file stands alone, so a large set is split into one contiguous slice
    per core and checked in forked workers, which send back only plain results (no node graphs).
    Forking is cheap and safe only on Linux; elsewhere, and for small sets, it all runs here. A worker
    that dies (no file should make one, but a parser is C code) costs only a problem at the file that
    killed it: see :func:`_check_guarded`. ``meanwhile`` runs here once every worker is forked, so that a
    thread it starts cannot hold a lock at the fork (a forked worker would inherit it held, with nobody to release it);
    only a worker that died is replaced while such a thread may run, and its replacement only reads files.
    """
    check = functools.partial(_check_files, require_project=require_project, strict=strict, given=given,
                              job_root=job_root, submission=submission)
    if not sys.platform.startswith("linux") or len(files) < PARALLEL_MIN_FILES:
        return check(files)
    workers = workers or min(len(os.sched_getaffinity(0)), 8)  # the cores this process may use, not the machine's
    if workers < 2:
        return check(files)
    # imported here: multiprocessing costs a one-file validate about a Python start-up of its own
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    size = -(-len(files) // workers)
    slices = [files[start:start + size] for start in range(0, len(files), size)]
    context = multiprocessing.get_context("fork")
    results: list[_FileResult] = []
    with ProcessPoolExecutor(max_workers=len(slices), mp_context=context) as pool:
        futures = [pool.submit(check, part) for part in slices]  # with fork, every worker is started by now
        if meanwhile is not None:
            meanwhile()
        for part, future in zip(slices, futures, strict=True):
            try:
                results.extend(future.result())
            except BrokenProcessPool:  # every slice not finished when a worker died: again, apart
                results.extend(_check_guarded(part, check, context))
    return results


def _check_guarded(files: Sequence[str], check: Callable[[Sequence[str]], list[_FileResult]],
                   context: Any) -> list[_FileResult]:
    """``check(files)`` in a process of its own; when that process dies, each half again, down to the one
    file that kills it, which gets a problem of its own (a few forks per such file, none otherwise)."""
    # as in the pool above: a one-file validate never imports the process pool
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        try:
            return pool.submit(check, files).result()
        except BrokenProcessPool:
            if len(files) == 1:
                return [([Problem(Location(files[0]), "checking this file stopped the process that read it",
                                  hint="report it as a bug, with the file; gpulab-apply cannot use it")], [])]
    half = len(files) // 2
    return _check_guarded(files[:half], check, context) + _check_guarded(files[half:], check, context)


def _check_files(files: Sequence[str], *, require_project: bool, strict: bool,
                 given: Sequence[str] = (), job_root: str = ".", submission: bool = False) -> list[_FileResult]:
    defaults: dict[str, Any] = {}  # the defaults files read so far, shared by the files of this slice
    budget = JobBudget()  # and how many jobs their sweeps may still make
    return [_check_file(path, require_project=require_project, strict=strict, given=given, defaults=defaults,
                        job_root=job_root, budget=budget, submission=submission) for path in files]


def _check_file(path: str, *, require_project: bool, strict: bool = False, given: Sequence[str] = (),
                defaults: dict[str, Any] | None = None, job_root: str = ".",
                budget: JobBudget | None = None, submission: bool = False) -> _FileResult:
    """One file on its own: its problems, and what the set-wide checks need of each document."""
    if os.path.basename(path) in DEFAULTS_NAMES:  # named explicitly (a pre-commit hook passes changed files)
        return list(defaults_problems(path)), []
    job_file = read(path)
    problems = list(job_file.problems)
    candidates: list[_Candidate] = []
    documents = [doc for doc in job_file.documents if doc.data is not None]
    if not documents and not job_file.problems:
        problems.append(Problem(Location(path), "no job in this file (it is empty or only has comments)",
                                hint="remove the file, or prefix its name with _ to keep it out of the set"))
    transforms = _transforms(path, given, {} if defaults is None else defaults, job_root, budget or JobBudget(),
                             submission=submission)
    for document in documents:
        expansion = run_transforms(Draft(data=document.data, source=document.source), transforms)
        problems.extend(expansion.problems)
        for draft in expansion.drafts:
            found, canonical = _document_violations(draft.data, require_project=require_project)
            found += _sweep_only(draft)
            if draft.unset:  # a placeholder is not the value: its checks are the submission's
                deferred = {path for path, _ in draft.unset}
                found = [v for v in found if v.path not in deferred]
            errors = [v for v in found if strict or not v.warning]
            problems.extend(_problem(draft, violation, warning=violation.warning and not strict)
                            for violation in found)
            name = canonical.get("name") if isinstance(canonical, Mapping) else None
            candidates.append(_Candidate(name if isinstance(name, str) else None, draft.source.locate(("name",)),
                                         None if errors else _job_spec(draft, canonical), draft.secrets,
                                         frozenset(name for _, names in draft.unset for name in names)))
    return problems, candidates


def _transforms(path: str, given: Sequence[str], defaults: dict[str, Any], job_root: str,
                budget: JobBudget, *, submission: bool = False) -> list[Transform]:
    """The authoring steps between reading ``path`` and checking its jobs, in the order of
    docs/authoring.md#order: defaults under the document, then the matrix, then variables (last, so a
    value from the environment is never read as an expression)."""
    return [DefaultsOverlay(path, top_directory(path, given, job_root), defaults), Adoption(), MatrixExpansion(budget),
            Variables(placeholders=not submission)]


def _document_violations(data: Any, *, require_project: bool) -> tuple[list[Violation], Any]:
    """The document's errors and warnings (paths as written), and the job in canonical form."""
    if not isinstance(data, Mapping):
        kind = "a list" if isinstance(data, list) else f"a {type(data).__name__} value"
        return [Violation((), f"document is {kind}, not a job (a mapping with name and request)")], data
    try:
        judgement = judge(data)
    except RecursionError:  # thousands of nested lists: a hostile or broken file, not a job
        return [Violation((), "document nests too deeply to be a job")], data
    found = [*judgement.errors, *judgement.warnings]
    if require_project and not _has_project(judgement.job):
        found.append(Violation(("owner",), "missing: API v4.0 needs owner.projectUrn for every job",
                               hint="set owner.projectUrn in the job, or pass --project / GPULAB_PROJECT"))
    return found, judgement.job


def _has_project(data: Mapping[str, Any]) -> bool:
    owner = data.get("owner")
    return isinstance(owner, Mapping) and bool(owner.get("projectUrn"))


def _problem(draft: Draft, violation: Violation, *, warning: bool = False) -> Problem:
    problem = draft.problem(violation.path, violation.message, at_key=violation.at_key, hint=violation.hint)
    return problem._replace(json_path=violation.json_path, severity=Severity.WARNING if warning else Severity.ERROR)


def _job_spec(draft: Draft, canonical: Mapping[str, Any]) -> JobSpec:
    """The job as it is submitted and hashed: in canonical form (docs/validate.md#warnings-and---strict)."""
    data = dict(canonical)
    options = data.pop(TOOL_KEY, None) or {}
    hashed = None
    if draft.hashed is not None:  # variables: the hash sees ${VAR}, never the value
        template = dict(canonical_job(draft.hashed).job)
        options = template.pop(TOOL_KEY, None) or {}
        hashed = {**template, "name": data["name"]}
    return JobSpec(name=data["name"], job=data, location=draft.origin, source=draft.source, sweep=draft.sweep,
                   matrix=draft.matrix, hashed=hashed, adopt=draft.adopt, rerun=options.get("rerun"), protect=bool(options.get("protect", False)),
                   workflow=_workflow(options), unset=tuple(tuple(path) for path, _ in draft.unset))


def _workflow(options: Mapping[str, Any]) -> Workflow:
    """The workflow options (docs/workflows.md), as the schema let them through."""
    delay = options.get("retry-delay")
    return Workflow(needs=tuple(options.get("needs") or ()), always=options.get("when") == "always",
                    retries=int(options.get("retries") or 0),
                    retry_delay=(parse_duration(delay) or 0.0) if isinstance(delay, str) else 0.0,
                    max_parallel=options.get("max-parallel"), fail_fast=bool(options.get("fail-fast", False)))


#: workflow options that only a sweep (a matrix document) may have
_SWEEP_OPTIONS = ("max-parallel", "fail-fast")


def _sweep_only(draft: Draft) -> list[Violation]:
    """``max-parallel`` and ``fail-fast`` throttle the members of a sweep: on a single job they mean nothing."""
    options = draft.data.get(TOOL_KEY) if isinstance(draft.data, Mapping) else None
    if draft.sweep is not None or not isinstance(options, Mapping):
        return []
    return [Violation((TOOL_KEY, key), f"{key} applies to a sweep: this document has no matrix", at_key=True,
                      hint="put it beside x-gpulab-apply.matrix, or remove it") for key in _SWEEP_OPTIONS if key in options]


def _need_problem(found: NeedProblem) -> Problem:
    """A wrong ``needs`` entry, at the line that wrote it (a sweep's template names the member)."""
    spec = found.job
    path = (TOOL_KEY, "needs", found.position)
    where = spec.source.locate(path) if spec.source is not None else spec.location
    message = found.message + (f" (in job {spec.name!r} of {spec.location})" if spec.sweep is not None else "")
    return Problem(where, message, json_path=f"{TOOL_KEY}.needs[{found.position}]", hint=found.hint)


def _duplicate_names(candidates: Sequence[_Candidate]) -> tuple[list[Problem], set[int]]:
    """A problem at each use of a name used more than once, and the ids of those candidates."""
    by_name: dict[str, list[_Candidate]] = defaultdict(list)
    for candidate in candidates:
        if candidate.name is not None:
            by_name[candidate.name].append(candidate)
    problems = []
    duplicated: set[int] = set()
    for name, group in by_name.items():
        if len(group) < 2:
            continue
        duplicated.update(id(c) for c in group)
        where = [c.name_location for c in group]
        for index, here in enumerate(where):
            others = ", ".join(str(w) for i, w in enumerate(where) if i != index)
            problems.append(Problem(here, f"duplicate job name {name!r}, also at {others}", json_path="name",
                                    hint="names identify jobs: give each job its own name"))
    return problems, duplicated


def _problem_order(problem: Problem) -> tuple[str, int, int, str, str]:
    where = problem.location
    return where.path, where.line or 0, where.column or 0, problem.json_path, problem.message
