"""The default set name: the git repository's own name, the same in every clone (docs/plan-apply.md#ownership).

The name comes from the ``origin`` remote's URL (``git@host:lab/proj.git`` and ``https://host/lab/proj`` both
give ``proj``), so a clone into another folder or a CI checkout path manages the same jobs. Without a remote
it falls back to the repository's top-level folder name, and outside git to the job directory's name.
``gpulab-apply.yaml`` (``set: NAME``) or ``--set`` pin it. No git process is run: the config file is read.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

#: characters outside the set charset become "-"
_OUTSIDE = re.compile(r"[^A-Za-z0-9._-]+")
_SECTION = re.compile(r'^\s*\[\s*remote\s+"origin"\s*\]\s*$')


def repository_set_name(start: Path) -> str:
    """The set name for job files at ``start`` (a job directory or file; it need not exist)."""
    start = Path(os.path.realpath(start))  # not Path.resolve(): a symlink loop raises there on Python 3.11
    directory = start if start.is_dir() or not start.exists() else start.parent
    for candidate in (directory, *directory.parents):
        dot_git = candidate / ".git"
        if dot_git.exists():
            url = _origin_url(dot_git)
            return _clean(_repository_name(url) if url else "") or _clean(candidate.name) or "default"
    return _clean(directory.name) or "default"


def _clean(name: str) -> str:
    return _OUTSIDE.sub("-", name).strip("-._")[:64]


def _repository_name(url: str) -> str:
    """``proj`` from ``git@github.com:lab/proj.git``, ``https://host/lab/proj/``, ``/srv/git/proj.git``."""
    last = re.split(r"[/:\\]", url.strip().rstrip("/"))[-1]
    return last.removesuffix(".git")


def _origin_url(dot_git: Path) -> str | None:
    """The ``url`` of ``[remote "origin"]`` in the repository's config, or None."""
    config = _git_dir(dot_git) / "config"
    try:
        lines = config.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    inside = False
    for line in lines:
        if line.lstrip().startswith("["):
            inside = _SECTION.match(line) is not None
        elif inside and (found := re.match(r"\s*url\s*=\s*(.+?)\s*$", line)):
            return found[1].strip('"')
    return None


def _git_dir(dot_git: Path) -> Path:
    """The directory holding ``config``: ``.git`` itself, or for worktrees and submodules (``.git`` is a file
    saying ``gitdir: PATH``) that path, or its ``commondir`` for worktrees."""
    if dot_git.is_dir():
        return dot_git
    try:
        text = dot_git.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return dot_git
    if not text.startswith("gitdir:"):
        return dot_git
    git_dir = (dot_git.parent / text.removeprefix("gitdir:").strip()).resolve()
    try:
        common = (git_dir / "commondir").read_text(encoding="utf-8").strip()
    except OSError:
        return git_dir
    return (git_dir / common).resolve()
