"""Secret masking for everything this tool shows (docs/plan-apply.md#secrets).

Two kinds of secret appear in jobs: environment variables whose *names* look secret (``*TOKEN*``,
``*SECRET*``, ``*PASSWORD*``, ``*KEY*``, any case) and registry credentials in an image reference
(``user:pass@registry/...``, a GPULab extension). Values are replaced by :data:`MASK`; the structure and
the non-secret parts stay visible so that a diff still says *that* a secret changed.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

MASK = "***"

_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|KEY", re.IGNORECASE)
# user:pass@ before the registry; a docker reference has no other '@' (digests are rejected by GPULab)
_IMAGE_CREDENTIALS = re.compile(r"(?P<user>[^\s/:@'\"]+):(?P<password>[^\s/@'\"]+)@")

# a secret-looking name and its value in free text: a server's error message quoting the submitted
# environment as JSON ("HF_TOKEN": "hf_x"), as a Python dict ('HF_TOKEN': 'hf_x') or as NAME=value
_SECRET_ASSIGNMENT = re.compile(
    r"""(?P<name>(?P<q>["']?)(?<!\{)\b[A-Za-z0-9_.-]*(?:TOKEN|SECRET|PASSWORD|KEY)[A-Za-z0-9_.-]*(?P=q)(?:\s*[:=]\s*|\s+with\s+value\s+))"""
    r"""(?P<value>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s,;}\])]+)"""
    # a duplicate key quotes the first value too: ... with value "b" (original value: "a")
    r"""(?:(?P<original>\s*\(original\s+value:\s*)(?P<first>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s,;})\]]+))?""",
    re.IGNORECASE,
)
# the userinfo of a URL (``https://user:pass@host``, ``https://token@host``): all of it may be a secret
_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#@\s]*)@")
#: what must never reach a terminal or a CI log raw: C0 and C1 controls, DEL, the line and paragraph
#: separators, and the bidirectional controls that reorder what a reader sees (also why validate warns of a job name)
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
#: a workflow command of GitHub Actions (``::error::…``, and the older ``##[error]…``) at the start of a string
_COMMAND_START = re.compile(r"^(\s*)(::|##\[)")

PathPart = str | int

#: shorter values are masked only where a whole job value equals them: masking every "1" in free text
#: would garble messages without hiding anything a reader could not guess
MIN_TEXT_SECRET = 4
#: where a message was cut short
_CUT = re.compile(r"…|\.\.\.")
#: how deep the alternatives of the masking pattern may branch before it falls back to a flat list
_MAX_BRANCH_DEPTH = 40


class Secrets:
    """The values one run must never show: what its job files took from the environment (``${VAR}``,
    docs/authoring.md#variables) and the certificate key's password.

    Made where the job files are loaded (:attr:`~gpulab_apply.jobfiles.validation.ValidationResult.secrets`)
    and handed to where output is written (``cli/output.py``, the plan file), never kept in the process.
    :meth:`mask` replaces every value in every form this tool or GPULab may have written it in: as is, with
    its white space folded, JSON-, Python- and control-escaped, HTML-, Markdown- and workflow-command-escaped,
    base64 and URL encoded (docs/security.md). One pattern, built once, masks all of them in one pass.
    """

    __slots__ = ("_forms", "_pattern", "values")

    def __init__(self, values: Iterable[str] = ()) -> None:
        self.values = frozenset(value for value in values if value)
        self._pattern: re.Pattern[str] | None = None
        self._forms: list[str] = []

    def __bool__(self) -> bool:
        return bool(self.values)

    def __or__(self, other: Secrets) -> Secrets:
        return self if not other.values else other if not self.values else Secrets(self.values | other.values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secrets) and other.values == self.values

    def __hash__(self) -> int:
        return hash(self.values)

    def __repr__(self) -> str:  # never the values themselves
        return f"Secrets({len(self.values)} values)"

    def mask(self, text: str) -> str:
        """``text`` with every secret, in every form it may take, replaced by ``***``."""
        if not self.values:
            return text
        if text in self.values:
            return MASK
        if self._pattern is None:
            self._forms = sorted({form for value in self.values for form in encodings(value)}, key=len, reverse=True)
            self._pattern = _pattern(set(self._forms))
        if self._pattern.pattern:
            text = self._pattern.sub(MASK, text)
        return self._mask_cuts(text) if "…" in text or "..." in text else text

    def _mask_cuts(self, text: str) -> str:
        """A message cut short (``…``, ``...``: GPULab's text at 200 characters, a value quoted in a problem)
        may end inside a secret: mask what it kept of it, from 4 characters on."""
        pieces, last = [], 0
        for cut in _CUT.finditer(text):
            kept = self._kept(text[max(last, cut.start() - 256):cut.start()])
            pieces += [text[last:cut.start() - kept], MASK if kept else "", cut[0]]
            last = cut.end()
        return "".join(pieces) + text[last:]

    def _kept(self, before: str) -> int:
        """How many characters at the end of ``before`` begin a secret (in any form); 0 for none."""
        longest = 0
        for form in self._forms:
            if form[:MIN_TEXT_SECRET] in before:  # cheap test first: most forms are nowhere near
                for end in range(min(len(form) - 1, len(before)), max(MIN_TEXT_SECRET, longest + 1) - 1, -1):
                    if before.endswith(form[:end]):
                        longest = end
                        break
        return longest

    def mask_value(self, value: Any) -> Any:
        """A copy of ``value`` (a job, a document) with every string masked; a string that equals a secret,
        however short, is masked whole."""
        if not self.values:
            return value
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, Mapping):
            return {self.mask(key) if isinstance(key, str) else key: self.mask_value(item)
                    for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.mask_value(item) for item in value]
        return value


NO_SECRETS = Secrets()


def encodings(secret: str) -> set[str]:
    """The forms of ``secret`` that output may hold (at least :data:`MIN_TEXT_SECRET` long): the value and its
    white-space-folded form (GPULab's error text is folded to one line), each as is or control-escaped
    (:func:`safe`), then as is or JSON- or Python-escaped, then as is or HTML-, Markdown- or workflow-command-
    escaped; and the value base64 and URL encoded."""
    # only when there are secrets to mask: --help and a validate without ${VAR} start without these
    import base64
    import html
    import json
    from urllib.parse import quote, quote_plus

    escaped: set[str] = set()
    for base in {secret, " ".join(secret.split())}:
        for form in (base, safe(base)):  # then written into a string literal of JSON or Python
            escaped.update((form, json.dumps(form)[1:-1], json.dumps(form, ensure_ascii=False)[1:-1],
                            repr(form)[1:-1]))
    forms: set[str] = set()
    for form in escaped:  # then into a document: HTML (a diff in <pre>), Markdown, a workflow command
        forms.update((form, html.escape(form, quote=False), html.escape(form), markdown_text(form),
                      form.replace("%", "%25")))
    raw = secret.encode("utf-8", "surrogatepass")
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        forms.add(encoded.decode("ascii").rstrip("="))
    forms.update((quote(secret, safe=""), quote(secret), quote_plus(secret), quote(secret, safe="").lower()))
    return {form for form in forms if len(form) >= MIN_TEXT_SECRET}


def _pattern(words: set[str]) -> re.Pattern[str]:
    """One pattern that finds the longest of ``words`` at each place, in time linear in the text: the words as
    a trie (``ab(?:c|d(?:e)?)``), so each character is compared once per branch taken, not once per word."""
    ordered = sorted(words)
    try:
        return re.compile(_trie(ordered, 0))
    except (RecursionError, _TooDeep):  # thousands of words each the prefix of the next: a flat alternation
        return re.compile("|".join(map(re.escape, sorted(words, key=len, reverse=True))))


class _TooDeep(Exception):
    pass


def _trie(words: Sequence[str], depth: int) -> str:
    """``words`` (sorted, distinct; "" when the prefix consumed so far is itself a word) as a pattern."""
    if depth > _MAX_BRANCH_DEPTH:
        raise _TooDeep
    optional = bool(words) and words[0] == ""
    branches = []
    for _, group in itertools.groupby((word for word in words if word), key=lambda word: word[0]):
        members = list(group)
        prefix = os.path.commonprefix(members)  # noqa: RUF071 - the words' common start, not a path
        tails = [word[len(prefix):] for word in members]
        branches.append(re.escape(prefix) + (_trie(tails, depth + 1) if tails != [""] else ""))
    alternation = "|".join(branches)
    if optional:  # greedy: the longer word first, this one if it does not go on
        return f"(?:{alternation})?"
    return alternation if len(branches) == 1 or depth == 0 else f"(?:{alternation})"


def is_secret_name(name: str) -> bool:
    """Whether an environment variable's name looks secret."""
    return _SECRET_NAME.search(name) is not None


def mask_text(text: str) -> str:
    """``user:pass@`` credentials in free text (an image name, a server's error message) -> ``user:***@``,
    and the userinfo of URLs -> ``***@``."""
    return _IMAGE_CREDENTIALS.sub(lambda m: f"{m['user']}:{MASK}@", mask_url(text))


def mask_message(text: str) -> str:
    """A message for people (a server's error, a hint, a log line) with every secret it may quote masked:
    what :func:`mask_text` masks, and the value after a secret-looking name (``"HF_TOKEN": "***"``,
    ``'API_KEY': '***'``, ``PASSWORD=***``, ``"HF_TOKEN" with value "***"``). Not for image names, where
    ``key:tag`` is no secret."""
    return mask_text(_SECRET_ASSIGNMENT.sub(_mask_assignment, text))


def _mask_assignment(match: re.Match[str]) -> str:
    masked = f"{match['name']}{_masked_literal(match['value'])}"
    if match["original"] is not None:
        masked += f"{match['original']}{_masked_literal(match['first'])}"
    return masked


def _masked_literal(value: str) -> str:
    quote = value[0] if value[0] in "\"'" else ""
    return f"{quote}{MASK}{quote}"


def mask_url(text: str) -> str:
    """Every URL's userinfo (``https://user:pass@host/``) -> ``https://***@host/``; other text unchanged."""
    return _URL_USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)


def safe(text: str) -> str:
    """``text`` fit to print anywhere: control characters escaped (a newline shows as ``\\n``).

    User strings (job names, paths, server messages) pass through this before any reporter prints them,
    so that none can start a new line in a terminal or a CI log: no forged ``::error::`` workflow
    command, no broken table row, no escape sequence that repaints the terminal. A string that starts as a
    workflow command does (a name at the start of a table row) has its first character escaped.
    """
    if UNSAFE.search(text) is not None:
        text = UNSAFE.sub(lambda m: _ESCAPES.get(m[0]) or _escape(m[0]), text)
    if text.lstrip().startswith(("::", "##[")):  # printed first on a line, a CI runner would obey it
        text = _COMMAND_START.sub(lambda m: m[1] + _escape(m[2][0]) + m[2][1:], text)
    return text


#: colour and style (SGR) sequences: a job's log is full of them, and they only paint
_SGR = re.compile("\x1b\\[[0-9;:]*m")
#: :data:`UNSAFE` but for the line feed and the tab, which a log keeps
UNSAFE_IN_LOG = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def safe_log(text: str) -> str:
    """A job's output fit for a terminal or a CI log: lines and tabs kept, colour codes dropped, every other
    control character escaped (``\\x1b]52;…`` shows as text and sets no clipboard; a lone carriage return
    cannot hide what its line said: it ends the line)."""
    text = _SGR.sub("", text.replace("\r\n", "\n")).replace("\r", "\n")
    return UNSAFE_IN_LOG.sub(lambda m: _escape(m[0]), text)


#: what Markdown reads as markup in a table cell or a line (emphasis, links, images, HTML, entities, tables)
_MARKDOWN_MARKUP = re.compile(r"[\\`*_\[\]!|<>&~]")


def markdown_text(text: str) -> str:
    """``text`` as plain text in Markdown (a pull-request comment, a table cell): control characters escaped
    (:func:`safe`), markup backslash-escaped (no link, image, HTML or broken row), and no live mention or
    autolink: ``@name``, ``https://`` and ``www.`` get a zero-width space (``&#8203;``), as Renovate does."""
    escaped = _MARKDOWN_MARKUP.sub(r"\\\g<0>", safe(text))
    return escaped.replace("@", "@&#8203;").replace("://", ":&#8203;//").replace("www.", "www&#8203;.")


def printable(text: str) -> bool:
    """Whether ``text`` holds nothing :func:`safe` would escape but line feeds (a document to print as is)."""
    return UNSAFE.search(text.replace("\n", "")) is None


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def mask_value(value: Any, path: Sequence[PathPart] = ()) -> Any:
    """A copy of ``value`` (found at ``path`` in a job, e.g. ``("request", "docker")``) with secrets masked."""
    if len(path) >= 2 and path[-2] == "environment" and isinstance(path[-1], str) and is_secret_name(path[-1]):
        return MASK
    if path and path[-1] == "image" and isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {key: mask_value(item, (*path, key)) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [mask_value(item, (*path, index)) for index, item in enumerate(value)]
    return value
