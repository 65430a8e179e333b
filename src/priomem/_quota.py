"""Quotas and the eviction rule. Pure: the engine gathers candidates and applies the plan.

The rule, in order:

1. CRITICAL memories are never evicted.
2. A share of each quota (``critical_reserve``, default 15%) is kept for CRITICAL memories:
   other priorities together may fill at most the rest; CRITICAL may use the whole quota.
3. A write never evicts a memory of higher priority than its own.
4. Among the memories a write may evict, the lowest priority goes first; within a
   priority, memories without lineage (``refs`` or a ``lineage`` metadata field) before
   those with it; then the least recently used (last recall, or storage when never
   recalled); then the least accessed.
5. When no allowed eviction makes room, the write is refused (:class:`QuotaExceededError`)
   and nothing is written or evicted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from priomem._errors import InvalidInputError, QuotaExceededError
from priomem._priority import Priority
from priomem._scoring import eviction_key

__all__ = ["Candidate", "Incoming", "Quota", "plan_eviction"]


@dataclass(frozen=True, slots=True)
class Quota:
    """Capacity of a namespace (or of the whole store). None means unlimited."""

    max_memories: int | None = None
    max_bytes: int | None = None
    critical_reserve: float = 0.15

    def __post_init__(self) -> None:
        for name in ("max_memories", "max_bytes"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise InvalidInputError(
                    f"{name}: must be a whole number >= 1 or None, got {value!r}.", field=name
                )
        reserve = self.critical_reserve
        if isinstance(reserve, bool) or not isinstance(reserve, int | float) or not 0.0 <= reserve <= 1.0:
            raise InvalidInputError(
                f"critical_reserve: must be a share between 0 and 1 (0.15 = 15%), got {reserve!r}.",
                field="critical_reserve",
            )

    @property
    def limited(self) -> bool:
        return self.max_memories is not None or self.max_bytes is not None

    def noncritical_memories(self) -> int | None:
        """How many non-CRITICAL memories fit (the quota less the CRITICAL reserve)."""
        return (
            None if self.max_memories is None else math.floor(self.max_memories * (1 - self.critical_reserve))
        )

    def noncritical_bytes(self) -> int | None:
        return None if self.max_bytes is None else math.floor(self.max_bytes * (1 - self.critical_reserve))

    def to_dict(self) -> dict[str, int | float | None]:
        return {
            "max_memories": self.max_memories,
            "max_bytes": self.max_bytes,
            "critical_reserve": self.critical_reserve,
        }


@dataclass(frozen=True, slots=True)
class Candidate:
    """A stored memory as eviction sees it."""

    id: str
    namespace: str
    priority: Priority
    lineage: bool
    last_used: float
    access_count: int
    size: int


@dataclass(frozen=True, slots=True)
class Incoming:
    """A memory about to be written."""

    priority: Priority
    size: int


def _fits(
    quota: Quota, critical: bool, size: int, total: int, total_bytes: int, noncrit: int, noncrit_bytes: int
) -> bool:
    """Whether one more memory of ``size`` bytes fits, given what is held now."""
    if quota.max_memories is not None and total + 1 > quota.max_memories:
        return False
    if quota.max_bytes is not None and total_bytes + size > quota.max_bytes:
        return False
    if critical:
        return True
    cap_n, cap_b = quota.noncritical_memories(), quota.noncritical_bytes()
    if cap_n is not None and noncrit + 1 > cap_n:
        return False
    return cap_b is None or noncrit_bytes + size <= cap_b


def plan_eviction(
    existing: Sequence[Candidate], incoming: Sequence[Incoming], quota: Quota, *, scope: str
) -> list[Candidate]:
    """The memories to evict so that ``incoming`` fits ``quota``; raises when none may go."""
    if not quota.limited or not incoming:
        return []
    total = len(existing)
    total_bytes = sum(c.size for c in existing)
    noncrit = sum(1 for c in existing if c.priority is not Priority.CRITICAL)
    noncrit_bytes = sum(c.size for c in existing if c.priority is not Priority.CRITICAL)
    pool = sorted(
        (c for c in existing if c.priority is not Priority.CRITICAL),
        key=lambda c: (*eviction_key(c.priority, c.lineage, c.last_used, c.access_count), c.id),
    )
    victims: list[Candidate] = []
    cap_b = quota.noncritical_bytes()
    for item in sorted(incoming, key=lambda i: -int(i.priority)):
        critical = item.priority is Priority.CRITICAL

        if quota.max_bytes is not None and item.size > (quota.max_bytes if critical else (cap_b or 0)):
            raise QuotaExceededError(
                f"{scope}: a memory of {item.size:,} bytes can never fit the quota of {quota.max_bytes:,} bytes "
                f"({'the whole quota' if critical else 'less the CRITICAL reserve'}); raise the quota or split the text."
            )
        while not _fits(quota, critical, item.size, total, total_bytes, noncrit, noncrit_bytes):
            if not pool or pool[0].priority > item.priority:
                held = f"{total} memories" if quota.max_memories is not None else f"{total_bytes:,} bytes"
                raise QuotaExceededError(
                    f"{scope} is full ({held}; quota {quota.to_dict()}) and nothing of priority "
                    f"{item.priority.name} or lower may be evicted to make room. Forget memories, raise the quota "
                    "with set_quota, or write with a higher priority. Nothing was written."
                )
            victim = pool.pop(0)
            victims.append(victim)
            total -= 1
            total_bytes -= victim.size
            noncrit -= 1
            noncrit_bytes -= victim.size
        total += 1
        total_bytes += item.size
        if not critical:
            noncrit += 1
            noncrit_bytes += item.size
    return victims
