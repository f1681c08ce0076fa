"""Job files: finding them (docs/validate.md#which-files) and reading their YAML documents safely and fast.

Every file is parsed with ruamel.yaml's C-based safe loader into plain Python values. The parser's
node graph, which knows where every key and value is, is kept beside the values, so a problem can be
placed at ``file:line:col`` without reading the file again: each document's
:class:`~gpulab_apply.jobfiles.sourcemap.SourceMap`.

Reading is defensive: a size limit, strict UTF-8, duplicate keys as errors, no tags beyond YAML's
standard ones (no code execution), timestamps kept as strings, and a bound on how far aliases may
expand a document (the "billion laughs" attack).
"""

from __future__ import annotations

import functools
import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from ruamel.yaml.composer import Composer
from ruamel.yaml.constructor import ConstructorError, SafeConstructor
from ruamel.yaml.cyaml import CParser  # type: ignore[attr-defined]
from ruamel.yaml.docinfo import DocInfo
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode
from ruamel.yaml.parser import Parser, ParserError
from ruamel.yaml.reader import Reader, ReaderError
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.scanner import Scanner, ScannerError

from gpulab_apply.jobfiles.sourcemap import NodeSourceMap
from gpulab_apply.problems import Location, Problem

#: job files are a few kilobytes; anything this big is almost certainly not one
MAX_FILE_BYTES = 1024 * 1024
#: how many values a document may hold once aliases are expanded (a big job has a few hundred)
MAX_EXPANDED_NODES = 100_000
#: how deep values may nest; a Job2 document is at most six levels deep, and everything after loading
#: (schema, diff, JSON) walks values recursively
MAX_DEPTH = 100
#: job file names end with one of these, in any case (``FT.YAML``); GPULab's own jobs are JSON
JOB_FILE_SUFFIXES = (".yaml", ".yml", ".json")

_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


class _SafeConstructor(SafeConstructor):
    """Plain values; timestamps stay the strings the user wrote (GPULab wants RFC 3339 text)."""

    def construct_yaml_int(self, node: Any) -> int:
        try:
            return int(super().construct_yaml_int(node))
        except ValueError as exc:  # Python refuses to convert more than 4,300 digits
            raise ConstructorError(None, None, f"integer too long to be a value of a job ({exc})",
                                   node.start_mark) from None


_SafeConstructor.add_constructor(_TIMESTAMP_TAG, SafeConstructor.construct_yaml_str)
_SafeConstructor.add_constructor("tag:yaml.org,2002:int", _SafeConstructor.construct_yaml_int)


class Document(NamedTuple):
    """One YAML document of a job file: where it starts, and its plain data.

    ``source`` places values inside it, on the parser's node graph (kept for that).
    """

    location: Location
    data: Any
    source: NodeSourceMap


class JobFile(NamedTuple):
    """A read job file: the documents that could be read, and problems with the file itself."""

    path: str
    documents: tuple[Document, ...]
    problems: tuple[Problem, ...]


def discover(paths: Sequence[str | Path]) -> tuple[list[str], list[Problem]]:
    """The job files under ``paths`` (files as given, directories searched recursively), sorted.

    In directories, names starting with ``.`` are skipped and names starting with ``_`` are reserved
    for tool files (docs/validate.md#which-files). A file named explicitly is always read. Paths keep the user's spelling,
    with posix separators (``jobs.d/train.yaml``).
    """
    found: list[str] = []
    problems: list[Problem] = []
    seen: set[str] = set()
    for given in paths:
        root = Path(given)
        if root.is_dir():
            candidates = sorted(_walk(root))
        elif root.exists():
            candidates = [root.as_posix()]
        else:
            problems.append(Problem(Location(root.as_posix()), "no such file or directory"))
            continue
        for candidate in candidates:
            key = os.path.realpath(candidate)
            if key not in seen:
                seen.add(key)
                found.append(candidate)
    return found, problems


def _walk(root: Path) -> Iterator[str]:
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = [name for name in subdirs if not name.startswith((".", "_"))]
        base = Path(directory)
        for name in files:
            if name.lower().endswith(JOB_FILE_SUFFIXES) and not name.startswith((".", "_")):
                yield (base / name).as_posix()


def read(path: str) -> JobFile:
    """Read one job file: every document in it, or the problems that stop it being read.

    The C parser reads almost every file. It implements YAML 1.1's syntax and refuses some YAML 1.2
    that people write all the time (``{image: debian:stable}``, ``[http://example.com/x]``), so a file it
    refuses is read again by ruamel's pure-Python YAML 1.2 parser, and is an error only if that refuses it
    too. A file with a ``%YAML`` directive goes to the pure parser directly: it honours the directive
    (``%YAML 1.1`` reads ``yes`` as true and ``0777`` as octal), which the C parser ignores.
    """
    text, problem = _read_text(path)
    if problem is not None:
        return JobFile(path=path, documents=(), problems=(problem,))
    if "%YAML" in text:
        return _parse(path, text, _PureLoader).job_file
    fast = _parse(path, text, _FastLoader)
    if not fast.syntax_error:
        return fast.job_file
    return _parse(path, text, _PureLoader).job_file


class _Attempt(NamedTuple):
    job_file: JobFile
    #: the parser refused the text (as opposed to a problem with what it means: a duplicate key, a bad tag)
    syntax_error: bool


def _parse(path: str, text: str, loader_class: type[_FastLoader | _PureLoader]) -> _Attempt:
    documents: list[Document] = []
    problems: list[Problem] = []
    syntax_error = False
    loader = loader_class(text)
    may_alias = "&" in text and "*" in text
    may_nest = may_alias or _nesting_bound(text) > MAX_DEPTH
    try:
        index = 0
        while loader.check_node():
            node = loader.get_node()
            location = Location(path, node.start_mark.line + 1, node.start_mark.column + 1)
            if may_alias and (too_big := _alias_problem(node, location)):
                problems.append(too_big)
            elif may_nest and (too_deep := _depth_problem(node, path)):
                problems.append(too_deep)
            else:
                documents.append(Document(location=location, data=loader.construct_document(node),
                                          source=NodeSourceMap(location, index, node)))
            index += 1
    except (ScannerError, ParserError, ReaderError) as exc:
        syntax_error = True
        problems.append(_yaml_problem(path, exc, text))
    except YAMLError as exc:
        problems.append(_yaml_problem(path, exc, text))
    except RecursionError:
        problems.append(Problem(Location(path), "document nests too deeply to be a job"))
    finally:
        loader.dispose()
    return _Attempt(JobFile(path=path, documents=tuple(documents), problems=tuple(problems)), syntax_error)


def _nesting_bound(text: str) -> int:
    """More than the depth any document in ``text`` can reach: each level needs a line, a bracket or an
    indicator. Counting is far cheaper than walking the nodes of every file."""
    breaks = sum(text.count(char) for char in "\n\r\x85\u2028\u2029")
    indicators = sum(text.count(mark) for mark in ("[", "{", "- ", "-\t", "? ", "?\t"))
    return breaks + indicators + 1


def _depth_problem(root: Node, path: str) -> Problem | None:
    """A problem at the first value nested deeper than :data:`MAX_DEPTH`, or None."""
    stack: list[tuple[Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            mark = node.start_mark
            return Problem(Location(path, mark.line + 1, mark.column + 1),
                           f"values nest more than {MAX_DEPTH} levels deep here; a job is a few levels deep")
        stack.extend((child, depth + 1) for child in _children(node))
    return None


def _read_text(path: str) -> tuple[str, Problem | None]:
    where = Location(path)
    try:
        # Non-blocking, so that opening a FIFO cannot wait for a writer; then only regular files are read.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        return "", Problem(where, f"cannot read: {exc.strerror or exc}")
    with open(descriptor, "rb") as stream:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            return "", Problem(where, f"not a regular file but {_file_kind(info.st_mode)}; a job file is a "
                                      "regular file", hint="remove it, or rename it so it does not end in "
                                                           ".yaml, .yml or .json")
        try:
            raw = stream.read(MAX_FILE_BYTES + 1)  # never more, whatever the file holds
        except OSError as exc:
            return "", Problem(where, f"cannot read: {exc.strerror or exc}")
        size = max(len(raw), info.st_size)
    if len(raw) > MAX_FILE_BYTES:
        return "", Problem(where, f"file is {size:,} bytes, over the {MAX_FILE_BYTES // 1024} KiB limit for a "
                                  "job file", hint="is this really a job file?")
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        start = raw[: exc.start]
        line = start.count(b"\n") + 1
        column = exc.start - (start.rfind(b"\n") + 1) + 1
        return "", Problem(Location(path, line, column),
                           f"not UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start} cannot be decoded",
                           hint="save the file as UTF-8")


def _file_kind(mode: int) -> str:
    kinds = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a directory"))
    return next((kind for test, kind in kinds if test(mode)), "a special file")


@functools.cache
def _yaml_1_2_resolvers() -> dict[Any, Any]:
    return dict(VersionedResolver(version=(1, 2)).versioned_resolver)


class _FastLoader(CParser, _SafeConstructor, VersionedResolver):  # type: ignore[misc]
    """ruamel's C parser with the safe constructor and YAML 1.2 rules, built once rather than per file.

    ``YAML(typ="safe")`` creates a loader class per stream and asks for the YAML version (raising and
    catching two exceptions) for every scalar: a third of the parse time of a job file. Job files
    are YAML 1.2, ruamel's default, so the rules are fixed here (files with a ``%YAML`` directive are
    read by :class:`_PureLoader`).
    """

    def __init__(self, text: str) -> None:
        CParser.__init__(self, text)
        self._parser = self._composer = self
        _SafeConstructor.__init__(self, loader=self)
        VersionedResolver.__init__(self, loadumper=self)

    @property
    def versioned_resolver(self) -> Any:
        return _yaml_1_2_resolvers()


class _PureLoader(Reader, Scanner, Parser, Composer, _SafeConstructor, VersionedResolver):
    """ruamel's pure-Python YAML 1.2 parser, for what the C parser refuses; honours ``%YAML`` directives."""

    def __init__(self, text: str) -> None:
        self.comment_handling = None
        self.max_depth = None  # depth is bounded by _depth_problem, for both parsers alike
        self.doc_infos = [DocInfo()]  # where the scanner records a %YAML directive
        Reader.__init__(self, text, loader=self)
        Scanner.__init__(self, loader=self)
        Parser.__init__(self, loader=self)
        Composer.__init__(self, loader=self)
        _SafeConstructor.__init__(self, loader=self)
        VersionedResolver.__init__(self, None, loader=self)


def _yaml_problem(path: str, exc: YAMLError, text: str) -> Problem:
    if isinstance(exc, MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        if _indents_with_tab(text, mark.line, mark.column):
            return Problem(Location(path, mark.line + 1, mark.column + 1),
                           "YAML: a tab indents this line; YAML indents with spaces only",
                           hint="replace the tab with spaces")
        message = str(exc.problem or exc.context or "invalid YAML")
        if exc.context and exc.problem and exc.context_mark is not None:
            message += f" ({exc.context} at line {exc.context_mark.line + 1})"
        return Problem(Location(path, mark.line + 1, mark.column + 1), f"YAML: {message}")
    return Problem(Location(path), f"YAML: {exc}")


def _indents_with_tab(text: str, line: int, column: int) -> bool:
    """Whether the parser stopped at a tab in the leading white space of its line."""
    lines = text.splitlines()
    if not 0 <= line < len(lines):
        return False
    indent = lines[line][: len(lines[line]) - len(lines[line].lstrip(" \t"))]
    return "\t" in indent and column <= len(indent)


def _alias_problem(root: Node, location: Location) -> Problem | None:
    """Why ``root`` cannot be expanded into plain data (a cycle, or too many values), or None.

    Aliases let a small file describe a huge (or infinite) structure; everything after loading walks
    the expanded data, so bound it here, on the node graph, where each shared node is counted once
    per use but visited once.
    """
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            on_path.discard(key)
            size = 1 + sum(sizes[id(child)] for child in _children(node))
            if size > MAX_EXPANDED_NODES:
                return Problem(location, f"document expands to more than {MAX_EXPANDED_NODES:,} values "
                                         "through aliases (alias bomb?)")
            sizes[key] = size
        elif key in on_path:
            return Problem(location, "document refers to itself through an alias; a job cannot be recursive")
        elif key not in sizes:
            on_path.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in _children(node))
    return None


def _children(node: Node) -> Iterator[Node]:
    if isinstance(node, MappingNode):
        for key, value in node.value:
            yield key
            yield value
    elif isinstance(node, SequenceNode):
        yield from node.value
