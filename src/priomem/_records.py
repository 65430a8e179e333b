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
| ``pm_text`` | the content |
| ``pm_ns`` / ``pm_id`` | in a shared collection (``_layout``): the namespace / an id too long to prefix |
| ``pm_spill`` | what did not fit in the record is in spill records (``_spill``): their token and count |
| ``m.<key>`` | the caller's metadata |

The content is in ``pm_text`` (see ``priomem._store``: Chroma gets no document, so its
full-text index keeps no copy of a forgotten text).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from priomem._lexical import keyed, term_key, terms_of
from priomem._models import SCHEMA_VERSION, Memory
from priomem._priority import Priority

__all__ = [
    "MAX_VALUE_BYTES",
    "NEVER",
    "RENEWED_KEY",
    "Key",
    "all_of",
    "at_least",
    "at_most",
    "below",
    "contains",
    "dataset_where",
    "decode",
    "encode",
    "epoch",
    "equals",
    "expired_where",
    "expires_epoch",
    "fitted_terms",
    "from_epoch",
    "id_time",
    "is_live",
    "lifetime_start",
    "live_where",
    "matches_where",
    "narrow_where",
    "new_id",
    "one_of",
    "predicates",
    "split_where",
    "thread_slot",
    "value_size",
]


class Key:
    """The metadata keys priomem writes, in one place (the table of the module docstring).

    Record keys first, then the keys of a namespace's collection metadata. Other modules
    use these names, never the strings.
    """

    V = "pm_v"
    PRIORITY = "pm_priority"
    TAGS = "pm_tags"
    TERMS = "pm_terms"
    LEN = "pm_len"
    CREATED = "pm_created"
    STORED = "pm_stored"
    ACCESSED = "pm_accessed"
    ACCESS = "pm_access"
    EXPIRES = "pm_expires"
    REFS = "pm_refs"
    FROM = "pm_from"
    READS = "pm_reads"
    WRITES = "pm_writes"
    DATA = "pm_data"
    LINEAGE = "pm_lineage"
    HASH = "pm_hash"
    BYTES = "pm_bytes"
    RENEWED = "pm_renewed"
    TTL = "pm_ttl"
    THREAD = "pm_thread"
    TSLOT = "pm_tslot"
    PREV = "pm_prev"
    PREV2 = "pm_prev2"
    TEXT = "pm_text"
    #: in a shared collection: the record's namespace, and its id when too long for a prefix
    NS = "pm_ns"
    ID = "pm_id"
    SPILL = "pm_spill"
    # a namespace's collection
    NAMESPACE = "pm_namespace"
    MODEL = "pm_model"
    DIM = "pm_dim"
    SCHEMA = "pm_schema"
    LAYOUT = "pm_layout"
    THREADS = "pm_threads"
    REBUILD_OF = "pm_rebuild_of"
    REBUILD_WHOLE = "pm_rebuild_whole"
    #: an own collection still being filled by a move (see ``_layout``); a shared one
    FILLING = "pm_filling"
    SHARED = "pm_shared"
    #: the spill collection's (``_spill``): its metadata may not be empty
    KIND = "pm_kind"


#: ``pm_expires`` of a memory that never expires (Chroma metadata cannot hold None).
NEVER = 253402300799.0  # 9999-12-31T23:59:59Z
USER_PREFIX = "m."
RENEWED_KEY = Key.RENEWED
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
        Key.V: SCHEMA_VERSION,
        Key.PRIORITY: int(memory.priority),
        Key.LEN: length,
        Key.CREATED: epoch(memory.created_at),
        Key.STORED: epoch(memory.stored_at),
        Key.ACCESSED: epoch(memory.last_accessed_at) if memory.last_accessed_at else 0.0,
        Key.ACCESS: memory.access_count,
        Key.EXPIRES: epoch(memory.expires_at) if memory.expires_at else NEVER,
        Key.LINEAGE: memory.has_lineage,
        Key.HASH: memory.content_hash,
        Key.BYTES: len(memory.content.encode("utf-8")),
        Key.TTL: memory.ttl.total_seconds() if memory.ttl else 0.0,
    }
    if terms:
        meta[Key.TERMS] = fitted_terms(keyed(term_key(memory.namespace), terms))
    if memory.thread is not None:
        meta[Key.THREAD] = memory.thread
        meta[Key.TSLOT] = thread_slot(memory.namespace, memory.thread, epoch(memory.created_at))
    if memory.tags:
        meta[Key.TAGS] = list(memory.tags)
    if memory.refs:
        meta[Key.REFS] = list(memory.refs)
    if memory.consolidated_from:
        meta[Key.FROM] = list(memory.consolidated_from)
    if memory.reads:
        meta[Key.READS] = list(memory.reads)
    if memory.writes:
        meta[Key.WRITES] = list(memory.writes)
    if memory.reads or memory.writes:
        meta[Key.DATA] = list(dict.fromkeys(memory.reads + memory.writes))
    for key, value in memory.metadata.items():
        meta[USER_PREFIX + key] = value
    return memory.content, meta


#: Most bytes of a metadata value (Chroma Cloud's limit; a list counts as its JSON).
MAX_VALUE_BYTES = 4096


def value_size(value: Any) -> int:
    """A metadata value's size in bytes as counted here: a string's UTF-8, a list's JSON."""
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    if isinstance(value, list):
        return len(json.dumps(value, ensure_ascii=False).encode("utf-8"))
    return len(str(value))


def fitted_terms(keyed_terms: list[str]) -> list[str]:
    """Stored terms within ``MAX_VALUE_BYTES`` (the longest kept, as ``terms_of`` keeps)."""
    if value_size(keyed_terms) <= MAX_VALUE_BYTES:
        return keyed_terms
    kept, used = [], 0
    for term in sorted(keyed_terms, key=lambda t: (-len(t), t)):
        cost = value_size(term) + 4  # its quotes and ", "
        if used + cost <= MAX_VALUE_BYTES:
            kept.append(term)
            used += cost
    return sorted(kept)


def decode(record_id: str, document: str, meta: dict[str, Any], namespace: str) -> Memory:
    """The :class:`Memory` a stored record holds."""
    accessed = float(meta.get(Key.ACCESSED, 0.0) or 0.0)
    expires = float(meta.get(Key.EXPIRES, NEVER))
    return Memory(
        id=record_id,
        content=document,
        priority=Priority(int(meta.get(Key.PRIORITY, 2))),
        namespace=namespace,
        tags=tuple(meta.get(Key.TAGS) or ()),
        metadata={k[len(USER_PREFIX) :]: v for k, v in meta.items() if k.startswith(USER_PREFIX)},
        created_at=from_epoch(float(meta.get(Key.CREATED, 0.0))),
        stored_at=from_epoch(float(meta.get(Key.STORED, 0.0))),
        last_accessed_at=from_epoch(accessed) if accessed > 0 else None,
        access_count=int(meta.get(Key.ACCESS, 0)),
        expires_at=None if expires >= NEVER else from_epoch(expires),
        refs=tuple(meta.get(Key.REFS) or ()),
        consolidated_from=tuple(meta.get(Key.FROM) or ()),
        content_hash=str(meta.get(Key.HASH, "")),
        ttl=timedelta(seconds=float(meta[Key.TTL])) if float(meta.get(Key.TTL, 0) or 0) > 0 else None,
        schema_version=int(meta.get(Key.V, SCHEMA_VERSION)),
        thread=str(meta[Key.THREAD]) if meta.get(Key.THREAD) else None,
        reads=tuple(meta.get(Key.READS) or ()),
        writes=tuple(meta.get(Key.WRITES) or ()),
    )


def lifetime_start(meta: dict[str, Any]) -> datetime:
    """When a stored memory's lifetime started: its storage, or its last reinforcement."""
    return from_epoch(max(float(meta.get(Key.STORED, 0.0)), float(meta.get(RENEWED_KEY, 0.0) or 0.0)))


# -- liveness: the one rule ------------------------------------------------------------
# A memory is live until its ``pm_expires``; a record without one never expires (as
# :func:`decode` reads it: ``expires_at`` None). Every record priomem writes has the key
# (``NEVER`` when it never expires), so the where clauses below, which Chroma cannot make
# match a missing key, select the same records as :func:`is_live` does.


def expires_epoch(meta: Mapping[str, Any]) -> float:
    """When a stored memory expires, in epoch seconds (``NEVER`` when it does not)."""
    return float(meta.get(Key.EXPIRES, NEVER))


def is_live(meta: Mapping[str, Any], now_epoch: float) -> bool:
    """Whether a stored memory is live at ``now_epoch``: the liveness rule everywhere."""
    return expires_epoch(meta) > now_epoch


def live_where(now_epoch: float) -> dict[str, Any]:
    """A Chroma where clause: memories live at ``now_epoch`` (see :func:`is_live`)."""
    return {Key.EXPIRES: {"$gt": now_epoch}}


def expired_where(now_epoch: float) -> dict[str, Any]:
    """A Chroma where clause: memories expired at ``now_epoch``."""
    return {Key.EXPIRES: {"$lte": now_epoch}}


# -- where clauses: every one priomem sends Chroma is built here -----------------------
# Equality-like clauses ($contains on a list, $in) cost in proportion to their matches in
# embedded Chroma; range clauses ($gt, $lte, ...) in proportion to the whole store.


def contains(key: str, value: Any) -> dict[str, Any]:
    """Records whose list ``key`` holds ``value``."""
    return {key: {"$contains": value}}


def one_of(key: str, values: Iterable[Any]) -> dict[str, Any]:
    """Records whose ``key`` is one of ``values``."""
    return {key: {"$in": list(values)}}


def equals(key: str, value: Any) -> dict[str, Any]:
    """Records whose ``key`` is ``value``."""
    return {key: value}


def at_least(key: str, value: float) -> dict[str, Any]:
    return {key: {"$gte": value}}


def at_most(key: str, value: float) -> dict[str, Any]:
    return {key: {"$lte": value}}


def below(key: str, value: float) -> dict[str, Any]:
    return {key: {"$lt": value}}


def all_of(clauses: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The clauses together (None when there are none: no where clause at all)."""
    if not clauses:
        return None
    return dict(clauses[0]) if len(clauses) == 1 else {"$and": list(clauses)}


#: Most conditions in one where clause: Chroma Cloud's limit.
MAX_PREDICATES = 8


def predicates(where: Mapping[str, Any] | None) -> int:
    """How many conditions ``where`` holds (``$and``/``$or`` count their parts)."""
    if not where:
        return 0
    return sum(
        sum(predicates(part) for part in value) if key in ("$and", "$or") else 1
        for key, value in where.items()
    )


def _joined(op: str, clauses: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return dict(clauses[0]) if len(clauses) == 1 else {op: list(clauses)}


def split_where(where: dict[str, Any] | None, budget: int = MAX_PREDICATES) -> list[dict[str, Any] | None]:
    """``where`` as clauses of at most ``budget`` conditions whose matches together are
    its matches: its largest ``$or`` (alone, or in a top-level ``$and``) is cut into
    parts. A clause that cannot be cut so is returned whole."""
    if where is None or predicates(where) <= budget:
        return [where]
    if "$or" in where and len(where) == 1:
        rest: list[dict[str, Any]] = []
        options = list(where["$or"])
    elif "$and" in where and len(where) == 1:
        parts = list(where["$and"])
        ors = [i for i, p in enumerate(parts) if "$or" in p and len(p) == 1]
        if not ors:
            return [where]
        widest = max(ors, key=lambda i: len(parts[i]["$or"]))
        options = list(parts[widest]["$or"])
        rest = parts[:widest] + parts[widest + 1 :]
    else:
        return [where]
    room = budget - sum(predicates(r) for r in rest)
    if room < 1 or any(predicates(o) > room for o in options):
        return [where]
    chunks: list[list[dict[str, Any]]] = [[]]
    for option in options:
        if sum(predicates(o) for o in chunks[-1]) + predicates(option) > room:
            chunks.append([])
        chunks[-1].append(option)
    return [_joined("$and", [*rest, _joined("$or", chunk)]) for chunk in chunks]


def narrow_where(
    where: dict[str, Any] | None, budget: int = MAX_PREDICATES, *, ranges_here: bool = False
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """``where`` as a clause of at most ``budget`` conditions for Chroma, and the
    conditions left over, to check on what it returns (:func:`matches_where`). Only a
    top-level ``$and`` sheds conditions (ranges first: they cost most in Chroma, then
    the last ones); anything else is sent whole (``split_where`` cuts an ``$or``).
    ``ranges_here``: every range condition is left over (what the rest selects is small)."""
    if where is None or not ("$and" in where and len(where) == 1):
        return where, []
    parts = _conjuncts(where)
    ranged = [p for p in parts if _is_range(p)]
    if predicates(where) <= budget and not (ranges_here and ranged):
        return where, []
    order = [p for p in parts if not _is_range(p)] + ranged
    kept: list[dict[str, Any]] = []
    rest: list[dict[str, Any]] = []
    used = 0
    for part in order:
        size = predicates(part)
        if ranges_here and _is_range(part):
            rest.append(part)
        elif used + size <= budget:
            kept.append(part)
            used += size
        else:
            rest.append(part)
    if not kept:
        return where, []
    return _joined("$and", kept), rest


def _conjuncts(where: dict[str, Any]) -> list[dict[str, Any]]:
    """The conditions of an ``$and``, those of an ``$and`` inside it included (a
    namespace clause wraps the filter's own ``$and``)."""
    if not ("$and" in where and len(where) == 1):
        return [where]
    return [c for part in where["$and"] for c in _conjuncts(part)]


def _is_range(clause: Mapping[str, Any]) -> bool:
    return any(isinstance(v, dict) and set(v) & {"$gt", "$gte", "$lt", "$lte"} for v in clause.values())


def matches_where(meta: Mapping[str, Any], clause: Mapping[str, Any]) -> bool:
    """Whether a record's metadata satisfies ``clause`` (the operators priomem sends)."""
    for key, test in clause.items():
        if key in ("$and", "$or"):
            results = (matches_where(meta, part) for part in test)
            if not (all(results) if key == "$and" else any(results)):
                return False
            continue
        value = meta.get(key)
        if not isinstance(test, dict):
            if value != test:
                return False
            continue
        for op, want in test.items():
            if op == "$contains":
                ok = isinstance(value, list) and want in value
            elif op == "$in":
                ok = value in want
            elif op == "$nin":
                ok = value not in want
            elif op == "$ne":
                ok = value != want
            elif op == "$eq":
                ok = value == want
            elif value is None:
                ok = False
            else:
                ok = {"$gt": value > want, "$gte": value >= want, "$lt": value < want, "$lte": value <= want}[
                    op
                ]
            if not ok:
                return False
    return True


def dataset_where(name: str, *, side: str | None = None) -> dict[str, Any]:
    """Records whose lineage names dataset ``name``: read (``side="reads"``), written
    (``"writes"``), or either (None)."""
    key = {None: Key.DATA, "reads": Key.READS, "writes": Key.WRITES}[side]
    return contains(key, name)
