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

Only a submission needs the values (docs/authoring.md#variables-offline). Every other command reads the files
with ``placeholders``: a variable that is not set stays as written (``${WANDB_API_KEY}``, the placeholder), the
draft records where (``Draft.unset``), and the checks leave those values to the submission. The job's name is
its identity (what plan, status and apply match GPULab's jobs by), so a variable in ``name`` is needed always.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from gpulab_apply.jobfiles.drafts import Draft, Expansion
from gpulab_apply.problems import Problem
from gpulab_apply.sourcemap import JsonPath

# $${ is an escaped ${; ${{ is a matrix expression (already replaced), never a variable
_VARIABLE = re.compile(r"\$\$\{|\$\{(?!\{)(?P<name>[^}:]*)(?::-(?P<default>[^}]*))?\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class Variables:
    """The transform: substitutes variables from ``environ`` (the process environment by default)."""

    __slots__ = ("environ", "placeholders")

    def __init__(self, environ: Mapping[str, str] | None = None, *, placeholders: bool = False) -> None:
        self.environ = os.environ if environ is None else environ
        #: leave an unset variable as written instead of failing (every command but a submission)
        self.placeholders = placeholders

    def __call__(self, draft: Draft) -> Expansion:
        if "${" not in json.dumps(draft.data, default=str):  # most jobs: one pass in C instead of a walk
            return Expansion((draft,))
        problems: list[Problem] = []
        secrets: set[str] = set()
        unset: dict[JsonPath, set[str]] = {}
        data = _walk(draft.data, (), lambda text, path: self._string(text, path, draft, problems, secrets, unset))
        if problems:
            return Expansion((), problems)
        placeholders = tuple((path, frozenset(names)) for path, names in unset.items())
        if data is draft.data:
            return Expansion((draft.evolve(unset=placeholders) if placeholders else draft,))
        hashed = draft.hashed if draft.hashed is not None else draft.data
        return Expansion((draft.evolve(data=data, hashed=hashed, secrets=draft.secrets | secrets,
                                       unset=placeholders),))

    def _string(self, text: str, path: JsonPath, draft: Draft, problems: list[Problem], secrets: set[str],
                unset: dict[JsonPath, set[str]]) -> str:
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
                if default is None and self.placeholders and path != ("name",):
                    unset.setdefault(path, set()).add(name)
                    return found[0]  # the placeholder: as written, so render shows what a submission needs
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


def unset_note(names: Sequence[str]) -> str:
    """The one sentence every command that shows placeholders says about them."""
    one = len(names) == 1
    return (f"environment variable{'' if one else 's'} {', '.join(names)} not set here: shown as ${{NAME}} and "
            f"left unchecked; apply needs {'it' if one else 'them'} to submit")


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
