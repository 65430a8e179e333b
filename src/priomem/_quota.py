"""Quotas and the eviction rule. Pure: the engine gathers candidates and applies the plan.

The rule, in order:

1. CRITICAL memories are never evicted.
2. A share of each quota (``critical_reserve``, default 15%) is kept for CRITICAL memories,
   and beside it a share (``compliance_reserve``, default 5%) for compliance records:
   memories with a data classification, a ``compliance`` tag or lineage. CRITICAL may use
   the whole quota; compliance records of lower priority all but the CRITICAL reserve;
   every other memory all but both reserves.
3. A write never evicts a memory of higher priority than its own, and never one another
   caller protects (the store-wide quota protects namespaces with a guarantee: see
   :mod:`priomem._pressure`).
4. Among the memories a write may evict, the lowest priority goes first; within a
   priority, memories without lineage (``refs`` or a ``lineage`` metadata field) before
   those with it; then the least recently used (last recall, or storage when never
   recalled); then the least accessed.
5. When no allowed eviction makes room, the write is refused (:class:`QuotaExceededError`)
   and nothing is written or evicted.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from priomem._errors import InvalidInputError, QuotaExceededError
from priomem._priority import Priority
from priomem._scoring import eviction_key

__all__ = ["Candidate", "Incoming", "Plan", "Quota", "plan_eviction", "plan_room"]


@dataclass(frozen=True, slots=True)
class Quota:
    """Capacity of a namespace (or of the whole store). None means unlimited."""

    max_memories: int | None = None
    max_bytes: int | None = None
    critical_reserve: float = 0.15
    compliance_reserve: float = 0.05

    def __post_init__(self) -> None:
        for name in ("max_memories", "max_bytes"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise InvalidInputError(
                    f"{name}: must be a whole number >= 1 or None, got {value!r}.", field=name
                )
        for name, example in (("critical_reserve", "0.15 = 15%"), ("compliance_reserve", "0.05 = 5%")):
            reserve = getattr(self, name)
            if isinstance(reserve, bool) or not isinstance(reserve, int | float) or not 0.0 <= reserve <= 1.0:
                raise InvalidInputError(
                    f"{name}: must be a share between 0 and 1 ({example}), got {reserve!r}.", field=name
                )
        if self.critical_reserve + self.compliance_reserve > 1.0:
            raise InvalidInputError(
                f"critical_reserve + compliance_reserve: {self.critical_reserve} + {self.compliance_reserve} "
                "is more than the whole quota; lower one of them.",
                field="compliance_reserve",
            )

    @property
    def limited(self) -> bool:
        return self.max_memories is not None or self.max_bytes is not None

    def noncritical_memories(self) -> int | None:
        """How many non-CRITICAL memories fit (the quota less the CRITICAL reserve)."""
        return _share(self.max_memories, 1 - self.critical_reserve)

    def noncritical_bytes(self) -> int | None:
        return _share(self.max_bytes, 1 - self.critical_reserve)

    def ordinary_memories(self) -> int | None:
        """How many memories that are neither CRITICAL nor compliance records fit."""
        return _share(self.max_memories, 1 - self.critical_reserve - self.compliance_reserve)

    def ordinary_bytes(self) -> int | None:
        return _share(self.max_bytes, 1 - self.critical_reserve - self.compliance_reserve)

    def to_dict(self) -> dict[str, int | float | None]:
        return {
            "max_memories": self.max_memories,
            "max_bytes": self.max_bytes,
            "critical_reserve": self.critical_reserve,
            "compliance_reserve": self.compliance_reserve,
        }


def _share(limit: int | None, share: float) -> int | None:
    # Rounded to 9 places first, so 10 * (1 - 0.15 - 0.05) is 8, not 7.999999999.
    return None if limit is None else math.floor(round(limit * share, 9))


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
    compliance: bool = False


@dataclass(frozen=True, slots=True)
class Incoming:
    """A memory about to be written."""

    priority: Priority
    size: int
    compliance: bool = False


#: A memory's share of the quota: 0 CRITICAL, 1 compliance record, 2 every other memory.
def _tier(priority: Priority, compliance: bool) -> int:
    return 0 if priority is Priority.CRITICAL else 1 if compliance else 2


class _Held:
    """Memories and bytes held, in total and by tier (see :func:`_tier`)."""

    def __init__(self, items: Sequence[Candidate]) -> None:
        self.count = [0, 0, 0]
        self.size = [0, 0, 0]
        for c in items:
            self.add(_tier(c.priority, c.compliance), c.size, 1)

    def add(self, tier: int, size: int, sign: int) -> None:
        self.count[tier] += sign
        self.size[tier] += sign * size

    def short(self, quota: Quota, tier: int, size: int) -> tuple[int, ...]:
        """The tiers to evict from for one more memory of ``tier`` and ``size`` bytes to
        fit ``quota``; empty when it fits."""
        checks: list[tuple[int | None, int | None, tuple[int, ...]]] = [
            (quota.max_memories, quota.max_bytes, (0, 1, 2))
        ]
        if tier >= 1:  # compliance records and ordinary memories: not the CRITICAL reserve
            checks.append((quota.noncritical_memories(), quota.noncritical_bytes(), (1, 2)))
        if tier == 2:  # ordinary memories: not the compliance reserve either
            checks.append((quota.ordinary_memories(), quota.ordinary_bytes(), (2,)))
        for cap_n, cap_b, tiers in checks:
            if cap_n is not None and sum(self.count[t] for t in tiers) + 1 > cap_n:
                return tiers
            if cap_b is not None and sum(self.size[t] for t in tiers) + size > cap_b:
                return tiers
        return ()


@dataclass(frozen=True, slots=True)
class Plan:
    """What to evict, and which incoming memories (by index) cannot be stored at all."""

    victims: list[Candidate]
    refused: list[int]


def plan_eviction(
    existing: Sequence[Candidate],
    incoming: Sequence[Incoming],
    quota: Quota,
    *,
    scope: str,
    evictable: Callable[[Candidate], bool] | None = None,
) -> list[Candidate]:
    """The memories to evict so that ``incoming`` fits ``quota``; raises when none may go.

    ``evictable``: which existing memories this write may evict (default: any of lower or
    equal priority that is not CRITICAL); the others count against the quota all the same.
    """
    plan = plan_room(existing, incoming, quota, scope=scope, evictable=evictable, partial=False)
    return plan.victims


def plan_room(
    existing: Sequence[Candidate],
    incoming: Sequence[Incoming],
    quota: Quota,
    *,
    scope: str,
    evictable: Callable[[Candidate], bool] | None = None,
    reclaim: Callable[[Candidate], bool] | None = None,
    partial: bool = False,
) -> Plan:
    """Like :func:`plan_eviction`; with ``partial``, a memory that cannot fit is listed in
    :attr:`Plan.refused` (the others are still planned for) instead of refusing them all.

    ``reclaim``: evictable memories this write may evict whatever their priority (space a
    namespace borrowed from another's guarantee, taken back); they go before the others,
    lowest priority first.
    """
    if not quota.limited or not incoming:
        return Plan([], [])
    held = _Held(existing)
    pool = sorted(
        (c for c in existing if c.priority is not Priority.CRITICAL and (evictable is None or evictable(c))),
        key=lambda c: (
            0 if reclaim is not None and reclaim(c) else 1,
            *eviction_key(c.priority, c.lineage, c.last_used, c.access_count),
            c.id,
        ),
    )
    victims: list[Candidate] = []
    refused: list[int] = []
    order = sorted(range(len(incoming)), key=lambda i: -int(incoming[i].priority))
    for index in order:
        item = incoming[index]
        tier = _tier(item.priority, item.compliance)
        try:
            chosen = _room_for(held, pool, quota, item, tier, scope, reclaim)
        except QuotaExceededError:
            if not partial:
                raise
            refused.append(index)
            continue
        for victim in [pool[i] for i in chosen]:
            held.add(_tier(victim.priority, victim.compliance), victim.size, -1)
            victims.append(victim)
        for i in reversed(chosen):
            del pool[i]
        held.add(tier, item.size, 1)
    return Plan(victims, sorted(refused))


def _room_for(
    held: _Held,
    pool: Sequence[Candidate],
    quota: Quota,
    item: Incoming,
    tier: int,
    scope: str,
    reclaim: Callable[[Candidate], bool] | None,
) -> list[int]:
    """Indexes into ``pool`` of the memories to evict so that ``item`` fits: first in pool
    order among those whose eviction helps (``held`` is not changed)."""
    cap_b = [quota.max_bytes, quota.noncritical_bytes(), quota.ordinary_bytes()][tier]
    if cap_b is not None and item.size > cap_b:
        share = ["the whole quota", "less the CRITICAL reserve", "less the CRITICAL and compliance reserves"]
        raise QuotaExceededError(
            f"{scope}: a memory of {item.size:,} bytes can never fit the quota of {quota.max_bytes:,} bytes "
            f"({share[tier]}); raise the quota or split the text."
        )
    trial = _Held([])
    trial.count, trial.size = list(held.count), list(held.size)
    taken: set[int] = set()
    while tiers := trial.short(quota, tier, item.size):
        pick = next(
            (
                i
                for i, c in enumerate(pool)
                if i not in taken
                and (c.priority <= item.priority or (reclaim is not None and reclaim(c)))
                and _tier(c.priority, c.compliance) in tiers
            ),
            None,
        )
        if pick is None:
            total = sum(trial.count)
            what = f"{total} memories" if quota.max_memories is not None else f"{sum(trial.size):,} bytes"
            raise QuotaExceededError(
                f"{scope} is full ({what}; quota {quota.to_dict()}) and nothing of priority "
                f"{item.priority.name} or lower may be evicted to make room. Forget memories, raise the quota "
                "with set_quota, or write with a higher priority. Nothing was written."
            )
        taken.add(pick)
        victim = pool[pick]
        trial.add(_tier(victim.priority, victim.compliance), victim.size, -1)
    return sorted(taken)
