"""``fmt`` for the command line: the job files' non-canonical forms rewritten (docs/validate.md#fmt), offline."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from gpulab_apply.jobfiles.formatting import Formatted, format_paths
from gpulab_apply.problems import Problem
from gpulab_apply.workspace import find_workspace


def format_jobs(paths: Sequence[str | Path]) -> tuple[list[Formatted], list[Problem]]:
    """Each job file the ``paths`` select of the workspace (default: the job root, with its ``_defaults.yaml``
    files), in canonical form, and the problems that kept files from being read."""
    workspace = find_workspace(paths)
    return format_paths(workspace.select(paths).paths)


def rewrite(result: Formatted) -> None:
    """Write a file's canonical form in its place at once (a reader never sees half a file), keeping its mode
    and its byte-order mark."""
    path = Path(result.path)
    text = ("\ufeff" if result.bom else "") + result.after
    mode = path.stat().st_mode
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        os.chmod(temporary, mode & 0o7777)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
