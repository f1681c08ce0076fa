"""Selectors: the one grammar for naming jobs on the command line (docs/commands.md#selectors).

Every command that names jobs (``plan``/``apply --target`` and ``--cancel-protected``, ``render``, ``status
--target``, ``logs``, ``wait``, ``import``) reads a selector the same way. A selector matches a job when it is

* its **name**, exactly, or a **glob** on it (``train-*``, ``lr0.?-seed[01]``; ``*``, ``?`` and ``[...]`` as in
  the shell, case-sensitive);
* its **sweep**'s name, exactly or as a glob: every member of the sweep (``vit-small``);
* its **UUID**, or a unique prefix of it of at least :data:`MIN_UUID_PREFIX` hex digits (``1a2b3c4d``): tried only
  when the selector matches no name and no sweep, so a name always wins over a UUID that happens to start alike.

A selector that matches nothing is an error (exit 1) in every command, and so is a UUID prefix that starts the
UUIDs of several jobs; an empty selector is a usage error (exit 64). No click here: the CLI passes the words, the
commands pass the jobs they know as :class:`Candidate` values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from gpulab_apply.errors import JobNotFoundError, UsageError
from gpulab_apply.masking import safe
from gpulab_apply.order import natural_key

#: the fewest characters of a UUID that select a job by it (as ``import`` took before the grammar was one)
MIN_UUID_PREFIX = 8
_UUID_PREFIX = re.compile(r"[0-9a-fA-F][0-9a-fA-F-]{7,35}\Z")


@dataclass(frozen=True, slots=True)
class Candidate:
    """A job a selector may name: its name, the sweep it is a member of, and its UUID when it has one on GPULab."""

    name: str
    sweep: str | None = None
    uuid: str | None = None


def check(selectors: Iterable[str], *, option: str = "selector") -> None:
    """Refuse a selector that can match nothing by its form (empty): a usage error."""
    for selector in selectors:
        if not selector.strip():
            raise UsageError(f"{option}: an empty selector names no job",
                             hint="give a job name, a glob ('train-*'), a sweep name or a UUID (docs/commands.md)")


def names_match(selector: str, name: str) -> bool:
    """Whether ``selector`` names ``name`` exactly or as a glob."""
    return name == selector or fnmatchcase(name, selector)


def is_uuid_prefix(selector: str) -> bool:
    return bool(_UUID_PREFIX.match(selector)) and sum(char != "-" for char in selector) >= MIN_UUID_PREFIX


def by_name(selector: str, candidate: Candidate) -> bool:
    """Whether ``selector`` matches ``candidate`` by its name or its sweep's."""
    return names_match(selector, candidate.name) or (
        candidate.sweep is not None and names_match(selector, candidate.sweep))


def matches(selectors: Sequence[str], candidates: Iterable[Candidate]) -> dict[str, tuple[Candidate, ...]]:
    """Per selector, the candidates it matches (by name or sweep; else by UUID prefix), in the candidates' order."""
    pool = tuple(candidates)
    found: dict[str, tuple[Candidate, ...]] = {}
    for selector in selectors:
        named = tuple(candidate for candidate in pool if by_name(selector, candidate))
        if not named and is_uuid_prefix(selector):
            prefix = selector.lower()
            named = tuple(candidate for candidate in pool
                          if candidate.uuid is not None and candidate.uuid.lower().startswith(prefix))
        found[selector] = named
    return found


def resolve(selectors: Sequence[str], candidates: Iterable[Candidate], *, what: str = "job") -> list[Candidate]:
    """The candidates the selectors match, each once, in natural name order; a :class:`JobNotFoundError` naming
    every selector that matches nothing (with the names it may have meant), or a UUID prefix several jobs share.
    ``what`` says what the candidates are ("job of set 'demo'", "job file job") in the message."""
    check(selectors)
    pool = tuple(candidates)
    found = matches(selectors, pool)
    unmatched = [selector for selector, named in found.items() if not named]
    if unmatched:
        raise JobNotFoundError(f"no {what} matches {_listing(unmatched)}", hint=_hint(unmatched, pool))
    for selector, named in found.items():
        uuids = {candidate.uuid for candidate in named if candidate.uuid is not None}
        if len(uuids) > 1 and not any(by_name(selector, candidate) for candidate in named):
            starts = ", ".join(sorted(uuid[:13] for uuid in uuids)[:5])
            raise JobNotFoundError(f"the UUID prefix '{safe(selector)}' starts {len(uuids)} jobs ({starts}…)",
                                   hint="give more characters of the UUID, or the job's name")
    chosen: dict[tuple[str, str | None], Candidate] = {}
    for named in found.values():
        for candidate in named:
            chosen.setdefault((candidate.name, candidate.uuid), candidate)
    return sorted(chosen.values(), key=lambda candidate: natural_key(candidate.name))


def resolve_names(selectors: Sequence[str], candidates: Iterable[Candidate], *, what: str = "job") -> list[str]:
    """The names the selectors match, each once, in natural order (errors as :func:`resolve`)."""
    return list(dict.fromkeys(candidate.name for candidate in resolve(selectors, candidates, what=what)))


def by_uuid_only(found: Mapping[str, tuple[Candidate, ...]]) -> dict[str, tuple[str, ...]]:
    """The selectors that matched by UUID (no name, no sweep), with the names of the jobs they matched: a
    command that filters by name (``plan --target``) puts these names in their place."""
    return {selector: tuple(dict.fromkeys(candidate.name for candidate in named))
            for selector, named in found.items()
            if named and not any(by_name(selector, candidate) for candidate in named)}


def _listing(selectors: Sequence[str]) -> str:
    return ", ".join(f"'{safe(selector)}'" for selector in selectors)


def _hint(unmatched: Sequence[str], pool: Sequence[Candidate]) -> str:
    """The names closest to what was typed, else how to list them."""
    known = list(dict.fromkeys([candidate.name for candidate in pool]
                               + [candidate.sweep for candidate in pool if candidate.sweep]))
    import difflib  # only when a selector matched nothing: never on a command that goes ahead

    close = [name for selector in unmatched for name in difflib.get_close_matches(selector, known, n=3)]
    listing = "`gpulab-apply status` lists the set's jobs"
    if close:
        return "did you mean " + " or ".join(f"'{safe(name)}'" for name in dict.fromkeys(close)) + f"? ({listing})"
    return f"a selector is a job name, a glob ('train-*'), a sweep name or a UUID (prefix); {listing}"
