"""The four priority levels and how they are parsed."""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from priomem._errors import InvalidPriorityError

__all__ = ["Priority", "PriorityLike"]


class Priority(IntEnum):
    """How much a memory matters; it weighs in ranking, retention and eviction.

    - ``LOW`` (1): debug notes, temporary metrics. Expires after 30 days by default and
      is the first to go under memory pressure.
    - ``MEDIUM`` (2): history, trends, summaries. The default.
    - ``HIGH`` (3): current state, allocations, quality metrics.
    - ``CRITICAL`` (4): SLA commitments, compliance records, data lineage. Never evicted
      under memory pressure.

    Every API that takes a priority accepts a ``Priority``, its name in any case
    (``"high"``) or its number (``3``)::

        >>> Priority.parse("high") is Priority.HIGH
        True
    """

    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, value: Any, *, field: str = "priority") -> Priority:
        """Return the ``Priority`` named by ``value`` (a Priority, a name, or 1..4)."""
        if isinstance(value, Priority):
            return value
        if isinstance(value, bool):
            pass  # bool is an int subclass; True is not a priority
        elif isinstance(value, int):
            try:
                return cls(value)
            except ValueError:
                pass
        elif isinstance(value, str):
            name = value.strip().upper()
            if name in cls.__members__:
                return cls[name]
            if name.isdigit():
                return cls.parse(int(name), field=field)
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        raise InvalidPriorityError(
            f"{field}: {shown} is not a priority; use one of low, medium, high, critical (any case) or 1-4.",
            field=field,
        )


PriorityLike = Priority | str | int
