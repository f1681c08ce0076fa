"""The workspace: the repository a command works in, its job root, config file, set and state (docs/plan-apply.md#workspace).

Every command finds it the same way from wherever it runs, as git finds ``.git``: from the first path given on the
command line (or the working directory), up through the parents to the git repository's top level, the nearest
directory holding ``gpulab-apply.yaml`` or ``jobs.d/`` is the workspace's *root*. Its *job root* is ``jobs.d/``
there, or the directory the config file names (``jobs: DIR``). The desired set is always the whole job root, with
every ``_defaults.yaml`` from the job root down; a path on the command line only *selects* part of it
(:meth:`Workspace.select`), so it narrows what a command acts on and never redefines the set.

Outside a git repository the walk stops at the working directory: nothing above where the command runs (a shared
``/tmp``) can configure it. With no root found, the path given (or ``./jobs.d``) is its own job root, as before
the workspace existed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from gpulab_apply.configfile import CONFIG_FILE_NAME, read_config
from gpulab_apply.errors import ConfigError
from gpulab_apply.git import Repository, find_repository, head_commit
from gpulab_apply.setting_table import CONFIG_KEYS

#: the job root's name when the config file names none (docs/validate.md#which-files)
JOBS_DIR = "jobs.d"
#: the config-file key that names the job root, relative to the config file
JOB_ROOT_KEY = "jobs"
#: characters outside the set charset become "-"
_OUTSIDE_SET_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


class Selection(NamedTuple):
    """What the paths on a command line select of a workspace's job root."""

    #: the paths to read, as the user spelled them (the job root, relative to the working directory, when none)
    paths: tuple[str, ...]
    #: the selected parts, relative to the workspace root (posix); empty when the whole job root is selected
    narrowed_to: tuple[str, ...] = ()
    #: paths given that are not inside the job root (for plan, apply and status: an error)
    outside: tuple[str, ...] = ()

    @property
    def narrowed(self) -> bool:
        return bool(self.narrowed_to)


class Workspace(NamedTuple):
    """Where a command works. Paths are absolute (not resolved through symbolic links, as the user sees them)."""

    #: the directory holding the job root and the config file
    root: Path
    job_root: Path
    #: the config file (``--config``, or ``gpulab-apply.yaml`` at the root), None when there is none
    config: Path | None
    #: the config file's settings by setting name, as read (paths not yet made absolute)
    config_values: Mapping[str, Any]
    #: the git working tree, None outside git
    repository: Repository | None
    #: the working directory the command runs in: paths given are relative to it
    cwd: Path
    #: no root was found and the path given is its own job root
    standalone: bool = False

    @property
    def state_dir(self) -> Path:
        """Where this tool keeps local state (the ``--local`` emulator's database): an existing ``.gpulab-apply/``
        from the root up to the repository's top level (nearest first), so that state made by an earlier version
        stays found; else a new one at the root."""
        from gpulab_apply.gpulab.local import STATE_DIR_NAME  # not for validate: it keeps no state

        walk = [self.root]
        if self.repository is not None and _inside(self.repository.top, self.root):
            top = self.repository.top
            walk += [parent for parent in self.root.parents if parent == top or _inside(top, parent)]
        return next((candidate / STATE_DIR_NAME for candidate in walk if (candidate / STATE_DIR_NAME).is_dir()),
                    self.root / STATE_DIR_NAME)

    @property
    def set_name(self) -> str:
        """The default set: the git repository's own name (its ``origin`` remote's, else its top-level folder's),
        the same in every clone and from every directory (docs/plan-apply.md#ownership); outside git, the root's
        folder name (a directory given that is its own job root: its name)."""
        name = self.repository.name() if self.repository is not None else ""
        return _clean(name) or _clean((self.job_root if self.standalone else self.root).name) or "default"

    def head_commit(self) -> tuple[str, bool] | None:
        """The commit checked out here and whether the job root or the config file differ from it (git asked
        once); None outside git (docs/results.md#the-commit-an-apply-applied)."""
        if self.repository is None:
            return None
        return head_commit(self.repository.top, [path for path in (self.job_root, self.config) if path is not None])

    def relative(self, path: Path) -> str:
        """``path`` as the user would type it here: relative to the working directory when below or near it."""
        return os.path.relpath(path, self.cwd)

    def from_root(self, paths: Sequence[str | Path]) -> list[str]:
        """``paths`` (relative to the working directory) relative to the root, as a plan file records them."""
        return [Path(os.path.relpath(os.path.abspath(self.cwd / path), self.root)).as_posix() for path in paths]

    def at_root(self, paths: Sequence[str | Path]) -> list[str]:
        """``paths`` relative to the root (from :meth:`from_root`) as the working directory sees them."""
        return [self.relative(Path(os.path.abspath(self.root / path))) for path in paths]

    def select(self, paths: Sequence[str | Path]) -> Selection:
        """What ``paths`` (relative to the working directory) select: none, the job root itself or a path holding
        it select the whole job root; a path inside it narrows; any other path is outside."""
        if not paths:
            return Selection(paths=(self.relative(self.job_root),))
        read: list[str] = []
        narrowed: list[str] = []
        outside: list[str] = []
        whole = False
        for given in paths:
            absolute = Path(os.path.abspath(self.cwd / given))
            if absolute == self.job_root or _inside(absolute, self.job_root):
                whole = True  # the job root, in the user's spelling: `jobs.d`, `/abs/jobs.d`, `.` -> `jobs.d`
                read.append(os.path.normpath(os.path.join(given, os.path.relpath(self.job_root, absolute))))
            elif _inside(self.job_root, absolute):
                narrowed.append(Path(os.path.relpath(absolute, self.root)).as_posix())
                read.append(str(given))
            else:
                outside.append(str(given))
                read.append(str(given))
        unique = tuple(dict.fromkeys(read))
        return Selection(paths=unique, narrowed_to=() if whole else tuple(dict.fromkeys(narrowed)),
                         outside=tuple(outside))


def find_workspace(paths: Sequence[str | Path] = (), *, cwd: Path | None = None,
                   config: str | Path | None = None) -> Workspace:
    """The workspace of the first of ``paths`` (or of the working directory ``cwd``); ``config`` is ``--config``.

    A :class:`ConfigError` when the config file cannot be read, or when the paths lie in different workspaces
    (each with its own config file: which one applies would be a guess).
    """
    cwd = Path(os.path.abspath(cwd or Path.cwd()))
    starts = [_start(cwd, path) for path in paths] or [cwd]
    repository = find_repository(starts[0])
    root = _find_root(starts[0], repository, cwd)
    found = root is not None
    if root is None:  # nothing found: the path given is its own job root, as it always was
        job_root = starts[0] if paths else (repository.top if repository else cwd) / JOBS_DIR
        if repository is not None and (job_root == repository.top or _inside(repository.top, job_root)):
            root = repository.top
        else:
            root = cwd if _inside(cwd, job_root) else job_root.parent
    else:
        job_root = root / JOBS_DIR
    config_path: Path | None
    if config is not None:
        config_path = Path(os.path.abspath(cwd / Path(str(config)).expanduser()))
        if not config_path.is_file():
            raise ConfigError(f"Config file not found: {config_path}")
    else:
        config_path = _config_at(root)
        if found and config_path is not None:
            _one_config(config_path, starts[1:], cwd)
    values = read_config(config_path, CONFIG_KEYS) if config_path is not None else {}
    if config_path is not None and values.get(JOB_ROOT_KEY) is not None:
        job_root = Path(os.path.abspath(config_path.parent / Path(str(values[JOB_ROOT_KEY])).expanduser()))
    return Workspace(root=root, job_root=job_root, config=config_path, config_values=values, repository=repository,
                     cwd=cwd, standalone=not found and bool(paths))


def _start(cwd: Path, path: str | Path) -> Path:
    """The directory the walk starts from for a path given: the path itself, or a file's directory."""
    absolute = Path(os.path.abspath(cwd / path))
    return absolute.parent if absolute.is_file() else absolute


def _walk(start: Path, repository: Repository | None, cwd: Path) -> list[Path]:
    """The directories from ``start`` up to the repository's top level; outside git, up to the working
    directory at most (just ``start`` when it is not below the working directory)."""
    top = repository.top if repository is not None else (cwd if start == cwd or _inside(cwd, start) else start)
    walk = [start]
    for parent in start.parents:
        if walk[-1] == top:
            break
        walk.append(parent)
    return walk if walk[-1] == top else [start]


def _find_root(start: Path, repository: Repository | None, cwd: Path) -> Path | None:
    """The nearest directory from ``start`` up holding the config file or a job root, None when there is none."""
    for candidate in _walk(start, repository, cwd):
        if (candidate / CONFIG_FILE_NAME).is_file() or (candidate / JOBS_DIR).is_dir():
            return candidate
    return None


def _config_at(root: Path) -> Path | None:
    return root / CONFIG_FILE_NAME if (root / CONFIG_FILE_NAME).is_file() else None


def _one_config(config: Path, starts: Sequence[Path], cwd: Path) -> None:
    """Refuse paths of other workspaces with config files of their own: which one applies would be a guess."""
    others = {found for start in starts
              if (root := _find_root(start, find_repository(start), cwd)) is not None
              and (found := _config_at(root)) is not None and found != config}
    if others:
        listed = ", ".join(map(str, (config, *sorted(others))))
        raise ConfigError(f"The paths are in different workspaces, with different config files: {listed}",
                          hint="Run the command in each workspace on its own, or pass the config to use with --config.")


def _inside(directory: Path, path: Path) -> bool:
    """Whether ``path`` is strictly below ``directory``."""
    return path != directory and directory in path.parents


def _clean(name: str) -> str:
    """A set name made of ``name``: characters outside the set charset become "-"."""
    return _OUTSIDE_SET_CHARS.sub("-", name).strip("-._")[:64]
