"""The write path: duplicates found, memories built or reinforced, room made, stored.

Called by :class:`priomem.MemoryEngine` with one namespace's items under that namespace's
lock; works on the engine's :class:`~priomem._core.EngineCore` (the store, the quota and
eviction planner, a worker pool and the embedding function), never on the engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from contextlib import suppress
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from priomem import _context
from priomem._errors import InvalidInputError
from priomem._models import Memory
from priomem._recall import run_soon
from priomem._records import RENEWED_KEY, Key, decode, encode, epoch, is_live, new_id, one_of
from priomem._requests import Item
from priomem._retention import RetentionPolicy
from priomem._settings import Settings
from priomem._timeparse import utcnow
from priomem._validation import MAX_DATASETS, MAX_REFS, validate_stored_lists

if TYPE_CHECKING:
    from priomem._core import EngineCore

__all__ = ["WRITE_STEP", "write_namespace"]

#: Memories embedded per step of a large write; each step is stored while the next embeds.
WRITE_STEP = 32


def write_namespace(
    core: EngineCore, namespace: str, items: list[Item]
) -> tuple[list[tuple[int, Memory]], list[Memory]]:
    now = utcnow()
    now_e = epoch(now)
    policy = core.pressure.policy(namespace)
    hashes = list(dict.fromkeys(i.hash for i in items))
    # The duplicate look-up is a filtered read, whose cost grows with the namespace
    # (about 12 ms at 100,000 memories): for a small write it runs on a worker while
    # the texts are embedded, which a duplicate then did not need.
    lookup = run_soon(core.pool, _existing, core, namespace, hashes, now_e)
    vectors: dict[str, np.ndarray] = {}
    if len(items) <= WRITE_STEP:
        try:
            texts = {i.hash: i.content for i in items}
            matrix = core.embed_documents(list(texts.values()))
            vectors = dict(zip(texts, matrix, strict=True))
        except BaseException:
            with suppress(Exception):  # the embedding's error is the one to report
                lookup.result()
            raise
    existing = lookup.result()
    out: list[tuple[int, Memory]] = []
    fresh: dict[str, Memory] = {}
    reinforced: dict[str, Memory] = {}
    for index, item in enumerate(items):
        base = fresh.get(item.hash) or reinforced.get(item.hash) or existing.get(item.hash)
        if base is None:
            created = item.created_at or now
            memory = Memory(
                id=new_id(created),
                content=item.content,
                priority=item.priority,
                namespace=namespace,
                tags=item.tags,
                metadata=item.metadata,
                created_at=created,
                stored_at=now,
                last_accessed_at=None,
                access_count=0,
                expires_at=policy.retention.expiry(item.priority, item.ttl, item.metadata, now),
                refs=item.refs,
                content_hash=item.hash,
                ttl=item.ttl,
                thread=item.thread,
                reads=item.reads,
                writes=item.writes,
            )
            fresh[item.hash] = memory
        else:
            memory = _reinforce(core.settings, base, item, now, policy.retention)
            (fresh if item.hash in fresh else reinforced)[item.hash] = memory
        out.append((index, memory))
    evicted: list[Memory] = []
    promoted = [m for h, m in reinforced.items() if m.priority > existing[h].priority]
    if promoted:  # raised to CRITICAL by the same text: it must still fit the rules
        core.pressure.check_promotion(namespace, promoted, now_e)
    if fresh:
        new = list(fresh.values())
        # Plan first: a refused write must leave everything as it was.
        victims = core.pressure.plan_room(namespace, new, policy, now_e)
        _store_new(core, namespace, new, now_e, vectors)
        if victims:
            evicted = core.pressure.evict(victims, namespace)
    if reinforced:
        changed = list(reinforced.values())
        # pm_renewed: its lifetime now counts from this reinforcement (see reapply_retention).
        core.store.update_metadata(
            namespace, [m.id for m in changed], [{**encode(m)[1], RENEWED_KEY: now_e} for m in changed]
        )
    latest = {
        **{m.content_hash: m for m in fresh.values()},
        **{m.content_hash: m for m in reinforced.values()},
    }
    return [(index, latest[memory.content_hash]) for index, memory in out], evicted


def _existing(core: EngineCore, namespace: str, hashes: Sequence[str], now_e: float) -> dict[str, Memory]:
    """The live memories of ``namespace`` with these content hashes, by hash."""
    existing: dict[str, Memory] = {}
    for start in range(0, len(hashes), 500):
        for row in core.store.get(namespace, where=one_of(Key.HASH, hashes[start : start + 500])):
            if is_live(row.metadata, now_e):
                existing[str(row.metadata[Key.HASH])] = decode(row.id, row.document, row.metadata, namespace)
    return existing


def _store_new(
    core: EngineCore, namespace: str, new: Sequence[Memory], now_e: float, vectors: Mapping[str, np.ndarray]
) -> None:
    """Embed and store ``new``: each batch is written on a worker while the next one is
    embedded, so a large write costs about its embedding alone.

    Should embedding or the store fail part-way through, the batches already stored are
    deleted again and the error is raised: a refused write leaves the memories as they
    were.
    """
    encoded = [encode(m) for m in new]
    links = _context.link(core.store, namespace, new, now_e)
    metas = [{**e[1], **extra} for e, extra in zip(encoded, links, strict=True)]
    step = WRITE_STEP
    if len(new) <= step:  # one batch: nothing to overlap
        if all(m.content_hash in vectors for m in new):
            matrix = np.stack([vectors[m.content_hash] for m in new])
        else:
            matrix = core.embed_documents([m.content for m in new])
        core.store.upsert(namespace, [m.id for m in new], matrix, [e[0] for e in encoded], metas)
        return
    pending: Future[None] | None = None
    sent = 0
    try:
        for start in range(0, len(new), step):
            end = start + step
            matrix = core.embed_documents([m.content for m in new[start:end]])
            if pending is not None:
                pending.result()
            pending = run_soon(
                core.pool,
                core.store.upsert,
                namespace,
                [m.id for m in new[start:end]],
                matrix,
                [e[0] for e in encoded[start:end]],
                metas[start:end],
            )
            sent = end
        if pending is not None:
            pending.result()
    except BaseException:
        if pending is not None:
            with suppress(Exception):
                pending.result()
        with suppress(Exception):  # the original error is the one to report
            core.store.delete(namespace, [m.id for m in new[:sent]])
        raise


def _reinforce(
    settings: Settings, base: Memory, item: Item, now: datetime, retention: RetentionPolicy
) -> Memory:
    priority = max(base.priority, item.priority)
    metadata = {**base.metadata, **item.metadata}
    ttl = item.ttl if item.ttl is not None else base.ttl
    if item.ttl is not None and base.ttl is not None:
        ttl = max(item.ttl, base.ttl)
    # Its lifetime counts from now, under the rules in force (as reapply_retention counts it).
    expires = retention.expiry(priority, ttl, metadata, now)
    tags = base.tags + tuple(t for t in item.tags if t not in base.tags)
    refs = base.refs + tuple(r for r in item.refs if r not in base.refs)
    reads = base.reads + tuple(r for r in item.reads if r not in base.reads)
    writes = base.writes + tuple(w for w in item.writes if w not in base.writes)
    # Reinforcing merges: the merged memory must keep within the same bounds as a new one.
    for name, size, limit in (
        ("tags", len(tags), settings.max_tags),
        ("refs", len(refs), MAX_REFS),
        ("reads", len(reads), MAX_DATASETS),
        ("writes", len(writes), MAX_DATASETS),
        ("metadata", len(metadata), settings.max_metadata_keys),
    ):
        if size > limit and size > len(getattr(base, name)):
            raise InvalidInputError(
                f"{name}: reinforcing memory {base.id} would give it {size} {name} entries, over the "
                f"limit of {limit}; forget it first or store the new facts as a separate memory.",
                field=name,
            )
    if (tags, refs, reads, writes) != (base.tags, base.refs, base.reads, base.writes):
        try:
            validate_stored_lists(tags, refs, reads, writes)
        except InvalidInputError as exc:
            raise InvalidInputError(
                f"reinforcing memory {base.id}: {exc.message} Forget it first or store the new facts "
                "as a separate memory.",
                field=exc.field,
            ) from None
    return replace(
        base,
        priority=priority,
        tags=tags,
        metadata=metadata,
        refs=refs,
        reads=reads,
        writes=writes,
        access_count=base.access_count + 1,
        last_accessed_at=now,
        expires_at=expires,
        ttl=ttl,
    )
