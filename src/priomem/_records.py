"""Translation between :class:`Memory` and Chroma records (document + flat metadata), and ids.

Layout of a record's metadata (all flat, as Chroma requires):

| key | meaning |
|---|---|
| ``pm_v`` | schema version |
| ``pm_priority`` | 1..4 |
| ``pm_tags`` | list of tags (absent when none: Chroma lists must be non-empty) |
| ``pm_terms`` / ``pm_len`` | distinct lexical terms, keyed by namespace (``_lexical.term_key``) / token count, for hybrid recall |
| ``pm_created`` / ``pm_stored`` / ``pm_accessed`` | epoch seconds (``pm_accessed`` 0: never) |
| ``pm_access`` | access count |
| ``pm_expires`` | epoch seconds, or ``NEVER`` |
| ``pm_refs`` / ``pm_from`` | related ids / ids this memory was consolidated from |
| ``pm_reads`` / ``pm_writes`` | datasets the memory read / wrote (its lineage) |
| ``pm_data`` | both together, for filtering by dataset |
| ``pm_lineage`` | true when the memory has datasets, refs or a ``lineage`` metadata field |
| ``pm_hash`` | hash of the whitespace-collapsed content, for dedup |
| ``pm_bytes`` | UTF-8 size of the content, for byte quotas |
| ``pm_renewed`` | epoch seconds of its last reinforcement: its lifetime counts from then (absent: from ``pm_stored``) |
| ``pm_ttl`` | the memory's own ttl in seconds (0: none; the priority's retention applies) |
| ``pm_thread`` | the conversation the memory is a turn of (absent: none) |
| ``pm_tslot`` | its thread and creation hour, keyed by namespace: where ``_context`` finds the turns before it |
| ``pm_prev`` / ``pm_prev2`` | ids of the turns of its thread just before it (conversational context, see ``_context``) |
| ``m.<key>`` | the caller's metadata |

The document is the content itself, so Chroma's own tools show readable records.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from priomem._lexical import keyed, term_key, terms_of
from priomem._models import SCHEMA_VERSION, Memory
from priomem._priority import Priority

__all__ = [
    "NEVER",
    "RENEWED_KEY",
    "decode",
    "encode",
    "epoch",
    "expired_where",
    "expires_epoch",
    "from_epoch",
    "id_time",
    "is_live",
    "lifetime_start",
    "live_where",
    "new_id",
    "thread_slot",
]

#: ``pm_expires`` of a memory that never expires (Chroma metadata cannot hold None).
NEVER = 253402300799.0  # 9999-12-31T23:59:59Z
USER_PREFIX = "m."
RENEWED_KEY = "pm_renewed"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def epoch(value: datetime) -> float:
    return value.timestamp()


def from_epoch(value: float) -> datetime:
    return datetime.fromtimestamp(value, tz=UTC)


def new_id(created_at: datetime | None = None) -> str:
    """A 26-character ULID: 48 bits of milliseconds since 1970, 80 random bits.

    Ids sort by the time they carry, which lets ``list`` page newest-first without
    reading every record's metadata.
    """
    millis = int((created_at.timestamp() if created_at else time.time()) * 1000)
    value = (max(millis, 0) & ((1 << 48) - 1)) << 80 | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def id_time(record_id: str) -> datetime | None:
    """The creation time a priomem id (a ULID) carries, plus a second; None for other ids.

    A memory's id is made from its ``created_at`` (to the millisecond), so this bounds its
    age from below (its recency from above) without reading its metadata.
    """
    if len(record_id) != 26:
        return None
    millis = 0
    for ch in record_id[:10]:
        digit = _CROCKFORD.find(ch)
        if digit < 0:
            return None
        millis = millis * 32 + digit
    return datetime.fromtimestamp(millis / 1000 + 1.0, tz=UTC)


def thread_slot(namespace: str, thread: str, created_epoch: float) -> str:
    """The ``pm_tslot`` value of a turn of ``thread`` created at ``created_epoch``.

    One exact-match look-up of a thread's last two slots finds the turns of the hour
    before a new one, at a cost that grows with those turns only (a range filter on
    ``pm_created`` would cost in proportion to the whole store in embedded Chroma).
    """
    return f"{term_key(namespace)}{int(created_epoch // 3600)}:{thread}"


def encode(memory: Memory) -> tuple[str, dict[str, Any]]:
    """The document and metadata that store ``memory``."""
    terms, length = terms_of(memory.content)
    meta: dict[str, Any] = {
        "pm_v": SCHEMA_VERSION,
        "pm_priority": int(memory.priority),
        "pm_len": length,
        "pm_created": epoch(memory.created_at),
        "pm_stored": epoch(memory.stored_at),
        "pm_accessed": epoch(memory.last_accessed_at) if memory.last_accessed_at else 0.0,
        "pm_access": memory.access_count,
        "pm_expires": epoch(memory.expires_at) if memory.expires_at else NEVER,
        "pm_lineage": memory.has_lineage,
        "pm_hash": memory.content_hash,
        "pm_bytes": len(memory.content.encode("utf-8")),
        "pm_ttl": memory.ttl.total_seconds() if memory.ttl else 0.0,
    }
    if terms:
        meta["pm_terms"] = keyed(term_key(memory.namespace), terms)
    if memory.thread is not None:
        meta["pm_thread"] = memory.thread
        meta["pm_tslot"] = thread_slot(memory.namespace, memory.thread, epoch(memory.created_at))
    if memory.tags:
        meta["pm_tags"] = list(memory.tags)
    if memory.refs:
        meta["pm_refs"] = list(memory.refs)
    if memory.consolidated_from:
        meta["pm_from"] = list(memory.consolidated_from)
    if memory.reads:
        meta["pm_reads"] = list(memory.reads)
    if memory.writes:
        meta["pm_writes"] = list(memory.writes)
    if memory.reads or memory.writes:
        meta["pm_data"] = list(dict.fromkeys(memory.reads + memory.writes))
    for key, value in memory.metadata.items():
        meta[USER_PREFIX + key] = value
    return memory.content, meta


def decode(record_id: str, document: str, meta: dict[str, Any], namespace: str) -> Memory:
    """The :class:`Memory` a stored record holds."""
    accessed = float(meta.get("pm_accessed", 0.0) or 0.0)
    expires = float(meta.get("pm_expires", NEVER))
    return Memory(
        id=record_id,
        content=document,
        priority=Priority(int(meta.get("pm_priority", 2))),
        namespace=namespace,
        tags=tuple(meta.get("pm_tags") or ()),
        metadata={k[len(USER_PREFIX) :]: v for k, v in meta.items() if k.startswith(USER_PREFIX)},
        created_at=from_epoch(float(meta.get("pm_created", 0.0))),
        stored_at=from_epoch(float(meta.get("pm_stored", 0.0))),
        last_accessed_at=from_epoch(accessed) if accessed > 0 else None,
        access_count=int(meta.get("pm_access", 0)),
        expires_at=None if expires >= NEVER else from_epoch(expires),
        refs=tuple(meta.get("pm_refs") or ()),
        consolidated_from=tuple(meta.get("pm_from") or ()),
        content_hash=str(meta.get("pm_hash", "")),
        ttl=timedelta(seconds=float(meta["pm_ttl"])) if float(meta.get("pm_ttl", 0) or 0) > 0 else None,
        schema_version=int(meta.get("pm_v", SCHEMA_VERSION)),
        thread=str(meta["pm_thread"]) if meta.get("pm_thread") else None,
        reads=tuple(meta.get("pm_reads") or ()),
        writes=tuple(meta.get("pm_writes") or ()),
    )


def lifetime_start(meta: dict[str, Any]) -> datetime:
    """When a stored memory's lifetime started: its storage, or its last reinforcement."""
    return from_epoch(max(float(meta.get("pm_stored", 0.0)), float(meta.get(RENEWED_KEY, 0.0) or 0.0)))


# -- liveness: the one rule ------------------------------------------------------------
# A memory is live until its ``pm_expires``; a record without one never expires (as
# :func:`decode` reads it: ``expires_at`` None). Every record priomem writes has the key
# (``NEVER`` when it never expires), so the where clauses below, which Chroma cannot make
# match a missing key, select the same records as :func:`is_live` does.


def expires_epoch(meta: Mapping[str, Any]) -> float:
    """When a stored memory expires, in epoch seconds (``NEVER`` when it does not)."""
    return float(meta.get("pm_expires", NEVER))


def is_live(meta: Mapping[str, Any], now_epoch: float) -> bool:
    """Whether a stored memory is live at ``now_epoch``: the liveness rule everywhere."""
    return expires_epoch(meta) > now_epoch


def live_where(now_epoch: float) -> dict[str, Any]:
    """A Chroma where clause: memories live at ``now_epoch`` (see :func:`is_live`)."""
    return {"pm_expires": {"$gt": now_epoch}}


def expired_where(now_epoch: float) -> dict[str, Any]:
    """A Chroma where clause: memories expired at ``now_epoch``."""
    return {"pm_expires": {"$lte": now_epoch}}
