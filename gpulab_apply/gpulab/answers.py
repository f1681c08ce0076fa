"""Reading GPULab's answers: a one-line summary of any body (JSON, HTML, text), and a submission's UUID.

GPULab has no error schema (reference §1.5): bodies are opaque text, maybe JSON, maybe an HTML page
from a proxy. These turn any of them into something fit for one line of a message.
"""

from __future__ import annotations

import json
import re
from typing import Any

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def summarize(text: str, *, content_type: str = "", limit: int = 200) -> str:
    """One line describing an answer's body, never a dump: the message of a JSON error, the title
    (or first heading, or text) of an HTML page, or the text itself; at most ``limit`` characters."""
    if "html" in content_type.lower() or text.lstrip()[:15].lower().startswith(("<!doctype", "<html")):
        for pattern in (r"<title[^>]*>(.*?)</title>", r"<h1[^>]*>(.*?)</h1>"):
            match = re.search(pattern, text, re.IGNORECASE | re.DOTALL)
            if match and match.group(1).strip():
                return _one_line(re.sub(r"<[^>]+>", " ", match.group(1)), limit)
        text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.IGNORECASE | re.DOTALL)
        return _one_line(re.sub(r"<[^>]+>", " ", text), limit)
    try:
        message = _json_message(json.loads(text))
    except ValueError:
        message = None
    return _one_line(message or text, limit)


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


def _one_line(text: str, limit: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


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
