"""Per-namespace statistics: counts by priority, ages, size, expiry and quota use."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from priomem._priority import Priority
from priomem._quota import Quota
from priomem._records import decode, epoch
from priomem._store import ChromaStore
from priomem._timeparse import utcnow

__all__ = ["EXPIRING_SOON", "namespace_stats"]

EXPIRING_SOON = timedelta(days=7)


def namespace_stats(store: ChromaStore, ns: str, quota: Quota) -> dict[str, Any]:
    """The statistics of one namespace (live memories only, plus expired-not-swept)."""
    now_e = epoch(utcnow())
    live = {"pm_expires": {"$gt": now_e}}
    rows = store.get(ns, where=live, documents=True, metadatas=False)
    by_priority = {
        p.name: len(store.ids(ns, where={"$and": [{"pm_priority": int(p)}, live]})) for p in Priority
    }
    expired = len(store.ids(ns, where={"pm_expires": {"$lte": now_e}}))
    soon = now_e + EXPIRING_SOON.total_seconds()
    expiring = len(store.ids(ns, where={"$and": [live, {"pm_expires": {"$lte": soon}}]}))
    # Ids are ULIDs ordered by created_at: the first and last are the oldest and newest.
    ids = sorted(r.id for r in rows)
    oldest = newest = None
    if ids:
        ends = store.get(ns, ids=[ids[0], ids[-1]])
        created = sorted(decode(r.id, r.document, r.metadata, ns).created_at for r in ends)
        oldest, newest = created[0].isoformat(), created[-1].isoformat()
    return {
        "namespace": ns,
        "count": len(rows),
        "by_priority": by_priority,
        "oldest": oldest,
        "newest": newest,
        "bytes": sum(len(r.document.encode("utf-8")) for r in rows),
        "expired": expired,
        "expiring_within_7d": expiring,
        "quota": quota.to_dict(),
        "quota_used": None if quota.max_memories is None else round(len(rows) / quota.max_memories, 4),
    }
