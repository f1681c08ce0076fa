"""The one order of job names, in every command and format: natural, numbers compared by value (docs/commands.md#order).

``cc-1 < cc-2 < cc-10``, and decimals and exponents as the sweeps that make them mean them: ``wd0.05 < wd0.1 <
wd0.2``, ``lr1e-4 < lr1e-3``, ``lr0.01-seed0 < lr0.01-seed1 < lr0.1-seed0``. Plain text sorts as Python sorts
strings (by code point, so ``Sweep-3`` before ``a``). Names that differ only in how a number is written (``a01``,
``a1``) are told apart by their text, so the order is total: two different names never compare equal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal

#: a number as a sweep writes one into a name: digits, a decimal part, an exponent of at most four digits
#: (``1e-4``); a sign is never read (``cc-1`` is ``cc-`` then one), nor a dot without digits after it
_NUMBER = re.compile(r"(\d+(?:\.\d+)?(?:[eE][-+]?\d{1,4}(?!\d))?)")

#: one part of a key: (0, value) for a number, (1, text) for text, so a number sorts before text in the same place
Part = tuple[int, Decimal | str]


def natural_key(name: str) -> tuple[tuple[Part, ...], str]:
    """Sort key of ``name``: its parts, numbers by value (exact, as decimals), then the name itself."""
    parts: list[Part] = []
    for index, piece in enumerate(_NUMBER.split(name)):
        if index % 2:
            parts.append((0, Decimal(piece)))
        elif piece:
            parts.append((1, piece))
    return tuple(parts), name


def natural_sorted(names: Iterable[str]) -> list[str]:
    """``names`` in natural order."""
    return sorted(names, key=natural_key)

