"""The memory list's filters: parsed from a query string, turned into engine arguments and links."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from priomem import InvalidInputError, Priority

__all__ = [
    "MAX_SEARCH_K",
    "PAGE_SIZE",
    "PRIORITY_CHOICES",
    "SEARCH_K",
    "TIME_CHOICES",
    "Filters",
]

PAGE_SIZE = 25
#: How many results a search asks ``recall`` for at first; "more results" adds as many again.
SEARCH_K = 20
MAX_SEARCH_K = 200

#: (value in the URL, label, min priority, max priority)
PRIORITY_CHOICES: tuple[tuple[str, str, Priority | None, Priority | None], ...] = (
    ("", "Any priority", None, None),
    ("critical", "Critical", Priority.CRITICAL, Priority.CRITICAL),
    ("high", "High", Priority.HIGH, Priority.HIGH),
    ("medium", "Medium", Priority.MEDIUM, Priority.MEDIUM),
    ("low", "Low", Priority.LOW, Priority.LOW),
    ("high-or-above", "High or above", Priority.HIGH, None),
    ("medium-or-above", "Medium or above", Priority.MEDIUM, None),
)
_PRIORITY = {value: (low, high) for value, _, low, high in PRIORITY_CHOICES}

#: (``since`` value, label); any other ``since`` the engine understands works too.
TIME_CHOICES: tuple[tuple[str, str], ...] = (
    ("", "Any time"),
    ("1h", "Last hour"),
    ("24h", "Last 24 hours"),
    ("48h", "Last 48 hours"),
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("365d", "Last year"),
)


def _text(params: Mapping[str, str], name: str, limit: int = 500) -> str:
    value = params.get(name, "").strip()
    if len(value) > limit:
        raise InvalidInputError(f"{name}: at most {limit} characters.", field=name)
    return value


def _int(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name, "").strip()
    try:
        value = int(raw) if raw else default
    except ValueError:
        return default
    return min(max(value, low), high)


@dataclass(frozen=True)
class Filters:
    """What the list shows: a text search (``q``) or a listing, narrowed by priority,
    tags and time; ``page`` (listing) or ``k`` (search) say how much."""

    q: str = ""
    priority: str = ""
    tags: tuple[str, ...] = ()
    since: str = ""
    until: str = ""
    page: int = 1
    k: int = SEARCH_K

    @classmethod
    def parse(cls, params: Mapping[str, str], *, max_k: int = MAX_SEARCH_K) -> Filters:
        """Read the filters of a query string; raises InvalidInputError for an unknown priority."""
        priority = params.get("priority", "").strip().lower()
        if priority not in _PRIORITY:
            choices = ", ".join(v for v in _PRIORITY if v)
            raise InvalidInputError(f"priority: {priority!r} is not one of {choices}.", field="priority")
        tags = tuple(t for t in (p.strip() for p in _text(params, "tags").split(",")) if t)
        return cls(
            q=_text(params, "q", 2000),
            priority=priority,
            tags=tags,
            since=_text(params, "since", 64),
            until=_text(params, "until", 64),
            page=_int(params, "page", 1, 1, 1_000_000),
            k=_int(params, "k", SEARCH_K, 1, max(1, min(max_k, MAX_SEARCH_K))),
        )

    @property
    def searching(self) -> bool:
        """True when the list is a text search through ``recall``."""
        return bool(self.q)

    @property
    def min_priority(self) -> Priority | None:
        """The lowest priority shown (None: any)."""
        return _PRIORITY[self.priority][0]

    @property
    def max_priority(self) -> Priority | None:
        """The highest priority shown (None: any)."""
        return _PRIORITY[self.priority][1]

    @property
    def active(self) -> bool:
        """True when anything narrows the list."""
        return bool(self.q or self.priority or self.tags or self.since or self.until)

    def list_kwargs(self) -> dict[str, Any]:
        """Arguments of ``engine.list`` (without namespace, limit and offset)."""
        return {
            "tags": list(self.tags) or None,
            "min_priority": self.min_priority,
            "max_priority": self.max_priority,
            "since": self.since or None,
            "until": self.until or None,
        }

    def recall_kwargs(self) -> dict[str, Any]:
        """Arguments of ``engine.recall`` (without namespace); ``max_priority`` is applied after."""
        return {
            "k": self.k,
            "tags": list(self.tags) or None,
            "min_priority": self.min_priority,
            "since": self.since or None,
            "until": self.until or None,
        }

    def query(self, **changes: Any) -> dict[str, str]:
        """The query string of these filters (with ``changes``), omitting defaults."""
        f = replace(self, **changes)
        out = {
            "q": f.q,
            "priority": f.priority,
            "tags": ",".join(f.tags),
            "since": f.since,
            "until": f.until,
        }
        if f.q and f.k != SEARCH_K:
            out["k"] = str(f.k)
        if not f.q and f.page != 1:
            out["page"] = str(f.page)
        return {k: v for k, v in out.items() if v}

    def search_key(self, namespace: str) -> tuple[Any, ...]:
        """Identifies a search's results (for the memory page's score panel)."""
        return (namespace, self.q, self.priority, self.tags, self.since, self.until, self.k)
