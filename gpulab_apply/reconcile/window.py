"""Evidence that a job name is new, for listings that cannot see old jobs (docs/plan-apply.md#limits-per-api-version).

On API v3.x GPULab lists only jobs whose status changed in the last 744 hours. A desired job with no job in
the listing may be new, or may have finished (or still be queued) beyond that window. The tool does not
guess: a job counts as *proven new* when the content of its file is younger than the window, because no job
with that content can have been submitted before the content existed. Age comes from git: the newest
commit that changed the file, or "now" for a file with uncommitted changes or not yet committed. A file in a
shallow clone whose newest commit is the clone's boundary has an unknown age (fetch the full history:
``fetch-depth: 0``). Outside git, the file's modification time. The window is measured on GPULab's clock
(``now``). Asks git (:mod:`gpulab_apply.git`) a few times per repository, never once per file.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from gpulab_apply.git import change_times, toplevel


def proven_new(files: Iterable[str], *, since: datetime, cwd: Path) -> frozenset[str]:
    """Those of ``files`` (paths as the job specs name them) whose content is younger than ``since``, the
    moment before which the listing may miss jobs (GPULab's clock minus 744 hours on v3.x)."""
    wanted = {str(name): (cwd / name).resolve() for name in files}
    if not wanted:
        return frozenset()
    by_top: dict[Path, list[str]] = {}
    outside: list[str] = []
    tops: dict[Path, Path | None] = {}  # the files of a directory share its answer: git is asked once for them
    for name, path in wanted.items():
        if path.parent not in tops:
            tops[path.parent] = toplevel(path.parent)
        top = tops[path.parent]
        if top is not None:
            by_top.setdefault(top, []).append(name)
        else:
            outside.append(name)
    cutoff = since.timestamp()
    young = {name for name in outside if _modified(wanted[name]) > cutoff}
    for top, names in by_top.items():
        ages = change_times(top, [wanted[name] for name in names])
        young.update(name for name in names if (age := ages.get(wanted[name])) is not None and age > cutoff)
    return frozenset(young)


def _modified(path: Path) -> float:
    """Outside git, the file's modification time is the only age there is."""
    try:
        return path.stat().st_mtime
    except OSError:
        return float("-inf")
