"""Job files: finding them (docs/validate.md#which-files) and reading their YAML documents safely and fast.

Every file is parsed with ruamel.yaml's C-based safe loader into plain Python values. The parser's
node graph, which knows where every key and value is, is kept beside the values, so a problem can be
placed at ``file:line:col`` without reading the file again: each document's
:class:`~gpulab_apply.sourcemap.SourceMap`.

Reading is defensive (docs/validate.md#limits): a size limit, strict UTF-8, only printable characters,
a bound on nesting checked on the text before any parser sees it (the C parser recurses without limit),
duplicate keys as errors, only the tags of JSON-like values (no code execution, no binary or sets),
integers within 64 bits, timestamps kept as strings, and a bound on how far aliases may expand a document
(the "billion laughs" attack). Whatever the bytes, reading gives documents or located problems, never an
exception: :func:`parse` is also how ``gpulab-apply.yaml`` is read.
"""

from __future__ import annotations

import functools
import os
import re
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from ruamel.yaml.composer import Composer
from ruamel.yaml.constructor import ConstructorError, SafeConstructor
from ruamel.yaml.cyaml import CParser  # type: ignore[attr-defined]
from ruamel.yaml.docinfo import DocInfo
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import CollectionEndEvent, CollectionStartEvent
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.parser import Parser, ParserError
from ruamel.yaml.reader import Reader, ReaderError
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.scanner import Scanner, ScannerError

from gpulab_apply.problems import Location, Problem
from gpulab_apply.sourcemap import NodeSourceMap

#: job files are a few kilobytes; anything this big is almost certainly not one
MAX_FILE_BYTES = 1024 * 1024
#: how many values a document may hold once aliases are expanded (a big job has a few hundred)
MAX_EXPANDED_NODES = 100_000
#: how deep values may nest; a Job2 document is at most six levels deep, and everything after loading
#: (schema, diff, JSON) walks values recursively
MAX_DEPTH = 100
#: an integer value must fit in 64 bits (GPULab stores no wider number); longer texts are not even converted
MAX_INT = 2**64 - 1
_MAX_INT_TEXT = 80
#: the YAML versions a ``%YAML`` directive may name
YAML_VERSIONS = ((1, 1), (1, 2))
#: job file names end with one of these, in any case (``FT.YAML``); GPULab's own jobs are JSON
JOB_FILE_SUFFIXES = (".yaml", ".yml", ".json")

#: the defaults files (docs/authoring.md#defaults): read as defaults, not as job files
DEFAULTS_NAMES = ("_defaults.yaml", "_defaults.yml")


_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


class _SafeConstructor(SafeConstructor):
    """Plain JSON-like values; timestamps stay the strings the user wrote (GPULab wants RFC 3339 text).

    Whatever a node holds, building a document either succeeds or raises a :class:`ConstructorError` at
    a node: an explicit tag on a text it does not fit (``!!float abc``, ``!!bool abc``) is a located
    problem, not a ``ValueError`` from deep inside the constructor. The node is looked for only then, so
    a valid document pays nothing per value for it.
    """

    def construct_document(self, node: Any) -> Any:
        try:
            return super().construct_document(node)
        except _CONSTRUCTOR_FAILURES as exc:
            raise _misfit(self, node, exc) from None

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        for key_node, _ in node.value if isinstance(node, MappingNode) else ():
            if not isinstance(key_node, ScalarNode):  # ``? [a, b]``: JSON (and GPULab) keys are text
                raise ConstructorError(None, None, f"a key must be a single value, not a {key_node.id}",
                                       key_node.start_mark)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: Any) -> int:
        # Sexagesimal and long digit strings cost quadratic time to convert: refuse them by length first.
        if isinstance(node, ScalarNode) and len(node.value) > _MAX_INT_TEXT:
            raise ConstructorError(None, None, f"integer of {len(node.value):,} characters is too large: a value "
                                               "is at most 64 bits", node.start_mark)
        value = int(super().construct_yaml_int(node))
        if not -MAX_INT <= value <= MAX_INT:
            raise ConstructorError(None, None, "integer is too large: a value is at most 64 bits",
                                   node.start_mark)
        return value

    def construct_unsupported(self, node: Any) -> Any:
        tag_text = str(node.tag).replace("tag:yaml.org,2002:", "!!")
        raise ConstructorError(None, None, f"{tag_text} values cannot be in a job: a job holds text, numbers, "
                               "booleans, null, lists and mappings", node.start_mark)


_CONSTRUCTOR_FAILURES = (ValueError, KeyError, IndexError, TypeError, OverflowError, AttributeError)
_SafeConstructor.add_constructor(_TIMESTAMP_TAG, SafeConstructor.construct_yaml_str)
_SafeConstructor.add_constructor("tag:yaml.org,2002:int", _SafeConstructor.construct_yaml_int)
for _tag in ("binary", "set", "omap", "pairs"):  # no JSON value has these shapes
    _SafeConstructor.add_constructor(f"tag:yaml.org,2002:{_tag}", _SafeConstructor.construct_unsupported)


def _misfit(constructor: SafeConstructor, root: Node, failure: Exception) -> ConstructorError:
    """The error at the first scalar of ``root`` whose value cannot be built (``failure`` was raised for it)."""
    for node in _scalars(root):
        try:
            SafeConstructor.construct_non_recursive_object(constructor, node)
        except _CONSTRUCTOR_FAILURES:
            tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
            return ConstructorError(None, None, f"{_short(node.value)} is not a valid {tag} value", node.start_mark)
        except YAMLError:
            pass
    return ConstructorError(None, None, f"a value cannot be read ({type(failure).__name__}: {failure})",
                            root.start_mark)


def _surrogate_problem(root: Node, path: str) -> Problem | None:
    """A problem at the first scalar holding a lone surrogate, or None.

    Strict UTF-8 decoding keeps surrogates out of the text; only an escape (``"\\ud800"``) can make one,
    and such a string can be neither printed nor sent, so only a text with ``\\u`` or ``\\U`` is looked at.
    """
    for node in _scalars(root):
        if re.search(_SURROGATE, node.value):
            mark = node.start_mark
            return Problem(Location(path, mark.line + 1, mark.column + 1),
                           "YAML: a \\u escape makes a lone surrogate, which is not a character")
    return None


def _scalars(root: Node) -> Iterator[ScalarNode]:
    """Every scalar under ``root``, in document order, each once (an alias does not visit its node again)."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, ScalarNode):
            yield node
        stack.extend(reversed(list(_children(node))))


# Patterns used only on unusual texts are compiled (and cached by re) on first use: validate starts sooner.
_SURROGATE = "[\ud800-\udfff]"


def _short(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")


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
            problems.append(Problem(Location(root.as_posix()), _missing(root)))
            continue
        for candidate in candidates:
            key = os.path.realpath(candidate)
            if key not in seen:
                seen.add(key)
                found.append(candidate)
    return found, problems


def _missing(path: Path) -> str:
    """Why ``path`` cannot be found: gone, or a symlink loop (``jobs.d -> jobs.d``)."""
    try:
        os.stat(path)
    except OSError as exc:
        if os.path.islink(path):
            return f"cannot follow this symlink: {exc.strerror or exc}"
    return "no such file or directory"


def _walk(root: Path) -> Iterator[str]:
    """The job files under ``root``. A name starting with ``.`` or ``_`` is skipped (docs/validate.md#which-files);
    a skipped file with a job file's suffix, or a skipped ``_`` directory, is said under ``--verbose``, so a file
    that looks like a job and is not read is never a mystery (``.git`` and the like are not worth a line)."""
    for directory, subdirs, files in os.walk(root):
        base = Path(directory)
        for name in subdirs:
            if name.startswith("_"):
                _skipped("skipped %s/: a directory whose name starts with '_' is not read", (base / name).as_posix())
        subdirs[:] = [name for name in subdirs if not name.startswith((".", "_"))]
        for name in files:
            if not name.lower().endswith(JOB_FILE_SUFFIXES):
                continue
            if not name.startswith((".", "_")):
                yield (base / name).as_posix()
            elif name not in DEFAULTS_NAMES:
                _skipped("skipped %s: a file whose name starts with %r is not a job file (docs/validate.md"
                         "#which-files)", (base / name).as_posix(), name[0])


def _skipped(message: str, *args: object) -> None:
    """Say a skipped file or directory under ``--verbose`` (a debug log line)."""
    import logging  # on first use: logging costs validate's start-up 3 ms, and most trees skip nothing

    logging.getLogger(__name__).debug(message, *args)


def read(path: str) -> JobFile:
    """Read one job file: every document in it, or the problems that stop it being read."""
    text, problem = _read_text(path)
    if problem is not None:
        return JobFile(path=path, documents=(), problems=(problem,))
    return parse(path, text)


def parse(path: str, text: str) -> JobFile:
    """The documents of ``text`` (read from ``path``), or the problems that stop it being read; never raises.

    The text is checked first, without a parser: characters YAML forbids, the ``%YAML`` version, and
    how deep it can nest (:func:`_text_problem`). The C parser reads almost every file. It implements
    YAML 1.1's syntax and refuses some YAML 1.2 that people write all the time (``{image: debian:stable}``,
    ``[http://example.com/x]``), so a file it refuses is read again by ruamel's pure-Python YAML 1.2 parser,
    and is an error only if that refuses it too. A file with a ``%YAML`` directive goes to the pure parser
    directly: it honours the directive (``%YAML 1.1`` reads ``yes`` as true and ``0777`` as octal), which
    the C parser ignores.
    """
    problem = _text_problem(path, text)
    if problem is not None:
        return JobFile(path=path, documents=(), problems=(problem,))
    deep = _nesting_bound(text) > MAX_DEPTH
    if deep:
        problem, scanned = _nesting_problem(path, text)
        if problem is not None:
            return JobFile(path=path, documents=(), problems=(problem,))
        if not scanned:  # the scanner stopped early: only the parser built on it is known to stop there too
            return _parse(path, text, _PureLoader, deep=True).job_file
    if "%YAML" in text:
        return _parse(path, text, _PureLoader, deep=deep).job_file
    fast = _parse(path, text, _FastLoader, deep=deep)
    if not fast.syntax_error:
        return fast.job_file
    return _parse(path, text, _PureLoader, deep=deep).job_file


class _Attempt(NamedTuple):
    job_file: JobFile
    #: the parser refused the text (as opposed to a problem with what it means: a duplicate key, a bad tag)
    syntax_error: bool


def _parse(path: str, text: str, loader_class: type[_FastLoader | _PureLoader], *, deep: bool) -> _Attempt:
    """The documents of ``text`` by one parser; ``deep``: values may nest deeper than :data:`MAX_DEPTH`."""
    documents: list[Document] = []
    problems: list[Problem] = []
    syntax_error = False
    may_alias = "&" in text and "*" in text
    may_nest = may_alias or deep
    may_escape = "\\u" in text or "\\U" in text
    loader = None
    try:
        loader = loader_class(text)
        index = 0
        while loader.check_node():
            node = loader.get_node()
            location = Location(path, node.start_mark.line + 1, node.start_mark.column + 1)
            if may_alias and (too_big := _alias_problem(node, location)):
                problems.append(too_big)
            elif may_nest and (too_deep := _depth_problem(node, path)):
                problems.append(too_deep)
            elif may_escape and (surrogate := _surrogate_problem(node, path)):
                problems.append(surrogate)
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
        if loader is not None:
            loader.dispose()
    return _Attempt(JobFile(path=path, documents=tuple(documents), problems=tuple(problems)), syntax_error)


# --- the text, before any parser ---------------------------------------------------------------------------

#: what YAML forbids in a stream (YAML 1.2, 5.1): controls but tab and line breaks, and, beyond ASCII, surrogates and
#: U+FFFE/U+FFFF (apart, because the whole class takes 0.4 ms to compile and most files are ASCII)
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f]")
_NONCHARACTERS = "[\ud800-\udfff\ufffe\uffff]"
_DIRECTIVE = r"(?m)^%YAML[ \t]+([^ \t\r\n#]*)"
#: what can stand before the first block collection of a line: indentation, and ``- ``, ``? ``, ``: ``, ``---``
_LINE_LEAD = " \t-?:"
_DOCUMENT_MARKER = r"(?:\A|(?<=[\n\r]))(?:---|\.\.\.)(?=[ \t\r\n]|\Z)"


def _text_problem(path: str, text: str) -> Problem | None:
    """What makes ``text`` unreadable before any parser sees it, or None.

    Both parsers refuse a non-printable character, but the pure one raises before it can be caught per
    document; the C parser recurses once per nesting level and crashes the process (not an exception)
    on a few thousand ``[``, after using memory that grows with the square of the depth.
    """
    forbidden = [match.start() for match in (_CONTROLS.search(text),
                                             None if text.isascii() else re.search(_NONCHARACTERS, text)) if match]
    if forbidden:
        return _character_problem(path, text, min(forbidden))
    for found in re.finditer(_DIRECTIVE, text) if "%YAML" in text else ():
        version = tuple(int(part) if part.isdigit() else -1 for part in found[1].split("."))
        if version not in YAML_VERSIONS:
            return Problem(_location(path, text, found.start()), f"YAML: version {found[1]!r} in the %YAML "
                           "directive is not supported", hint="write %YAML 1.2 (or 1.1), or leave the directive out")
    return None


def _character_problem(path: str, text: str, offset: int) -> Problem:
    char = text[offset]
    where = _location(path, text, offset)
    if char == "\x00" and text.count("\x00") * 3 >= len(text):  # every other byte: ASCII text in UTF-16
        return Problem(where, "not UTF-8: the file looks like UTF-16", hint="save the file as UTF-8")
    # every character refused here is a control, a surrogate or a noncharacter: none has a Unicode name
    name = _CONTROL_NAMES.get(char) or ("a control character" if ord(char) < 0xA0 else "not a character")
    return Problem(where, f"YAML does not allow the character U+{ord(char):04X} ({name}) in a file",
                   hint=f'remove it; in a double-quoted string write it as an escape: "\\u{ord(char):04x}"')


_CONTROL_NAMES = {"\x00": "NUL", "\x0c": "form feed", "\x1b": "ESC", "\x7f": "DEL"}


def _location(path: str, text: str, offset: int) -> Location:
    line_start = max(text.rfind("\n", 0, offset), text.rfind("\r", 0, offset)) + 1
    line = text.count("\n", 0, offset) + text.count("\r", 0, offset) - text.count("\r\n", 0, offset) + 1
    return Location(path, line, offset - line_start + 1)


def _nesting_bound(text: str) -> int:
    """More than the depth any document in ``text`` can reach, counted without parsing (linear, in C).

    A block collection nested ``n`` levels deep starts at column ``n // 2`` or further right (each level
    indents, except a list under a key), so twice the widest line lead bounds the block levels (lines split
    at every break any YAML version knows, and more). Flow collections (``[``, ``{``) cannot hold block ones,
    so the opening brackets of the document bound the rest. A ``---``/``...`` at the start of a line ends
    every collection (the parser refuses what is open), so a file of many documents is counted per document.
    """
    lead = max((len(line) - len(line.lstrip(_LINE_LEAD)) for line in text.splitlines()), default=0)
    bound = 2 * (lead + 2) + text.count("[") + text.count("{")
    if bound > MAX_DEPTH:
        bound = 2 * (lead + 2) + max(part.count("[") + part.count("{") for part in re.split(_DOCUMENT_MARKER, text))
    return bound


def _nesting_problem(path: str, text: str) -> tuple[Problem | None, bool]:
    """A problem where ``text`` first nests deeper than :data:`MAX_DEPTH` collections (or None), and whether
    the whole text could be read this way.

    For the rare file whose :func:`_nesting_bound` is too high: the C parser's events (libyaml keeps its
    own stacks; only building nodes recurses) are counted, and reading stops at the first level too deep,
    before the memory that grows with the depth's square is spent. One level within the limit is at most
    a scalar deeper as values, which the parsers handle and :func:`_depth_problem` then judges exactly.
    """
    events = _FastLoader(text)
    depth = 0
    try:
        while events.check_event():
            event = events.get_event()
            if isinstance(event, CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    return Problem(Location(path, mark.line + 1, mark.column + 1), f"values nest more than "
                                   f"{MAX_DEPTH} levels deep here; a job is a few levels deep"), True
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
    except YAMLError:  # YAML 1.2 the C parser refuses: the pure parser, which stops at Python's recursion limit
        return None, False
    finally:
        events.dispose()
    return None, True


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
    raw, problem = read_bytes(path, MAX_FILE_BYTES, what="a job file",
                              hint="remove it, or rename it so it does not end in .yaml, .yml or .json")
    if problem is not None:
        return "", problem
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        start = raw[: exc.start]
        line = start.count(b"\n") + 1
        column = exc.start - (start.rfind(b"\n") + 1) + 1
        return "", Problem(Location(path, line, column),
                           f"not UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start} cannot be decoded",
                           hint="save the file as UTF-8")


def read_bytes(path: str, limit: int, *, what: str, hint: str = "remove it, or rename it") -> tuple[bytes, Problem | None]:
    """At most ``limit`` bytes of the regular file ``path``, or a problem; never blocks and never raises.

    Opened non-blocking, so that a FIFO cannot wait for a writer; then only a regular file is read (a
    directory named ``_defaults.yaml``, ``/dev/zero``), and never more than ``limit`` bytes of it.
    """
    where = Location(path)
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        return b"", Problem(where, f"cannot read: {exc.strerror or exc}")
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            return b"", Problem(where, f"not a regular file but {_file_kind(info.st_mode)}; {what} is a regular "
                                       "file", hint=hint)
        raw = b""
        while len(raw) <= limit and (chunk := os.read(descriptor, limit + 1 - len(raw))):
            raw += chunk
    except OSError as exc:
        return b"", Problem(where, f"cannot read: {exc.strerror or exc}")
    finally:
        os.close(descriptor)
    if len(raw) > limit:
        size = max(len(raw), info.st_size)
        return b"", Problem(where, f"file is {size:,} bytes, over the {limit // 1024} KiB limit for {what}",
                            hint=f"is this really {what}?")
    return raw, None


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

    @property
    def versioned_resolver(self) -> Any:
        # a %YAML version other than 1.1 and 1.2 is refused before parsing; never a KeyError here
        if self.processing_version not in YAML_VERSIONS:
            return _yaml_1_2_resolvers()
        return super().versioned_resolver


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
