"""Conversational context: which memories came just before a memory, linked at write time.

A turn such as "Yes, last Saturday, it was amazing!" says little on its own; the turns
before it say what it is about. So each new memory records, in its Chroma metadata, the
ids of the (up to) two memories that precede it in its namespace (``pm_prev``, then
``pm_prev2``), when they were created at most :data:`WINDOW` earlier. Order is
``created_at``, then the order of a ``remember_many`` batch (a session written at once
often shares one ``created_at``).

Only ids are stored, never neighbouring text or vectors: recall reads the neighbours
themselves (:mod:`priomem._recall`), so forgetting or erasing a memory also removes its
influence on its neighbours at once, in every process sharing the store. A link to a
forgotten memory simply finds nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from priomem._models import Memory
from priomem._records import epoch
from priomem._store import ChromaStore

__all__ = ["PREV_KEYS", "WINDOW", "link"]

#: Metadata keys of the nearest and the second-nearest preceding memory.
PREV_KEYS = ("pm_prev", "pm_prev2")
#: Memories further apart than this in ``created_at`` are not each other's context.
WINDOW = timedelta(hours=1)
#: Newest stored memories read to find where a batch continues (bounds the write cost).
_TAIL_SCAN = 2000
#: Look-back spans tried in turn, in seconds, up to WINDOW.
_SPANS = (2.0, 30.0, 300.0, WINDOW.total_seconds())


def _stored_tail(store: ChromaStore, namespace: str, first: float, now_e: float) -> list[tuple[str, float]]:
    """The last two live stored memories created in ``[first - WINDOW, first]``, oldest first."""
    # Look back over growing spans: a memory usually follows another within seconds, and a
    # narrow span keeps the write cost independent of how much the hour before holds.
    ids: list[str] = []
    for span in _SPANS:
        where = {
            "$and": [
                {"pm_created": {"$gte": first - span}},
                {"pm_created": {"$lte": first}},
                {"pm_expires": {"$gt": now_e}},
            ]
        }
        ids = store.ids(namespace, where=where)
        if len(ids) >= 2:
            break
    if not ids:
        return []
    # Ids are ULIDs: their first 10 characters are the creation millisecond. Read the
    # newest millisecond groups; inside a group (a batch sharing one created_at) the
    # links themselves give the order.
    ids.sort(reverse=True)
    newest = [i for i in ids[:_TAIL_SCAN] if i[:10] >= ids[min(len(ids), 2) - 1][:10]]
    rows = store.get(namespace, ids=newest, documents=False)
    if not rows:
        return []
    meta = {r.id: r.metadata for r in rows}
    key = {
        r.id: (float(r.metadata.get("pm_created", 0.0)), float(r.metadata.get("pm_stored", 0.0)))
        for r in rows
    }
    top = max(key.values())
    group = [rid for rid in key if key[rid] == top]
    linked = {meta[rid].get(PREV_KEYS[0]) for rid in group}
    ends = [rid for rid in group if rid not in linked] or group
    last = max(ends)
    before = meta[last].get(PREV_KEYS[0])
    if not isinstance(before, str) or before not in key:
        rest = sorted((rid for rid in key if rid != last), key=lambda r: (key[r], r))
        before = rest[-1] if rest else None
    chain = [(last, key[last][0])]
    if before is not None:
        chain.insert(0, (before, key[before][0]))
    return chain


def link(store: ChromaStore, namespace: str, new: Sequence[Memory], now_e: float) -> list[dict[str, str]]:
    """Context links (``pm_prev``/``pm_prev2`` metadata) for each of ``new``, in order.

    ``new`` are memories about to be stored in ``namespace``, in the caller's order.
    """
    if not new:
        return []
    order = sorted(range(len(new)), key=lambda i: (epoch(new[i].created_at), i))
    sequence = _stored_tail(store, namespace, epoch(new[order[0]].created_at), now_e)
    offset = len(sequence)
    sequence += [(new[i].id, epoch(new[i].created_at)) for i in order]
    window = WINDOW.total_seconds()
    links: list[dict[str, str]] = [{} for _ in new]
    for position, index in enumerate(order, start=offset):
        created = sequence[position][1]
        for key, back in zip(PREV_KEYS, (1, 2), strict=True):
            if position - back < 0 or created - sequence[position - back][1] > window:
                break
            links[index][key] = sequence[position - back][0]
    return links
