"""How GPULab's job model (pydantic, lax mode) reads one scalar: integers, booleans, times and e-mail addresses.

Each reader returns the value GPULab would store, or None where GPULab refuses the input. The rules are
pydantic's and email-validator's as GPULab uses them, measured against GPULab's own model by the fidelity
corpus (tests/fidelity_corpus.py; docs/validate.md#what-gpulab-accepts).
"""

from __future__ import annotations

import functools
import math
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

_INT_TEXT = re.compile(r"[+-]?[0-9]+(?:_[0-9]+)*(?:\.0+)?")
_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})
#: a number as text is a Unix time; an exponent only after a decimal point (pydantic's rule, measured)
_UNIX_TEXT = re.compile(r"[+-]?(?:[0-9]+|(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)")
#: beyond this a Unix time is in milliseconds (pydantic's rule)
_MILLISECONDS_FROM = 2e10


def lax_int(value: Any) -> int | None:
    """The integer GPULab reads from ``value`` (``"4"``, ``4.0``, ``true``), or None if it refuses it."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str) and _INT_TEXT.fullmatch(value.strip()):
        try:
            return int(value.strip().split(".")[0])
        except ValueError:  # beyond Python's 4,300 digits for int(str): no count of anything
            return None
    return None


def lax_bool(value: Any) -> bool | None:
    """The boolean GPULab reads from ``value`` (``yes``, ``"off"``, ``1``), or None if it refuses it."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.lower()
        return True if word in _TRUE else False if word in _FALSE else None
    return None


def lax_time(value: Any) -> datetime | None:
    """The time GPULab reads from ``value``: RFC 3339-like text with a zone, or a Unix time; None if refused."""
    if isinstance(value, str) and _UNIX_TEXT.fullmatch(value):
        value = float(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            return None
        seconds = value / 1000 if abs(value) > _MILLISECONDS_FROM else value
        try:
            return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
        except OverflowError:
            return None
    if not isinstance(value, str):
        return None
    match = _lax_time().fullmatch(value)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, utc, sign, zone_hours, zone_minutes = match.groups()
    if int(zone_hours or 0) > 23 or int(zone_minutes or 0) > 59:
        return None
    zone = UTC if utc else timezone(timedelta(hours=int(zone_hours), minutes=int(zone_minutes))
                                    * (-1 if sign == "-" else 1))
    try:
        return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0),
                        int((fraction or "0")[:6].ljust(6, "0")), tzinfo=zone)
    except ValueError:  # month 13, February 30, hour 24
        return None


@functools.cache
def _lax_time() -> re.Pattern[str]:
    # compiled when first used: the costliest pattern to compile here (1 ms, a fiftieth of validate's start-up),
    # and most jobs hold no timestamp
    return re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt _]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]+))?)?"
                      r"(?:([Zz])|([+-])([0-9]{2}):?([0-9]{2}))")


def utc_text(moment: datetime) -> str:
    """A time as GPULab stores it: UTC, whole seconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_PRETTY_EMAIL = re.compile(r"\s*(?:((?:[\w.!#$%&'*+\-/=?^_`{|}~]+\s+)*[\w.!#$%&'*+\-/=?^_`{|}~]+)|\"((?:[^\"]|\")+)\")?"
                           r"\s*<(.+)>\s*")


def bare_email(text: str) -> str:
    """The address GPULab takes from an e-mail field: ``"Jo <jo@x.be>"`` -> ``jo@x.be``, spaces trimmed."""
    if "\r" in text or "\n" in text:
        return text  # GPULab refuses it as it is
    match = _PRETTY_EMAIL.fullmatch(text)
    return (match.group(3) if match else text).strip()


@functools.lru_cache(maxsize=4096)  # a set of jobs names the same few addresses again and again
def email_problem(text: str) -> str | None:
    """Why GPULab refuses an e-mail field (its checker: email-validator's syntax rules, no DNS); None if it accepts it."""
    if "\r" in text or "\n" in text:
        return "line breaks are not allowed in an e-mail address"
    if len(text) > 2048:
        return "longer than 2048 characters"
    import email_validator  # only jobs with e-mail addresses pay for the import

    try:
        email_validator.validate_email(bare_email(text), check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        return str(exc)
    return None


def normal_email(text: str) -> str:
    """An accepted e-mail address as GPULab stores it (domain lower-cased, IDNA and Unicode normalised)."""
    import email_validator  # as in email_problem: only jobs with e-mail addresses pay for it

    try:
        return str(email_validator.validate_email(bare_email(text), check_deliverability=False).normalized)
    except email_validator.EmailNotValidError:
        return text


