"""Reading GPULab's answers: JSON within limits, a job object's shape, a one-line summary of any body
(JSON, HTML, text), and a submission's UUID.

GPULab has no error schema (reference §1.5): bodies are opaque text, maybe JSON, maybe an HTML page
from a proxy. These turn any of them into something fit for one line of a message. An answer that is
not what GPULab sends (JSON nested absurdly deep, text that is not Unicode, a job whose name is a number)
is :class:`UnexpectedAnswer`, located by its place in the answer: never obeyed, never a traceback
(docs/client.md#limits).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


#: a lone UTF-16 surrogate: valid in JSON (``"\\ud800"``), but not Unicode text, so it cannot be printed or written
_SURROGATE = re.compile("[\ud800-\udfff]")
#: how JSON writes one (``\\udc00``, ``\\uD800``); a false match (an escaped backslash before ``ud800``) only costs a walk
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
#: characters of a body that :func:`summarize` looks at
_SUMMARY_SCAN = 64 * 1024
_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: what a job's uuid may be: GPULab's are UUIDs; anything else is kept to a plain word, never a path or markup
_JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


class UnexpectedAnswer(ValueError):
    """An answer, or a part of it, that GPULab would not send; the message says where and what."""

    def __init__(self, message: str, *, not_json: bool = False) -> None:
        super().__init__(message)
        #: the body is no JSON at all (a wrong endpoint or API version, more often than a broken server)
        self.not_json = not_json


def parse_json(text: str, *, max_depth: int) -> Any:
    """The JSON in ``text``, checked: nested at most ``max_depth`` deep, every string and key valid Unicode."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise UnexpectedAnswer(f"JSON nested deeper than {max_depth} levels") from None
    except ValueError:
        raise UnexpectedAnswer(f"not JSON: {summarize(text) or '(empty)'}", not_json=True) from None
    # A listing page is a megabyte of JSON: walking every value with its path cost six times the parse. A text
    # that neither holds a surrogate (none in ASCII) nor escapes one cannot decode to one, and the depth needs only
    # the containers; the located walk runs only where one of the two may have found something.
    if (not text.isascii() and _SURROGATE.search(text)) or _SURROGATE_ESCAPE.search(text) \
            or deeper_than(data, max_depth):
        _refuse_located(data, max_depth=max_depth)
    return data


def deeper_than(data: Any, limit: int) -> bool:
    """Whether the containers of decoded JSON nest more than ``limit`` levels, level by level (no recursion: that is
    what it guards). Also the emulator's check of a request body.

    ``type(...) is`` rather than ``isinstance``: JSON decodes to exactly dict and list, and this runs for every
    container of every page (half the time)."""
    level = [data] if type(data) is dict or type(data) is list else []
    depth = 1
    while level:
        if depth > limit:
            return True
        below: list[Any] = []
        keep = below.append
        for value in level:
            for child in value.values() if type(value) is dict else value:
                if type(child) is dict or type(child) is list:
                    keep(child)
        level = below
        depth += 1
    return False


def _refuse_located(data: Any, *, max_depth: int) -> None:
    """Raise :class:`UnexpectedAnswer` at the first value too deep or not valid Unicode, with its place."""
    pending: list[tuple[Any, str, int]] = [(data, "", 1)]
    while pending:  # iterative: the answer's depth must not become this function's
        value, where, depth = pending.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                raise UnexpectedAnswer(f"text that is not valid Unicode (a lone surrogate) at {_place(where)}")
        elif isinstance(value, dict | list):
            if depth > max_depth:
                raise UnexpectedAnswer(f"JSON nested deeper than {max_depth} levels, at {_place(where)}")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str) and _SURROGATE.search(key):
                    raise UnexpectedAnswer(f"a key that is not valid Unicode (a lone surrogate) in {_place(where)}")
                pending.append((item, _step(where, key), depth + 1))


def _step(where: str, key: object) -> str:
    if isinstance(key, int):
        return f"{where}[{key}]"
    text = str(key)
    return f"{where}.{text}" if _WORD.match(text) and len(text) <= 40 else f"{where}[{shown(text, 40)}]"


def _place(where: str) -> str:
    """A JSON path for a message; the top as such, a deep one by its end."""
    where = where.lstrip(".")
    return "the top" if not where else where if len(where) <= 80 else "…" + where[-79:]


def job_problem(data: Mapping[str, Any], *, max_name: int) -> str | None:
    """What makes a job object unreadable (a part of the wrong type, an impossible uuid, an absurd name);
    None when it has GPULab's shape. Checked before the job is used, so that a job the tool cannot read is
    never cancelled, replaced or counted as in sync."""
    uuid = data.get("uuid")
    if not isinstance(uuid, str) or not uuid:
        return f"a job without a uuid (uuid: {_kind(uuid)})"
    if len(uuid) > 128 or not _JOB_ID.match(uuid):
        return f"a job whose uuid {shown(uuid)} is not an id (letters, digits, '-' and '_')"
    job = f"job {uuid}"
    for key in ("name", "description"):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            return f"{job} has {_article(key)} {key} that is {_kind(value)}, not text"
    name = data.get("name") or ""
    if len(name) > max_name:
        return f"{job} has a name of {len(name):,} characters (at most {max_name:,} are read)"
    for key in ("state", "request", "owner"):
        value = data.get(key)
        if value is not None and not isinstance(value, dict):
            return f"{job} has {_article(key)} {key} that is {_kind(value)}, not an object"
    state = data.get("state") or {}
    status, event_times = state.get("status"), state.get("eventTimes")
    if status is not None and not isinstance(status, str):
        return f"{job} has a state.status that is {_kind(status)}, not text"
    if event_times is not None and not isinstance(event_times, dict):
        return f"{job} has a state.eventTimes that is {_kind(event_times)}, not an object"
    for key, value in (data.get("owner") or {}).items():
        if key.endswith(("Urn", "Email")) and value is not None and not isinstance(value, str):
            return f"{job} has an {_step('owner', key)} that is {_kind(value)}, not text"
    return None


def shown(text: str, limit: int = 60) -> str:
    """A server string fit for a message: quoted, at most ``limit`` characters, every unusual character escaped."""
    cut = text if len(text) <= limit else text[: limit - 1] + "…"
    return ascii(cut).replace("\\u2026", "…")


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _kind(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "text", bool: "a boolean", int: "a number",
             float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def summarize(text: str, *, content_type: str = "", limit: int = 200) -> str:
    """One line describing an answer's body, never a dump: the message of a JSON error, the title
    (or first heading, or text) of an HTML page, or the text itself; at most ``limit`` characters, with
    every character a terminal would act on escaped. Only the body's start is read: a summary of a huge or
    hostile body costs no more than that of a short one."""
    text = text[:_SUMMARY_SCAN]
    if "html" in content_type.lower() or text.lstrip()[:15].lower().startswith(("<!doctype", "<html")):
        for pattern in (r"<title[^>]*>(.*?)</title>", r"<h1[^>]*>(.*?)</h1>"):
            match = re.search(pattern, text, re.IGNORECASE | re.DOTALL)
            if match and match.group(1).strip():
                return one_line(re.sub(r"<[^>]+>", " ", match.group(1)), limit)
        text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.IGNORECASE | re.DOTALL)
        return one_line(re.sub(r"<[^>]+>", " ", text), limit)
    try:
        message = _json_message(json.loads(text))
    except (ValueError, RecursionError):  # not JSON, or JSON too deep to read: the text itself
        message = None
    return one_line(message or text, limit)


def uuid_from_answer(text: str) -> str | None:
    """The job UUID in a submit answer: plain text (GPULab's), tolerating quotes, whitespace and a
    JSON object with ``uuid``; None when there is no UUID."""
    candidate = text.strip()
    if candidate.startswith("{"):
        try:
            data = json.loads(candidate)
        except ValueError:
            return None
        candidate = str(data.get("uuid") or data.get("id") or "") if isinstance(data, dict) else ""
    candidate = candidate.strip().strip("\"'").strip()
    return candidate if _UUID.match(candidate) else None


def one_line(text: str, limit: int = 200) -> str:
    """Server text as one printable line of at most ``limit`` characters (controls escaped, blanks folded)."""
    line = " ".join(text.split())
    line = line if len(line) <= limit else line[: limit - 1] + "…"
    return "".join(char if char.isprintable() else ascii(char)[1:-1] for char in line)


def _json_message(data: Any) -> str | None:
    if isinstance(data, str):
        return data
    if isinstance(data, dict):
        for key in ("message", "detail", "error", "description", "msg", "title", "reason"):
            if key in data:
                found = _json_message(data[key])
                if found:
                    return found
        return None
    if isinstance(data, list) and data:
        messages = [m for m in (_json_message(item) for item in data[:3]) if m]
        if messages:
            more = f" (+{len(data) - 3} more)" if len(data) > 3 else ""
            return "; ".join(messages) + more
    return None
