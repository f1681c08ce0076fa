"""Everything this tool knows about git, in one place (docs/plan-apply.md#workspace).

Two kinds of facts: those read from the files of a repository, with no git process (where the repository's top
level is, as git finds ``.git`` walking up; the ``origin`` remote's URL), and those only git can answer (when a
file's content last changed, which commits a shallow clone lacks), asked of the ``git`` program a few times per
repository. The files are read defensively: a ``.git/config`` that is a FIFO, a device or huge is never waited on
nor read whole.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

#: a repository's config is a few hundred bytes; a remote URL is in the first few kilobytes of any real one
MAX_CONFIG_BYTES = 256 * 1024
#: how long git may take to answer before the answer counts as missing
GIT_TIMEOUT = 30.0
_ORIGIN_SECTION = re.compile(r'^\s*\[\s*remote\s+"origin"\s*\]\s*$')
_URL = re.compile(r"\s*url\s*=\s*(.+?)\s*$")


class Repository(NamedTuple):
    """A git working tree: its top level, and the directory holding its ``config`` (shared by worktrees)."""

    top: Path
    config_dir: Path

    def origin_url(self) -> str | None:
        """The ``url`` of ``[remote "origin"]`` in the repository's config, or None (no remote, unreadable)."""
        text = read_small_file(self.config_dir / "config", MAX_CONFIG_BYTES)
        inside = False
        for line in (text or "").splitlines():
            if line.lstrip().startswith("["):
                inside = _ORIGIN_SECTION.match(line) is not None
            elif inside and (found := _URL.match(line)):
                return found[1].strip('"')
        return None

    def name(self) -> str:
        """The repository's own name: its ``origin`` remote's last path part (``git@host:lab/proj.git`` and
        ``https://host/lab/proj/`` give ``proj``), else the top-level folder's name."""
        url = self.origin_url()
        return (repository_name(url) if url else "") or self.top.name


def find_repository(start: Path) -> Repository | None:
    """The working tree ``start`` (an absolute directory) is in, found as git finds it: the nearest directory,
    from ``start`` up, holding ``.git`` (a directory, or a file ``gitdir: PATH`` in worktrees and submodules)."""
    for candidate in (start, *start.parents):
        dot_git = candidate / ".git"
        if os.path.lexists(dot_git):
            return Repository(top=candidate, config_dir=_config_dir(dot_git))
    return None


def repository_name(url: str) -> str:
    """``proj`` from ``git@github.com:lab/proj.git``, ``https://host/lab/proj/``, ``/srv/git/proj.git``."""
    last = re.split(r"[/:\\]", url.strip().rstrip("/"))[-1]
    return last.removesuffix(".git")


def read_small_file(path: Path, limit: int) -> str | None:
    """The text of a regular file, at most ``limit`` bytes of it; None when it cannot be read or is no regular
    file. Opened non-blocking, so that a FIFO never waits for a writer; a device is never read."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError:
        return None
    with open(descriptor, "rb") as stream:
        try:
            if not stat.S_ISREG(os.fstat(descriptor).st_mode):
                return None
            return stream.read(limit).decode("utf-8", errors="replace")
        except OSError:
            return None


def _config_dir(dot_git: Path) -> Path:
    """The directory holding ``config``: ``.git`` itself, or for worktrees and submodules (``.git`` is a file
    saying ``gitdir: PATH``) that path, or its ``commondir`` for worktrees."""
    if dot_git.is_dir():
        return dot_git
    text = (read_small_file(dot_git, 4096) or "").strip()
    if not text.startswith("gitdir:"):
        return dot_git
    git_dir = (dot_git.parent / text.removeprefix("gitdir:").strip()).resolve()
    common = (read_small_file(git_dir / "commondir", 4096) or "").strip()
    return (git_dir / common).resolve() if common else git_dir


# --- facts only git can answer ---------------------------------------------------------------------------------

def run_git(top: Path, *args: str) -> str | None:
    """git's standard output for ``git -C top ARGS``, or None when git is missing, fails or takes too long."""
    import subprocess  # only plan on API v3.x asks git: validate starts without it

    try:
        done = subprocess.run(["git", "-C", str(top), *args], capture_output=True, text=True, check=False,
                              timeout=GIT_TIMEOUT)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def toplevel(directory: Path) -> Path | None:
    """The top level of the working tree ``directory`` is in, as git itself answers (None outside git)."""
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent
    out = run_git(directory, "rev-parse", "--show-toplevel")
    return Path(out.strip()).resolve() if out else None


def change_times(top: Path, paths: Iterable[Path]) -> dict[Path, float]:
    """Per path (absolute, in the working tree ``top``), the time its content last changed: ``inf`` if it has
    uncommitted changes, else its newest commit's time.

    A path missing from the result has no known age (not in history, or only in a shallow clone's boundary
    commit, which "adds" every file). git is asked about the paths' directories (a bounded command line for any
    number of files); its answers, relative to the top level, are matched as text.
    """
    paths = list(paths)
    wanted = {_relative(path, top): path for path in paths}
    directories = sorted({str(path.parent) for path in paths})
    found: dict[str, float] = {}
    status = run_git(top, "status", "--porcelain", "-z", "--untracked-files=all", "--", *directories)
    for item in (status or "").split("\0"):
        if len(item) > 3 and item[2] == " " and item[3:] in wanted:
            found[item[3:]] = float("inf")  # changed since the last commit: new content
    log = run_git(top, "-c", "core.quotePath=false", "log", "--format=%x01%H %ct", "--name-only", "--no-renames",
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
                unknown.add(line)
            else:
                found[line] = commit_time
    return {wanted[name]: age for name, age in found.items()}


def _relative(path: Path, top: Path) -> str:
    try:
        return path.relative_to(top).as_posix()
    except ValueError:
        return str(path)


def _shallow_commits(top: Path) -> list[str]:
    out = run_git(top, "rev-parse", "--git-path", "shallow")
    if not out:
        return []
    shallow = Path(out.strip())
    shallow = shallow if shallow.is_absolute() else top / shallow
    return (read_small_file(shallow, 16 * 1024 * 1024) or "").split()


def head_commit(top: Path, paths: Iterable[Path]) -> tuple[str, bool] | None:
    """The commit checked out in the working tree ``top`` (its full hash) and whether any of ``paths`` (the job
    root, the config file) differs from it, uncommitted or untracked; None outside git or before a first commit.
    Asked once per apply, which records it in its run id (docs/results.md#the-commit-an-apply-applied)."""
    head = run_git(top, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    sha = (head or "").strip()
    if not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", sha):
        return None
    changed = run_git(top, "status", "--porcelain", "--untracked-files=all", "--", *(str(path) for path in paths))
    return sha, bool((changed or "").strip())
