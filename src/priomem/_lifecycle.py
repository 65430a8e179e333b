"""Retention sweeps and consolidation runs: the engine's maintenance work on one namespace.

Called by :meth:`MemoryEngine.sweep` and :meth:`MemoryEngine.consolidate`, which validate
their arguments; the rules themselves are in :mod:`priomem._retention` and
:mod:`priomem._consolidate`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from priomem import _consolidate
from priomem._consolidate import Consolidation
from priomem._errors import InvalidInputError
from priomem._priority import Priority
from priomem._progress import bar, progress_log
from priomem._records import (
    NEVER,
    USER_PREFIX,
    Key,
    all_of,
    at_least,
    at_most,
    contains,
    decode,
    encode,
    epoch,
    equals,
    expires_epoch,
    lifetime_start,
    live_where,
)
from priomem._retention import CLASSIFICATION_KEY
from priomem._timeparse import utcnow
from priomem._validation import validate_content

if TYPE_CHECKING:
    from priomem._core import EngineCore

__all__ = ["consolidate_namespace", "reapply_retention", "sweep_namespace"]


def reapply_retention(core: EngineCore, ns: str, now_e: float) -> list[str]:
    """Recompute every memory's expiry in ``ns`` under the rules in force now; returns the
    ids expired under them. Call under the namespace's lock."""
    retention = core.pressure.policy(ns).retention
    store = core.store
    changed_ids: list[str] = []
    changed: list[dict[str, Any]] = []
    expired: list[str] = []
    for row in store.get(ns, documents=False):
        memory = decode(row.id, "", row.metadata, ns)
        start = lifetime_start(row.metadata)
        expires = retention.expiry(memory.priority, memory.ttl, memory.metadata, start)
        value = NEVER if expires is None else epoch(expires)
        if value != expires_epoch(row.metadata):
            changed_ids.append(row.id)
            changed.append({Key.EXPIRES: value})
        if value <= now_e:
            expired.append(row.id)
    store.update_metadata(ns, changed_ids, changed)
    return expired


def sweep_namespace(core: EngineCore, ns: str, now_e: float) -> int:
    """Delete what has expired in ``ns`` under the rules in force now; returns how many."""
    with core.ns_lock(ns):
        doomed = reapply_retention(core, ns, now_e)
        core.delete(ns, sorted(doomed), action="sweep", selector={"rule": "retention"})
    return len(doomed)


def consolidate_namespace(
    core: EngineCore,
    ns: str,
    span: timedelta,
    ceiling: Priority,
    min_similarity: Any,
    summarize: Callable[[Sequence[str]], str] | None,
    dry_run: bool,
    *,
    progress: bool = False,
) -> list[Consolidation]:
    """Group and merge the eligible memories of ``ns`` (see :meth:`MemoryEngine.consolidate`)."""
    if (
        isinstance(min_similarity, bool)
        or not isinstance(min_similarity, int | float)
        or not 0 < min_similarity <= 1
    ):
        raise InvalidInputError(
            f"min_similarity: must be in (0, 1], got {min_similarity!r}.", field="min_similarity"
        )
    now = utcnow()
    now_e = epoch(now)
    where = all_of(
        [
            at_least(Key.CREATED, now_e - span.total_seconds()),
            at_most(Key.PRIORITY, int(ceiling)),
            equals(Key.LINEAGE, False),
            live_where(now_e),
        ]
    )
    results: list[Consolidation] = []
    store = core.store
    with core.ns_lock(ns):
        rows = store.get(ns, where=where, embeddings=True)
        if progress:
            progress_log.info("consolidate: grouping %d memories of %r", len(rows), ns)
        rows.sort(key=lambda r: (float(r.metadata.get(Key.CREATED, 0)), r.id))
        # Never merge across data subjects or classifications: erasure and retention need them apart.
        partitions: dict[tuple[Any, Any], list[Any]] = {}
        for row in rows:
            if row.metadata.get(Key.THREAD):
                continue  # turns of a conversation are not notes to merge: each has its context
            key = (
                row.metadata.get(USER_PREFIX + "subject"),
                row.metadata.get(USER_PREFIX + CLASSIFICATION_KEY),
            )
            partitions.setdefault(key, []).append(row)
        for part in partitions.values():
            vectors = np.stack([r.embedding for r in part])
            for indexes in _consolidate.group(vectors, float(min_similarity)):
                if len(indexes) < 2:
                    continue
                members = [decode(part[i].id, part[i].document, part[i].metadata, ns) for i in indexes]
                texts = [m.content for m in members]
                text = (
                    summarize(texts)
                    if summarize is not None
                    else _consolidate.merge_text(texts, vectors[indexes])
                )
                content = validate_content(text, core.settings.max_content_chars, field="summarize()")
                merged = _consolidate.merged_memory(
                    members, content, now=now, max_tags=core.settings.max_tags
                )
                results.append(Consolidation(memory=merged, merged_ids=tuple(m.id for m in members)))
        if results and not dry_run:
            merged_all = [c.memory for c in results]
            if progress:
                progress_log.info("consolidate: embedding %d merged memories", len(merged_all))
            vectors_out = core.embed_documents([m.content for m in merged_all])
            encoded = [encode(m) for m in merged_all]
            # Made before the first write: nothing between the merged memories' write and
            # the originals' deletion may fail for want of a terminal.
            steps = bar(len(results), "consolidate", progress, unit="groups")
            store.upsert(
                ns, [m.id for m in merged_all], vectors_out, [e[0] for e in encoded], [e[1] for e in encoded]
            )
            for c in results:
                core.delete(ns, c.merged_ids, action="consolidate", selector={"into": c.memory.id})
                _repoint_refs(core, ns, c.merged_ids, c.memory.id)
                steps.update(1)
            steps.close()
    return results


def _repoint_refs(core: EngineCore, ns: str, old_ids: Sequence[str], new_id: str) -> None:
    """Memories that referred to merged ones now refer to the merged memory."""
    old = set(old_ids)
    for old_id in old_ids:
        for row in core.store.get(ns, where=contains(Key.REFS, old_id), documents=False):
            refs = [new_id if r in old else r for r in row.metadata.get(Key.REFS, [])]
            core.store.update_metadata(ns, [row.id], [{Key.REFS: list(dict.fromkeys(refs))}])
