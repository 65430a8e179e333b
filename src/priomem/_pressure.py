"""Quotas and retention in force, and making room: the I/O side of :mod:`priomem._quota`.

Quotas and retention overrides live in the store (Chroma's ``priomem-meta`` collection), so
every process sharing a store applies the same rules. A process trusts its copy for
``POLICY_TTL`` seconds, so another process's change takes effect within that delay.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from priomem import _audit
from priomem._access import AccessRecorder
from priomem._models import Memory
from priomem._priority import Priority
from priomem._quota import Candidate, Incoming, Quota, plan_eviction
from priomem._records import NEVER, decode
from priomem._retention import RetentionPolicy
from priomem._settings import Settings
from priomem._store import ChromaStore

__all__ = ["POLICY_TTL", "Policy", "Pressure"]

log = logging.getLogger("priomem")

#: Seconds a process trusts its copy of quotas and retention overrides.
POLICY_TTL = 2.0

Deleter = Callable[..., None]


@dataclass(frozen=True, slots=True)
class Policy:
    """The rules in force in one namespace."""

    retention: RetentionPolicy
    quota: Quota
    store_quota: Quota


class Pressure:
    """Reads the rules of each namespace and plans and carries out evictions."""

    def __init__(
        self, store: ChromaStore, settings: Settings, access: AccessRecorder, delete: Deleter
    ) -> None:
        self._store = store
        self._settings = settings
        self._access = access
        self._delete = delete
        self._base_retention = RetentionPolicy(settings.retention, settings.classification_retention)
        self._cache: dict[str, tuple[float, Policy]] = {}

    def invalidate(self) -> None:
        """Forget cached rules (after this process changed them)."""
        self._cache.clear()

    def policy(self, namespace: str) -> Policy:
        """The namespace's retention and quotas, cached for a moment to keep writes cheap."""
        now = time.monotonic()
        cached = self._cache.get(namespace)
        if cached is not None and cached[0] > now:
            return cached[1]
        rows = self._store.meta_get([f"quota:{namespace}", "quota:*", f"retention:{namespace}"])
        s = self._settings
        quota = Quota(s.max_memories, s.max_bytes, s.critical_reserve)
        if (row := rows.get(f"quota:{namespace}")) is not None:
            quota = Quota(**json.loads(row.document))
        store_quota = Quota(s.max_memories_total, s.max_bytes_total, s.critical_reserve)
        if (row := rows.get("quota:*")) is not None:
            store_quota = Quota(**json.loads(row.document))
        retention = self._base_retention
        if (row := rows.get(f"retention:{namespace}")) is not None:
            retention = retention.with_overrides(json.loads(row.document))
        policy = Policy(retention=retention, quota=quota, store_quota=store_quota)
        self._cache[namespace] = (now + POLICY_TTL, policy)
        return policy

    def _candidates(self, namespace: str, now_e: float) -> list[Candidate]:
        out = []
        for row in self._store.get(namespace, documents=False):
            meta: Mapping[str, Any] = row.metadata
            if float(meta.get("pm_expires", NEVER)) <= now_e:
                continue
            accessed = float(meta.get("pm_accessed", 0.0) or 0.0)
            out.append(
                Candidate(
                    id=row.id,
                    namespace=namespace,
                    priority=Priority(int(meta.get("pm_priority", 2))),
                    lineage=bool(meta.get("pm_lineage", False)),
                    last_used=accessed or float(meta.get("pm_stored", 0.0)),
                    access_count=int(meta.get("pm_access", 0)),
                    size=int(meta.get("pm_bytes", 0)),
                )
            )
        return out

    def plan_room(
        self, namespace: str, new: Sequence[Memory], policy: Policy, now_e: float
    ) -> list[Candidate]:
        """Victims that make room for ``new`` under the namespace and store quotas (may raise)."""
        incoming = [Incoming(m.priority, len(m.content.encode("utf-8"))) for m in new]
        victims: list[Candidate] = []
        quota = policy.quota
        if quota.limited:
            cap = quota.noncritical_memories()
            roomy = (
                quota.max_bytes is None and cap is not None and self._store.count(namespace) + len(new) <= cap
            )
            if not roomy:
                expired = self._store.ids(namespace, where={"pm_expires": {"$lte": now_e}})
                self._delete(namespace, expired, action="sweep", selector={"rule": "expired, to make room"})
                victims = plan_eviction(
                    self._candidates(namespace, now_e), incoming, quota, scope=f"namespace {namespace!r}"
                )
        if policy.store_quota.limited:
            chosen = {v.id for v in victims}
            everything = [
                c
                for ns in self._store.namespaces()
                for c in self._candidates(ns, now_e)
                if c.id not in chosen
            ]
            victims += plan_eviction(everything, incoming, policy.store_quota, scope="the store")
        return victims

    def evict(self, victims: Sequence[Candidate], reason_namespace: str) -> list[Memory]:
        """Delete ``victims``, log and audit it; returns the evicted memories."""
        by_ns: dict[str, list[str]] = {}
        for victim in victims:
            by_ns.setdefault(victim.namespace, []).append(victim.id)
        gone: list[Memory] = []
        for ns, ids in by_ns.items():
            gone += [decode(r.id, r.document, r.metadata, ns) for r in self._store.get(ns, ids=ids)]
            self._store.delete(ns, ids)
            self._access.forget(ns, ids)
            _audit.append(self._store, "evict", ns, {"to_make_room_in": reason_namespace}, ids)
            log.warning(
                "evicted %d memories from %r to make room in %r (lowest priority first): %s",
                len(ids),
                ns,
                reason_namespace,
                ", ".join(ids[:20]) + (" ..." if len(ids) > 20 else ""),
            )
        return gone
