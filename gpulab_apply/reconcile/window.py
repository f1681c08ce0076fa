"""Evidence that a job name is new, for listings that cannot see old jobs (docs/plan-apply.md#limits-per-api-version).

On API v3.x GPULab lists only jobs whose status changed in the last 744 hours. A desired job with no job in
the listing may be new, or may have finished (or still be queued) beyond that window. The tool does not
guess: a job counts as *proven new* when the content of its file is younger than the window, because no job
with that content can have been submitted before the content existed. Age comes from git: the newest
commit that changed the file, or "now" for a file with uncommitted changes or not yet committed. A file in a
shallow clone whose newest commit is the clone's boundary has an unknown age (fetch the full history:
``fetch-depth: 0``). Outside git, the file's modification time. The window is measured on GPULab's clock
(``now``). Runs ``git`` a few times per repository, never once per file.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

#: how long git may take to answer before the evidence counts as missing
_GIT_TIMEOUT = 30.0


def proven_new(files: Iterable[str], *, since: datetime, cwd: Path) -> frozenset[str]:
    """Those of ``files`` (paths as the job specs name them) whose content is younger than ``since``, the
    moment before which the listing may miss jobs (GPULab's clock minus 744 hours on v3.x)."""
    wanted = {str(name): (cwd / name).resolve() for name in files}
    if not wanted:
        return frozenset()
    by_top: dict[Path, list[str]] = {}
    outside: list[str] = []
    for name, path in wanted.items():
        top = _toplevel(path.parent)
        if top is not None:
            by_top.setdefault(top, []).append(name)
        else:
            outside.append(name)
    cutoff = since.timestamp()
    young = {name for name in outside if _modified(wanted[name]) > cutoff}
    for top, names in by_top.items():
        ages = _change_times(top, [wanted[name] for name in names])
        young.update(name for name in names if (age := ages.get(wanted[name])) is not None and age > cutoff)
    return frozenset(young)


def _modified(path: Path) -> float:
    """Outside git, the file's modification time is the only age there is."""
    try:
        return path.stat().st_mtime
    except OSError:
        return float("-inf")


def _git(top: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(top), *args], capture_output=True, text=True, check=False,
                              timeout=_GIT_TIMEOUT)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _toplevel(directory: Path) -> Path | None:
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent
    out = _git(directory, "rev-parse", "--show-toplevel")
    return Path(out.strip()).resolve() if out else None


def _change_times(top: Path, paths: list[Path]) -> dict[Path, float]:
    """Per path, the time its content last changed: now if uncommitted, else its newest commit's time.

    A path missing from the result has no known age (not in history, or only in a shallow boundary commit).
    git is asked about the paths' directories (a bounded command line for any number of files); its answers,
    relative to the top level, are matched as text.
    """
    wanted = {_relative(path, top): path for path in paths}
    directories = sorted({str(path.parent) for path in paths})
    found: dict[str, float] = {}
    status = _git(top, "status", "--porcelain", "-z", "--untracked-files=all", "--", *directories)
    for item in (status or "").split("\0"):
        if len(item) > 3 and item[2] == " " and item[3:] in wanted:
            found[item[3:]] = float("inf")  # changed since the last commit: new content
    log = _git(top, "-c", "core.quotePath=false", "log", "--format=%x01%H %ct", "--name-only", "--no-renames",
               "--", *directories)
    shallow = set(_shallow_commits(top))
    commit_time, boundary = 0.0, False
    unknown: set[str] = set()
    for line in (log or "").splitlines():
        if line.startswith("\x01"):
            sha, _, seconds = line[1:].partition(" ")
            commit_time, boundary = float(seconds), sha in shallow
        elif line in wanted and line not in found and line not in unknown:
            if boundary:
                unknown.add(line)  # a shallow clone's boundary commit "adds" every file: its age is unknown
            else:
                found[line] = commit_time
    return {wanted[name]: age for name, age in found.items()}


def _relative(path: Path, top: Path) -> str:
    try:
        return path.relative_to(top).as_posix()
    except ValueError:
        return str(path)


def _shallow_commits(top: Path) -> list[str]:
    out = _git(top, "rev-parse", "--git-path", "shallow")
    if not out:
        return []
    shallow = Path(out.strip())
    shallow = shallow if shallow.is_absolute() else top / shallow
    try:
        return shallow.read_text(encoding="utf-8").split()
    except OSError:
        return []
