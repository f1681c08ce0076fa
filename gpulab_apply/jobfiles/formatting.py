"""``fmt``: job files rewritten into canonical form, and nothing else changed (docs/validate.md#fmt).

What ``validate`` warns about as "GPULab reads X as Y" is a non-canonical form with its canonical rewrite
(:func:`gpulab_apply.jobmodel.normal_form.canonical_job`): ``cpus: "4"`` -> ``4``, ``interactive: yes`` ->
``true``, ``cpu_memory_gb`` -> ``cpuMemoryGb``, ``features: V100`` -> ``["V100"]``, ``state: null`` removed. This
module makes exactly those rewrites, in the text: each one replaces the characters of the value (or key) the
parser says it was written with, so comments, key order, anchors, flow or block style, quoting elsewhere, line
endings and a byte-order mark stay byte for byte. A value written once under an anchor is rewritten once.

Each file is checked after its rewrite: it must read back, mean the same to GPULab (the same canonical job
for every document) and be canonical. A file for which that fails is left as it is, with a problem saying so;
so are files that cannot be read (``validate`` says why). Other warnings (a name with control characters, a
minimum duration above the maximum) have no canonical form: fmt leaves them to a person.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpulab_apply.jobfiles.loader import DEFAULTS_NAMES, JobFile, discover, parse
from gpulab_apply.jobmodel.normal_form import Rewrite, canonical_job
from gpulab_apply.problems import Location, Problem
from gpulab_apply.sourcemap import NodeSourceMap, Position

__all__ = ["Formatted", "format_file", "format_paths", "format_text", "formattable_files"]

_BREAK = re.compile(r"\r\n|\r|\n")
#: the anchor (``&name``) and tag (``!!str``) a node's position starts with, before its value
_PROPERTIES = re.compile(r"(?:[&!][^\s,\[\]{}]*\s+)*")
#: a string YAML reads back as the same string when written plain, in block and flow context alike
_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./@+-]*")
#: words some YAML reader takes for something other than a string
_SPECIAL = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf"})


@dataclass(frozen=True, slots=True)
class Formatted:
    """One file before and after: ``fixed`` is what was rewritten (as validate warned it), ``problems`` why the
    file was left as it is (or what fmt cannot fix)."""

    path: str
    before: str
    after: str
    fixed: tuple[Problem, ...] = ()
    problems: tuple[Problem, ...] = ()
    #: the text started with a UTF-8 byte-order mark (kept)
    bom: bool = False

    @property
    def changed(self) -> bool:
        return self.after != self.before


@dataclass(frozen=True, slots=True)
class _Edit:
    start: int
    end: int
    text: str


def formattable_files(paths: Sequence[str | Path]) -> tuple[list[str], list[Problem]]:
    """The job files under ``paths`` and the ``_defaults.yaml`` files among them, as validate reads them."""
    files, problems = discover(paths)
    for given in paths:
        root = Path(given)
        if root.is_dir():
            files.extend(path.as_posix() for name in DEFAULTS_NAMES for path in sorted(root.rglob(name))
                         if not any(part.startswith((".", "_")) for part in path.relative_to(root).parts[:-1]))
    return sorted(set(files)), problems


def format_paths(paths: Sequence[str | Path]) -> tuple[list[Formatted], list[Problem]]:
    """Every job and defaults file under ``paths``, formatted (nothing written)."""
    files, problems = formattable_files(paths)
    return [format_file(path) for path in files], problems


def format_file(path: str) -> Formatted:
    """One file formatted; a file that cannot be read as UTF-8 is left as it is with a problem."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        return Formatted(path, "", "", problems=(Problem(Location(path), f"cannot read: {exc.strerror or exc}"),))
    bom = raw.startswith(codecs.BOM_UTF8)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return Formatted(path, "", "", problems=(Problem(Location(path), "not UTF-8: left as it is",
                                                         hint="gpulab-apply validate says where"),))
    formatted = format_text(path, text)
    return Formatted(formatted.path, formatted.before, formatted.after, formatted.fixed, formatted.problems, bom)


def format_text(path: str, text: str) -> Formatted:
    """``text`` (of the file at ``path``) with every non-canonical form rewritten; see the module's doc."""
    job_file = parse(path, text)
    if job_file.problems:
        return Formatted(path, text, text, problems=tuple(
            problem._replace(message=f"{problem.message} (fmt left the file as it is)") for problem in job_file.problems))
    starts = _line_starts(text)
    json_file = path.lower().endswith(".json")
    edits: dict[tuple[int, int], _Edit] = {}
    fixed: list[Problem] = []
    problems: list[Problem] = []
    for document in job_file.documents:
        if not isinstance(document.data, Mapping):
            continue
        for rewrite in canonical_job(document.data).rewrites:
            where = document.source.locate(rewrite.path, at_key=rewrite.at_key)
            edit = _edit(document.source, rewrite, text, starts, json_file=json_file)
            if edit is None:
                problems.append(Problem(where, f"fmt cannot rewrite this: {rewrite.message}",
                                        hint="write the canonical form by hand"))
                continue
            fixed.append(Problem(where, rewrite.message))
            edits.setdefault((edit.start, edit.end), edit)  # a value under an anchor: one edit for every use
    if not edits or problems:
        return Formatted(path, text, text, problems=tuple(problems))
    after = _apply(text, sorted(edits.values(), key=lambda edit: edit.start))
    if after is None or (why := _changed_meaning(path, job_file, after)) is not None:
        reason = "two rewrites overlap" if after is None else why
        return Formatted(path, text, text, problems=(Problem(Location(path), f"fmt left the file as it is: {reason}",
                                                             hint="write the canonical forms by hand"),))
    return Formatted(path, text, after, fixed=tuple(fixed))


def _line_starts(text: str) -> list[int]:
    """The offset where each line starts, lines broken as YAML breaks them."""
    return [0, *(found.end() for found in _BREAK.finditer(text))]


def _offset(starts: Sequence[int], position: Position) -> int:
    line, column = position
    return starts[line] + column


def _edit(source: NodeSourceMap, rewrite: Rewrite, text: str, starts: Sequence[int], *,
          json_file: bool) -> _Edit | None:
    """The change to the text that makes one rewrite, or None where fmt cannot make it."""
    if rewrite.at_key and rewrite.canonical is None:
        return _removal(source, rewrite, text, starts)
    span = source.span(rewrite.path, at_key=rewrite.at_key)
    if span is None or span[0][0] != span[1][0]:  # only what is written on one line
        return None
    start, end = _offset(starts, span[0]), _offset(starts, span[1])
    properties = _PROPERTIES.match(text, start, end)  # an anchor or a tag stays where it is
    start += len(properties[0]) if properties else 0
    written = text[start:end]
    if rewrite.at_key:
        if not isinstance(rewrite.canonical, str):
            return None
        quoted = json_file or written[:1] in ("'", '"')
        return _Edit(start, end, json.dumps(rewrite.canonical) if quoted else rewrite.canonical)
    return _Edit(start, end, _scalar(rewrite.canonical, json_file=json_file))


def _removal(source: NodeSourceMap, rewrite: Rewrite, text: str, starts: Sequence[int]) -> _Edit | None:
    """Removing a key that means nothing (``state: null``): its whole line, in a block mapping only."""
    key, value = source.span(rewrite.path, at_key=True), source.span(rewrite.path)
    if key is None or value is None or key[0][0] != value[1][0]:
        return None
    line = key[0][0]
    start = starts[line]
    end = starts[line + 1] if line + 1 < len(starts) else len(text)
    before, after = text[start:_offset(starts, key[0])], text[_offset(starts, value[1]):end]
    if before.strip() or after.strip():  # in a flow mapping, or more on the line: by hand
        return None
    return _Edit(start, end, "")


def _scalar(value: Any, *, json_file: bool) -> str:
    """A canonical value as YAML (or JSON) text: plain where that reads back as the same string, else JSON."""
    if isinstance(value, str) and not json_file and _PLAIN.fullmatch(value) and value.lower() not in _SPECIAL:
        return value
    return json.dumps(value, ensure_ascii=False)


def _apply(text: str, edits: Sequence[_Edit]) -> str | None:
    """``text`` with the edits (sorted by start) made; None if two overlap."""
    parts: list[str] = []
    at = 0
    for edit in edits:
        if edit.start < at:
            return None
        parts += [text[at:edit.start], edit.text]
        at = edit.end
    return "".join([*parts, text[at:]])


def _changed_meaning(path: str, before: JobFile, after: str) -> str | None:
    """Why the rewritten text is not the same jobs in canonical form, or None when it is."""
    again = parse(path, after)
    if again.problems or len(again.documents) != len(before.documents):
        return "the rewritten file does not read back"
    for old, new in zip(before.documents, again.documents, strict=True):
        rewritten = canonical_job(new.data)
        if rewritten.rewrites:
            return "a form is still not canonical after the rewrite"
        if canonical_job(old.data).job != rewritten.job:
            return "the rewrite would change what GPULab reads"
    return None


def diff(formatted: Formatted) -> str:
    """A unified diff of the change, as ``git diff`` shows it (``a/`` and ``b/`` paths)."""
    import difflib  # only fmt --check shows a diff

    return "".join(difflib.unified_diff(formatted.before.splitlines(keepends=True),
                                        formatted.after.splitlines(keepends=True),
                                        fromfile=f"a/{formatted.path}", tofile=f"b/{formatted.path}"))
