"""Parsing of times and durations: datetimes, ISO 8601 strings and "48h"-style forms.

All times priomem returns are timezone-aware UTC. Naive datetimes given by callers
are taken to be UTC (documented, so importing history never shifts by the local zone).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from priomem._errors import InvalidInputError, WrongTypeError

__all__ = ["EPOCH", "parse_duration", "parse_time", "to_utc", "utcnow"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Latest time priomem accepts (keeps ids and JSON sane); far beyond any real use.
MAX_TIME = datetime(9999, 1, 1, tzinfo=UTC)

_UNITS = {
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 604800,
    "week": 604800,
    "weeks": 604800,
    "y": 31536000,
    "year": 31536000,
    "years": 31536000,
}
_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*(?:ago)?\s*$", re.IGNORECASE)
_HINT_TIME = 'an ISO 8601 time ("2026-05-01T12:00:00Z"), or a relative form such as "48h", "7d", "2w"'
_HINT_DURATION = 'a duration such as "30m", "48h", "7d", "2w", a timedelta, or seconds as a number'


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def to_utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive datetime is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_duration(value: Any, *, field: str = "ttl") -> timedelta:
    """A positive duration from a timedelta, seconds, or a form like ``"48h"``."""
    seconds: float
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, bool):
        raise WrongTypeError(f"{field}: expected {_HINT_DURATION}, got a bool.", field=field)
    elif isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        match = _RELATIVE.match(value)
        if not match or match.group(2).lower() not in _UNITS:
            raise InvalidInputError(
                f"{field}: {value[:40]!r} is not a duration; use {_HINT_DURATION}.", field=field
            )
        seconds = float(match.group(1)) * _UNITS[match.group(2).lower()]
    else:
        raise WrongTypeError(f"{field}: expected {_HINT_DURATION}, got {type(value).__name__}.", field=field)
    if not math.isfinite(seconds) or seconds <= 0:
        raise InvalidInputError(f"{field}: must be a positive duration, got {value!r}.", field=field)
    if seconds > (MAX_TIME - EPOCH).total_seconds():
        raise InvalidInputError(f"{field}: {value!r} is too long; use at most a few centuries.", field=field)
    return timedelta(seconds=seconds)


def parse_time(value: Any, *, field: str, now: datetime | None = None) -> datetime:
    """A UTC datetime from a datetime, a date, an ISO string or a relative form.

    Relative forms (``"48h"``, ``"7d ago"``) count back from ``now``; ``"now"`` is now.
    """
    if isinstance(value, datetime):
        result = to_utc(value)
    elif isinstance(value, date):
        result = datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise InvalidInputError(f"{field}: empty; use {_HINT_TIME}.", field=field)
        current = now or utcnow()
        if text.lower() == "now":
            return current
        match = _RELATIVE.match(text)
        if match and match.group(2).lower() in _UNITS:
            return current - parse_duration(text.removesuffix("ago").strip(), field=field)
        iso = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
        try:
            result = to_utc(datetime.fromisoformat(iso))
        except ValueError:
            raise InvalidInputError(
                f"{field}: {text[:40]!r} is not a time; use {_HINT_TIME}.", field=field
            ) from None
    else:
        raise WrongTypeError(
            f"{field}: expected {_HINT_TIME} or a datetime, got {type(value).__name__}.",
            field=field,
        )
    if not EPOCH <= result < MAX_TIME:
        raise InvalidInputError(
            f"{field}: {result.isoformat()} is out of range; use a time between 1970 and 9999.",
            field=field,
        )
    return result
