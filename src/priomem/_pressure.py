"""Quotas and retention in force, and making room: the I/O side of :mod:`priomem._quota`.

Quotas and retention overrides live in the store (Chroma's ``priomem-meta`` collection), so
every process sharing a store applies the same rules. A process trusts its copy for
``POLICY_TTL`` seconds, so another process's change takes effect within that delay.

**Guarantees.** A quota set on a namespace (``set_quota``) is also its guarantee under the
store-wide quota: the guarantees together may not exceed the store quota
(:meth:`Pressure.check_guarantees` refuses it), and a write in one namespace never evicts
from a namespace with a guarantee (that namespace's own quota keeps it within it).
Namespaces without one share the rest, the *unallocated* share, and may borrow the
guaranteed space not in use, with memories that can be evicted again: when a namespace
with a guarantee needs its space back, borrowed memories are evicted (lowest priority
first, whatever their priority) to make room. CRITICAL memories are never evicted, so
they may not borrow: the CRITICAL memories of namespaces without a guarantee must fit the
unallocated share. The quota ``Settings`` gives every namespace (``max_memories``) is a
cap, not a guarantee: namespaces appear on their first write, and a guarantee for each
would over-commit the store as they do.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from priomem._errors import InvalidInputError, QuotaExceededError
from priomem._models import Memory
from priomem._priority import Priority
from priomem._quota import Candidate, Incoming, Plan, Quota, plan_room
from priomem._records import USER_PREFIX, Key, decode, is_live
from priomem._retention import CLASSIFICATION_KEY, RetentionPolicy
from priomem._settings import Settings

if TYPE_CHECKING:
    from priomem._core import EngineCore
    from priomem._store import Row

__all__ = ["POLICY_TTL", "Policy", "Pressure"]

log = logging.getLogger("priomem")

#: Seconds a process trusts its copy of quotas and retention overrides.
POLICY_TTL = 2.0


@dataclass(frozen=True, slots=True)
class Policy:
    """The rules in force in one namespace."""

    retention: RetentionPolicy
    quota: Quota
    store_quota: Quota
    #: The namespaces with a quota of their own (their guarantee), when the store has one.
    guarantees: Mapping[str, Quota]


#: The tag that makes a memory a compliance record (beside a classification or lineage).
COMPLIANCE_TAG = "compliance"


def meta_compliance(meta: Mapping[str, Any]) -> bool:
    """Whether a stored record is a compliance record: it has a data classification, the
    ``compliance`` tag, or dataset lineage (``reads`` / ``writes``, or a ``lineage`` field)."""
    return (
        USER_PREFIX + CLASSIFICATION_KEY in meta
        or USER_PREFIX + "lineage" in meta
        or COMPLIANCE_TAG in (meta.get(Key.TAGS) or ())
        or bool(meta.get(Key.READS) or meta.get(Key.WRITES))
    )


def is_compliance(memory: Memory) -> bool:
    """:func:`meta_compliance` of a memory about to be written."""
    meta = {USER_PREFIX + k: v for k, v in memory.metadata.items() if k in (CLASSIFICATION_KEY, "lineage")}
    return meta_compliance(
        {**meta, Key.TAGS: memory.tags, Key.READS: memory.reads, Key.WRITES: memory.writes}
    )


def _quota_of(document: str) -> Quota:
    return Quota(**json.loads(document))


class Pressure:
    """Reads the rules of each namespace and plans and carries out evictions."""

    def __init__(self, core: EngineCore) -> None:
        # The core's store and its one deletion (Chroma, access counts, audit record).
        self._core = core
        self._store = core.store
        self._delete = core.delete
        self._cache: dict[str, tuple[float, Policy]] = {}

    @property
    def settings(self) -> Settings:
        """The engine's settings, as they are now."""
        return self._core.settings

    def invalidate(self) -> None:
        """Forget cached rules (after this process changed them)."""
        self._cache.clear()

    def prefetch(self, namespaces: Sequence[str]) -> None:
        """Read the quotas and retention rules of many namespaces in a few reads (a
        large write across namespaces), so that ``policy`` finds them cached."""
        now = time.monotonic()
        wanted = [ns for ns in dict.fromkeys(namespaces) if (c := self._cache.get(ns)) is None or c[0] <= now]
        for start in range(0, len(wanted), 100):
            chunk = wanted[start : start + 100]
            ids = ["quota:*", *(f"{kind}:{ns}" for ns in chunk for kind in ("quota", "retention"))]
            rows = self._store.meta_get(ids)
            for ns in chunk:
                self._cache[ns] = (now + POLICY_TTL, self._policy(ns, rows))

    def policy(self, namespace: str) -> Policy:
        """The namespace's retention and quotas, cached for a moment to keep writes cheap."""
        now = time.monotonic()
        cached = self._cache.get(namespace)
        if cached is not None and cached[0] > now:
            return cached[1]
        rows = self._store.meta_get([f"quota:{namespace}", "quota:*", f"retention:{namespace}"])
        policy = self._policy(namespace, rows)
        self._cache[namespace] = (now + POLICY_TTL, policy)
        return policy

    def _policy(self, namespace: str, rows: Mapping[str, Row]) -> Policy:
        s = self.settings
        quota = Quota(s.max_memories, s.max_bytes, s.critical_reserve, s.compliance_reserve)
        if (row := rows.get(f"quota:{namespace}")) is not None:
            quota = _quota_of(row.document)
        store_quota = self.default_store_quota()
        if (row := rows.get("quota:*")) is not None:
            store_quota = _quota_of(row.document)
        retention = RetentionPolicy(s.retention, s.classification_retention)
        if (row := rows.get(f"retention:{namespace}")) is not None:
            retention = retention.with_overrides(json.loads(row.document))
        guarantees = self.guarantees() if store_quota.limited else {}
        return Policy(retention=retention, quota=quota, store_quota=store_quota, guarantees=guarantees)

    def default_store_quota(self) -> Quota:
        s = self.settings
        return Quota(s.max_memories_total, s.max_bytes_total, s.critical_reserve, s.compliance_reserve)

    def guarantees(self) -> dict[str, Quota]:
        """Every namespace's own quota that limits something, by namespace."""
        out = {}
        for row in self._store.meta_find("quota"):
            name = row.id.removeprefix("quota:")
            if name != "*" and (quota := _quota_of(row.document)).limited:
                out[name] = quota
        return out

    def set_quota(self, namespace: str | None, quota: Quota) -> None:
        """Store a namespace's quota (None: the store's), refused when the guarantees
        would no longer fit the store quota."""
        guarantees = self.guarantees()
        if namespace is None:
            self.check_guarantees(quota, guarantees)
        else:
            guarantees.pop(namespace, None)
            if quota.limited:
                guarantees[namespace] = quota
            rows = self._store.meta_get(["quota:*"])
            store_quota = (
                _quota_of(rows["quota:*"].document) if "quota:*" in rows else self.default_store_quota()
            )
            self.check_guarantees(store_quota, guarantees)
        key = "quota:*" if namespace is None else f"quota:{namespace}"
        self._store.meta_put(key, json.dumps(quota.to_dict()), {"kind": "quota"})
        self.invalidate()

    def check_guarantees(self, store_quota: Quota, guarantees: Mapping[str, Quota]) -> None:
        """Refuse guarantees that together exceed the store quota (or leave its limit open)."""
        if not store_quota.limited:
            return
        for name, limit, unit in (
            ("max_memories", store_quota.max_memories, "memories"),
            ("max_bytes", store_quota.max_bytes, "bytes"),
        ):
            if limit is None:
                continue
            open_ended = sorted(ns for ns, q in guarantees.items() if getattr(q, name) is None)
            if open_ended:
                raise InvalidInputError(
                    f"{name}: the store quota limits {unit} to {limit:,}, but the quota of "
                    f"{', '.join(map(repr, open_ended[:5]))} does not, so it cannot be guaranteed; give "
                    f"it a {name} too (or none of its own).",
                    field=name,
                )
            total = sum(getattr(q, name) for q in guarantees.values())
            if total > limit:
                parts = ", ".join(f"{ns!r} {getattr(q, name):,}" for ns, q in sorted(guarantees.items())[:8])
                raise InvalidInputError(
                    f"{name}: the namespaces' quotas would guarantee {total:,} {unit} ({parts}), more than "
                    f"the store quota of {limit:,}. Lower a namespace's quota or raise the store's "
                    "(set_quota('*', ...)). Nothing was changed.",
                    field=name,
                )

    def _candidates(self, namespace: str, now_e: float) -> list[Candidate]:
        return self._read(namespace, now_e)[0]

    def _read(self, namespace: str, now_e: float) -> tuple[list[Candidate], list[str]]:
        """One read of the namespace's metadata: its live memories as candidates, and the
        ids of those expired (a range filter on pm_expires costs in proportion to the whole
        embedded store)."""
        out = []
        expired = []
        for row in self._store.get(namespace, documents=False):
            meta: Mapping[str, Any] = row.metadata
            if not is_live(meta, now_e):
                expired.append(row.id)
                continue
            accessed = float(meta.get(Key.ACCESSED, 0.0) or 0.0)
            out.append(
                Candidate(
                    id=row.id,
                    namespace=namespace,
                    priority=Priority(int(meta.get(Key.PRIORITY, 2))),
                    lineage=bool(meta.get(Key.LINEAGE, False)),
                    last_used=accessed or float(meta.get(Key.STORED, 0.0)),
                    access_count=int(meta.get(Key.ACCESS, 0)),
                    size=int(meta.get(Key.BYTES, 0)),
                    compliance=meta_compliance(meta),
                )
            )
        return out, expired

    def plan_room(
        self, namespace: str, new: Sequence[Memory], policy: Policy, now_e: float
    ) -> list[Candidate]:
        """Victims that make room for ``new`` under the namespace and store quotas (may raise)."""
        return self.plan(namespace, new, policy, now_e, partial=False).victims

    def plan(
        self, namespace: str, new: Sequence[Memory], policy: Policy, now_e: float, *, partial: bool
    ) -> Plan:
        """Victims that make room for ``new`` (memories not stored yet); with ``partial``,
        the memories (indexes into ``new``) that cannot be stored are listed as refused
        instead of raising, and nothing is evicted for them."""
        incoming = [Incoming(m.priority, len(m.content.encode("utf-8")), is_compliance(m)) for m in new]
        own: list[Candidate] | None = None
        quota = policy.quota
        if quota.limited:
            cap = quota.ordinary_memories()
            roomy = (
                quota.max_bytes is None and cap is not None and self._store.count(namespace) + len(new) <= cap
            )
            if not roomy:
                own, expired = self._read(namespace, now_e)
                self._delete(namespace, expired, action="sweep", selector={"rule": "expired, to make room"})
        everything = None
        if policy.store_quota.limited:  # every namespace read once (this one maybe just above)
            everything = [
                c
                for ns in self._store.namespaces()
                for c in (own if ns == namespace and own is not None else self._candidates(ns, now_e))
            ]
        active = list(range(len(new)))
        while True:
            victims, refused = self._plan_once(
                namespace, [incoming[i] for i in active], own, everything, policy, partial
            )
            if not refused:
                return Plan(victims, sorted(set(range(len(new))) - set(active)))
            # Plan again without the refused ones: nothing is evicted for a memory not stored.
            active = [index for n, index in enumerate(active) if n not in refused]

    def _plan_once(
        self,
        namespace: str,
        incoming: Sequence[Incoming],
        own: Sequence[Candidate] | None,
        everything: Sequence[Candidate] | None,
        policy: Policy,
        partial: bool,
    ) -> tuple[list[Candidate], set[int]]:
        victims: list[Candidate] = []
        refused: set[int] = set()
        if own is not None:
            step = plan_room(own, incoming, policy.quota, scope=f"namespace {namespace!r}", partial=partial)
            victims, refused = step.victims, set(step.refused)
        if everything is None:
            return victims, refused
        chosen = {(v.namespace, v.id) for v in victims}
        others = [c for c in everything if (c.namespace, c.id) not in chosen]
        guaranteed = policy.guarantees
        mine = namespace in guaranteed
        store_quota = policy.store_quota
        if mine:
            # The namespace's own quota keeps its reserves within its guarantee; the store's
            # reserves are for what no guarantee covers.
            store_quota = Quota(store_quota.max_memories, store_quota.max_bytes, 0.0, 0.0)
        else:
            left = [i for i in range(len(incoming)) if i not in refused]
            refused |= self.unallocated_refusals(others, incoming, left, policy, partial)
        left = [i for i in range(len(incoming)) if i not in refused]
        step = plan_room(
            others,
            [incoming[i] for i in left],
            store_quota,
            scope="the store",
            # Within its guarantee, a namespace takes back what others borrowed of it first.
            evictable=lambda c: (mine and c.namespace == namespace) or c.namespace not in guaranteed,
            reclaim=(lambda c: c.namespace != namespace and c.namespace not in guaranteed) if mine else None,
            partial=partial,
        )
        victims += step.victims
        refused |= {left[i] for i in step.refused}
        return victims, refused

    def check_promotion(self, namespace: str, promoted: Sequence[Memory], now_e: float) -> None:
        """Refuse raising memories of a namespace without a guarantee to CRITICAL when they
        would not fit the store's unallocated share (raises :class:`QuotaExceededError`)."""
        policy = self.policy(namespace)
        promoted = [m for m in promoted if m.priority is Priority.CRITICAL]
        if not promoted or not policy.store_quota.limited or namespace in policy.guarantees:
            return
        ids = {m.id for m in promoted}
        others = [
            c
            for ns in self._store.namespaces()
            for c in self._candidates(ns, now_e)
            if not (ns == namespace and c.id in ids)
        ]
        incoming = [Incoming(m.priority, len(m.content.encode("utf-8")), is_compliance(m)) for m in promoted]
        self.unallocated_refusals(others, incoming, range(len(incoming)), policy, False)

    def unallocated_refusals(
        self,
        everything: Sequence[Candidate],
        incoming: Sequence[Incoming],
        indexes: Sequence[int],
        policy: Policy,
        partial: bool,
    ) -> set[int]:
        """CRITICAL memories of a namespace without a guarantee that do not fit the
        unallocated share of the store (they may not borrow: they can never be evicted)."""
        critical = [i for i in indexes if incoming[i].priority is Priority.CRITICAL]
        if not critical or not policy.guarantees:
            return set()
        store_quota, guaranteed = policy.store_quota, policy.guarantees
        free = {}
        for name in ("max_memories", "max_bytes"):
            limit = getattr(store_quota, name)
            free[name] = (
                None if limit is None else limit - sum(getattr(q, name) or 0 for q in guaranteed.values())
            )
        held = [c for c in everything if c.priority is Priority.CRITICAL and c.namespace not in guaranteed]
        scope = "the store's unallocated share (what no namespace's quota guarantees)"
        if any(v is not None and v < 1 for v in free.values()):
            if not partial:
                raise QuotaExceededError(
                    f"{scope} is empty: the namespaces' quotas guarantee the whole store, so a namespace "
                    "without a quota of its own cannot keep CRITICAL memories. Give this namespace a quota "
                    "(set_quota) or lower the others'. Nothing was written."
                )
            return set(critical)
        share = Quota(free["max_memories"], free["max_bytes"], 0.0, 0.0)
        step = plan_room(held, [incoming[i] for i in critical], share, scope=scope, partial=partial)
        return {critical[i] for i in step.refused}

    def evict(self, victims: Sequence[Candidate], reason_namespace: str) -> list[Memory]:
        """Delete ``victims``, log and audit it; returns the evicted memories."""
        by_ns: dict[str, list[str]] = {}
        for victim in victims:
            by_ns.setdefault(victim.namespace, []).append(victim.id)
        gone: list[Memory] = []
        for ns, ids in by_ns.items():
            gone += [decode(r.id, r.document, r.metadata, ns) for r in self._store.get(ns, ids=ids)]
            self._delete(ns, ids, action="evict", selector={"to_make_room_in": reason_namespace})
            log.warning(
                "evicted %d memories from %r to make room in %r (lowest priority first): %s",
                len(ids),
                ns,
                reason_namespace,
                ", ".join(ids[:20]) + (" ..." if len(ids) > 20 else ""),
            )
        return gone
