"""``${VAR}`` and ``${VAR:-default}`` from the environment in string values (docs/authoring.md#variables).

Credentials (registry passwords, API keys, W&B tokens) stay out of git: the job file names the variable,
CI holds the value. A variable that is not set and has no default is an error at the string that uses it.
``$${`` writes a literal ``${``.

Values taken from the environment are secrets to this tool: each draft carries them (``Draft.secrets``) to
the validation result, whose :class:`~gpulab_apply.masking.Secrets` every output is masked with; they are
never hashed. The spec hash sees the string as
written (``${HF_TOKEN}``), so rotating a token never cancels and resubmits a running job; changing the
file (another variable, another default) does. This runs after the matrix, so a value from the
environment is never read as an expression.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from typing import Any

from gpulab_apply.jobfiles.drafts import Draft, Expansion
from gpulab_apply.problems import Problem
from gpulab_apply.sourcemap import JsonPath

# $${ is an escaped ${; ${{ is a matrix expression (already replaced), never a variable
_VARIABLE = re.compile(r"\$\$\{|\$\{(?!\{)(?P<name>[^}:]*)(?::-(?P<default>[^}]*))?\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class Variables:
    """The transform: substitutes variables from ``environ`` (the process environment by default)."""

    __slots__ = ("environ",)

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ

    def __call__(self, draft: Draft) -> Expansion:
        if "${" not in json.dumps(draft.data, default=str):  # most jobs: one pass in C instead of a walk
            return Expansion((draft,))
        problems: list[Problem] = []
        secrets: set[str] = set()
        data = _walk(draft.data, (), lambda text, path: self._string(text, path, draft, problems, secrets))
        if problems:
            return Expansion((), problems)
        if data is draft.data:
            return Expansion((draft,))
        hashed = draft.hashed if draft.hashed is not None else draft.data
        return Expansion((draft.evolve(data=data, hashed=hashed, secrets=draft.secrets | secrets),))

    def _string(self, text: str, path: JsonPath, draft: Draft, problems: list[Problem], secrets: set[str]) -> str:
        if "${" not in text:
            return text

        def replace(found: re.Match[str]) -> str:
            if found[0] == "$${":
                return "${"
            name, default = found["name"], found["default"]
            if not _NAME.match(name):
                problems.append(draft.problem(path, f"${{{name}}} is not a variable: a name is letters, digits and _",
                                              hint="write $${ for a literal ${"))
                return found[0]
            value = self.environ.get(name)
            if value is None or (value == "" and default is not None):
                if default is None:
                    problems.append(draft.problem(path, f"environment variable {name} is not set",
                                                  hint=f"set {name}, or give a default: ${{{name}:-value}}"))
                    return found[0]
                return default
            if value:
                secrets.add(value)
            return value

        result = _VARIABLE.sub(replace, text)
        return text if result == text else result


def _walk(value: Any, path: JsonPath, on_string: Callable[[str, JsonPath], str]) -> Any:
    """``value`` with every string value passed through ``on_string``; the same object when none changed."""
    if isinstance(value, str):
        return on_string(value, path)
    if isinstance(value, Mapping):
        changed = {key: _walk(item, (*path, key), on_string) for key, item in value.items()}
        return changed if any(changed[key] is not value[key] for key in value) else value
    if isinstance(value, list):
        items = [_walk(item, (*path, index), on_string) for index, item in enumerate(value)]
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    return value
