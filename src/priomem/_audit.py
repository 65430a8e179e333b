"""The audit log: a persistent record of every deletion priomem makes on its own or on request.

Records live in the store itself (Chroma's ``priomem-meta`` collection), so they survive
restarts and are shared by every process on a server. They say when, what action, which
selector and how many, and the ids; never any content. A data subject's name is recorded
only as a SHA-256 digest, so the log does not re-identify whom it erased.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from priomem._records import from_epoch, new_id
from priomem._store import ChromaStore
from priomem._timeparse import utcnow

__all__ = ["AuditRecord", "append", "read", "subject_digest"]

KIND = "audit"
MAX_IDS = 1000
#: Largest audit record, in bytes (Chroma Cloud's limit on a document): at most about 500
#: ULIDs are listed; ``count`` always has the total.
MAX_DOCUMENT = 16384


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One audited action: ``forget``, ``evict``, ``sweep``, ``consolidate`` or ``erase``."""

    id: str
    at: datetime
    action: str
    namespace: str
    selector: Mapping[str, Any]
    count: int
    ids: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "action": self.action,
            "namespace": self.namespace,
            "selector": dict(self.selector),
            "count": self.count,
            "ids": list(self.ids),
        }


def subject_digest(subject: str) -> str:
    return "sha256:" + hashlib.sha256(subject.encode("utf-8")).hexdigest()


def append(
    store: ChromaStore, action: str, namespace: str, selector: Mapping[str, Any], ids: Sequence[str]
) -> AuditRecord:
    """Write one record and return it."""
    now = utcnow()
    record = AuditRecord(
        id="audit:" + new_id(now),
        at=now,
        action=action,
        namespace=namespace,
        selector=dict(selector),
        count=len(ids),
        ids=tuple(ids[:MAX_IDS]),
    )
    body = record.to_dict()
    body["ids"] = _fitting(body, list(record.ids))
    body["ids_truncated"] = len(body["ids"]) < len(ids)
    record = replace(record, ids=tuple(body["ids"]))
    store.meta_put(
        record.id,
        json.dumps(body, sort_keys=True),
        {"kind": KIND, "action": action, "namespace": namespace, "at": now.timestamp()},
    )
    return record


def _fitting(body: Mapping[str, Any], ids: list[str]) -> list[str]:
    """The first ``ids`` that keep the record's JSON within :data:`MAX_DOCUMENT` bytes."""
    room = MAX_DOCUMENT - len(json.dumps({**body, "ids": [], "ids_truncated": True}, sort_keys=True).encode())
    kept = []
    for record_id in ids:
        room -= len(json.dumps(record_id).encode()) + 2  # the id, a comma and a space
        if room < 0:
            break
        kept.append(record_id)
    return kept


def read(
    store: ChromaStore, *, namespace: str | None = None, action: str | None = None, limit: int = 100
) -> list[AuditRecord]:
    """Records, newest first."""
    records = []
    for row in store.meta_find(KIND):
        if namespace is not None and row.metadata.get("namespace") != namespace:
            continue
        if action is not None and row.metadata.get("action") != action:
            continue
        body = json.loads(row.document)
        records.append(
            AuditRecord(
                id=row.id,
                at=from_epoch(float(row.metadata["at"])),
                action=body["action"],
                namespace=body["namespace"],
                selector=body["selector"],
                count=int(body["count"]),
                ids=tuple(body["ids"]),
            )
        )
    records.sort(key=lambda r: r.id, reverse=True)
    return records[:limit]
