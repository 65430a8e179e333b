"""Tenant analytics: per-namespace and store-wide counts, sizes, quota use, distributions.

One read of the namespace's metadata (no documents, no range filters, whose cost in
embedded Chroma grows with the whole store) and the rest in Python:

- counts by priority, oldest and newest ``created_at``, content bytes;
- expired-not-swept and expiring within 7 days;
- the quota, whether it is a guarantee, and its utilisation: of memories, of bytes, and
  of the shares the CRITICAL and compliance reserves leave to the others;
- distribution by data classification (``metadata["classification"]``) and processing
  stage (``metadata["stage"]``: raw, staging, curated, ...), ``"none"`` for neither;
- lineage: memories that record it, datasets read and written, the most named datasets;
- compliance records (classified, tagged ``compliance`` or with dataset lineage).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from priomem._pressure import meta_compliance
from priomem._priority import Priority
from priomem._quota import Quota
from priomem._records import USER_PREFIX, Key, epoch, expires_epoch, from_epoch, is_live
from priomem._retention import CLASSIFICATION_KEY
from priomem._store import ChromaStore
from priomem._timeparse import utcnow

__all__ = ["EXPIRING_SOON", "STAGE_KEY", "namespace_stats", "store_stats"]

EXPIRING_SOON = timedelta(days=7)
#: The metadata key naming a memory's processing stage.
STAGE_KEY = "stage"
#: How many of the most named datasets the lineage figures list.
TOP_DATASETS = 10
_NONE = "none"


def _share(used: int, limit: int | None) -> float | None:
    return None if not limit else round(used / limit, 4)


def _fullest(count: int, size: int, quota: Quota) -> float | None:
    """The fullest of the quota's limited dimensions (1.0: the next write evicts or is refused)."""
    shares = [u for u in (_share(count, quota.max_memories), _share(size, quota.max_bytes)) if u is not None]
    return max(shares, default=None)


def namespace_stats(store: ChromaStore, ns: str, quota: Quota, *, guaranteed: bool = False) -> dict[str, Any]:
    """The statistics of one namespace: live memories, plus the expired not yet swept."""
    now_e = epoch(utcnow())
    soon = now_e + EXPIRING_SOON.total_seconds()
    by_priority = dict.fromkeys((p.name for p in Priority), 0)
    by_class: Counter[str] = Counter()
    by_stage: Counter[str] = Counter()
    datasets: Counter[str] = Counter()
    count = size = expired = expiring = compliance = critical = critical_bytes = ordinary = ordinary_bytes = 0
    with_lineage = reads = writes = 0
    oldest = newest = None
    for row in store.get(ns, documents=False):
        meta = row.metadata
        expires = expires_epoch(meta)
        if not is_live(meta, now_e):
            expired += 1
            continue
        count += 1
        expiring += expires <= soon
        nbytes = int(meta.get(Key.BYTES, 0))
        size += nbytes
        priority = Priority(int(meta.get(Key.PRIORITY, 2)))
        by_priority[priority.name] += 1
        if priority is Priority.CRITICAL:
            critical += 1
            critical_bytes += nbytes
        created = float(meta.get(Key.CREATED, 0.0))
        oldest = created if oldest is None else min(oldest, created)
        newest = created if newest is None else max(newest, created)
        classification = meta.get(USER_PREFIX + CLASSIFICATION_KEY)
        by_class[str(classification).lower() if classification is not None else _NONE] += 1
        stage = meta.get(USER_PREFIX + STAGE_KEY)
        by_stage[str(stage).lower() if stage is not None else _NONE] += 1
        with_lineage += bool(meta.get(Key.LINEAGE, False))
        compliant = meta_compliance(meta)
        compliance += compliant
        if not compliant and priority is not Priority.CRITICAL:
            ordinary += 1
            ordinary_bytes += nbytes
        read, wrote = meta.get(Key.READS) or (), meta.get(Key.WRITES) or ()
        reads += bool(read)
        writes += bool(wrote)
        datasets.update(dict.fromkeys([*read, *wrote], 1))
    others, other_bytes = count - critical, size - critical_bytes
    return {
        "namespace": ns,
        "count": count,
        "by_priority": by_priority,
        "oldest": None if oldest is None else from_epoch(oldest).isoformat(),
        "newest": None if newest is None else from_epoch(newest).isoformat(),
        "bytes": size,
        "expired": expired,
        "expiring_within_7d": expiring,
        "quota": quota.to_dict(),
        "guaranteed": guaranteed,
        "quota_used": _fullest(count, size, quota),
        "utilisation": {
            "memories": _share(count, quota.max_memories),
            "bytes": _share(size, quota.max_bytes),
            # What the non-CRITICAL memories use of the share the CRITICAL reserve leaves them.
            "noncritical_memories": _share(others, quota.noncritical_memories()),
            "noncritical_bytes": _share(other_bytes, quota.noncritical_bytes()),
            # What the other memories use of the share both reserves leave them.
            "ordinary_memories": _share(ordinary, quota.ordinary_memories()),
            "ordinary_bytes": _share(ordinary_bytes, quota.ordinary_bytes()),
        },
        "by_classification": dict(sorted(by_class.items())),
        "by_stage": dict(sorted(by_stage.items())),
        "compliance_records": compliance,
        "lineage": {
            "memories": with_lineage,
            "reading": reads,
            "writing": writes,
            "datasets": len(datasets),
            "top_datasets": [{"name": n, "memories": c} for n, c in datasets.most_common(TOP_DATASETS)],
        },
    }


def _add(counters: Iterable[Mapping[str, int]]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for counter in counters:
        total.update(counter)
    return dict(sorted(total.items()))


def store_stats(
    per: Mapping[str, Mapping[str, Any]], store_quota: Quota, guarantees: Mapping[str, Quota]
) -> dict[str, Any]:
    """Store-wide figures from every namespace's (``per``), against the store quota and
    the namespaces' guarantees (also those of namespaces that hold nothing yet)."""
    values = list(per.values())
    count = sum(s["count"] for s in values)
    size = sum(s["bytes"] for s in values)
    limited = store_quota.limited
    guaranteed = {
        "memories": sum(q.max_memories or 0 for q in guarantees.values()) if limited else 0,
        "bytes": sum(q.max_bytes or 0 for q in guarantees.values()) if limited else 0,
    }
    return {
        "namespaces": dict(per),
        "count": count,
        "by_priority": {p.name: sum(s["by_priority"][p.name] for s in values) for p in Priority},
        "bytes": size,
        "expired": sum(s["expired"] for s in values),
        "expiring_within_7d": sum(s["expiring_within_7d"] for s in values),
        "quota": store_quota.to_dict(),
        "quota_used": _fullest(count, size, store_quota),
        "guaranteed": guaranteed,
        "unallocated": {
            "memories": None
            if store_quota.max_memories is None
            else store_quota.max_memories - guaranteed["memories"],
            "bytes": None if store_quota.max_bytes is None else store_quota.max_bytes - guaranteed["bytes"],
        },
        "by_classification": _add(s["by_classification"] for s in values),
        "by_stage": _add(s["by_stage"] for s in values),
        "compliance_records": sum(s["compliance_records"] for s in values),
        "lineage": {
            "memories": sum(s["lineage"]["memories"] for s in values),
            "reading": sum(s["lineage"]["reading"] for s in values),
            "writing": sum(s["lineage"]["writing"] for s in values),
        },
    }
