"""Recall/list/forget filters: one validated object, checked in Python or sent to Chroma."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from priomem._errors import InvalidInputError
from priomem._priority import Priority
from priomem._records import (
    Key,
    all_of,
    at_least,
    at_most,
    below,
    contains,
    dataset_where,
    epoch,
    expired_where,
    is_live,
    live_where,
)

__all__ = ["Filter"]


@dataclass(frozen=True, slots=True)
class Filter:
    """Which memories a call is about. ``tags``: a memory must carry all of them;
    ``lineage``: it must read or write every one of these datasets.

    Times bound ``created_at`` (when the remembered thing happened): ``since`` inclusive,
    ``until`` inclusive, ``before`` exclusive.
    """

    tags: tuple[str, ...] = ()
    min_priority: Priority | None = None
    max_priority: Priority | None = None
    since: datetime | None = None
    until: datetime | None = None
    before: datetime | None = None
    lineage: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.min_priority and self.max_priority and self.min_priority > self.max_priority:
            raise InvalidInputError(
                f"min_priority ({self.min_priority.name}) is above max_priority ({self.max_priority.name}); "
                "nothing could match. Swap them.",
                field="min_priority",
            )
        if self.since and self.until and self.since > self.until:
            raise InvalidInputError(
                f"since ({self.since.isoformat()}) is after until ({self.until.isoformat()}); nothing could "
                "match. Swap them.",
                field="since",
            )

    @property
    def empty(self) -> bool:
        return not (
            self.tags
            or self.lineage
            or self.min_priority
            or self.max_priority
            or self.since
            or self.until
            or self.before
        )

    @property
    def ranged(self) -> bool:
        """Whether the filter bounds priority or time (range clauses in :meth:`where`)."""
        return bool(self.min_priority or self.max_priority or self.since or self.until or self.before)

    def exact_where(self) -> dict[str, Any] | None:
        """Only the filter's membership clauses (tags, datasets), or None: what embedded
        Chroma answers at the cost of their matches, where a range clause costs in
        proportion to the whole store. :meth:`matches` checks the rest."""
        return all_of([contains(Key.TAGS, t) for t in self.tags] + [dataset_where(n) for n in self.lineage])

    def where(
        self, *, live_at: float | None = None, expired_at: float | None = None
    ) -> dict[str, Any] | None:
        """The Chroma ``where`` clause for this filter (and liveness), or None for none."""
        clauses: list[dict[str, Any]] = [contains(Key.TAGS, t) for t in self.tags]
        clauses += [dataset_where(name) for name in self.lineage]
        if self.min_priority:
            clauses.append(at_least(Key.PRIORITY, int(self.min_priority)))
        if self.max_priority:
            clauses.append(at_most(Key.PRIORITY, int(self.max_priority)))
        if self.since:
            clauses.append(at_least(Key.CREATED, epoch(self.since)))
        if self.until:
            clauses.append(at_most(Key.CREATED, epoch(self.until)))
        if self.before:
            clauses.append(below(Key.CREATED, epoch(self.before)))
        if live_at is not None:
            clauses.append(live_where(live_at))
        if expired_at is not None:
            clauses.append(expired_where(expired_at))
        return all_of(clauses)

    def matches(self, meta: dict[str, Any], now_epoch: float) -> bool:
        """Whether a stored record's metadata passes the filter and is live at ``now_epoch``."""
        if not is_live(meta, now_epoch):
            return False
        if self.tags:
            have = meta.get(Key.TAGS) or ()
            if any(t not in have for t in self.tags):
                return False
        if self.lineage:
            named = meta.get(Key.DATA) or ()
            if any(name not in named for name in self.lineage):
                return False
        priority = int(meta.get(Key.PRIORITY, 2))
        if self.min_priority and priority < self.min_priority:
            return False
        if self.max_priority and priority > self.max_priority:
            return False
        created = float(meta.get(Key.CREATED, 0.0))
        if self.since and created < epoch(self.since):
            return False
        if self.until and created > epoch(self.until):
            return False
        return not (self.before and created >= epoch(self.before))
