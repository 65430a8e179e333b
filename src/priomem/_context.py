"""Conversational context: which turns of a thread came just before a memory, linked at write time.

A turn such as "Yes, last Saturday, it was amazing!" says little on its own; the turns
before it say what it is about. Notes an agent writes one by one are different: a debug
note written a minute after an SLA is not about the SLA, and must not borrow its words or
its meaning. So context is explicit: only memories remembered with the same ``thread``
(a conversation or session id) in a namespace are each other's context. Each new turn
records, in its Chroma metadata, the ids of the (up to) two turns that precede it in its
thread (``pm_prev``, then ``pm_prev2``), when they were created at most :data:`WINDOW`
earlier. Order is ``created_at``, then the order of a ``remember_many`` batch (a session
written at once often shares one ``created_at``).

The turns before a new one are found with one exact-match look-up of the thread's slots
(``pm_tslot``: namespace key, creation hour, thread) for the hour of its creation and the
hour before, so a write costs the same whatever else the store holds.

Only ids are stored, never neighbouring text or vectors: recall reads the neighbours
themselves (:mod:`priomem._recall`), so forgetting or erasing a memory also removes its
influence on its neighbours at once, in every process sharing the store. A link to a
forgotten memory simply finds nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from priomem._models import Memory
from priomem._records import Key, epoch, is_live, one_of, thread_slot
from priomem._store import ChromaStore

__all__ = ["PREV_KEYS", "WINDOW", "link"]

#: Metadata keys of the nearest and the second-nearest preceding turn.
PREV_KEYS = (Key.PREV, Key.PREV2)
#: Turns further apart than this in ``created_at`` are not each other's context. The slot
#: look-up reads one hour and the one before it, so this must stay at most one hour.
WINDOW = timedelta(hours=1)


def _stored_tail(
    store: ChromaStore, namespace: str, thread: str, first: float, now_e: float, exclude: set[str]
) -> list[tuple[str, float]]:
    """The last two live stored turns of ``thread`` created in ``[first - WINDOW, first]``, oldest first."""
    hour = first // 3600
    slots = [thread_slot(namespace, thread, h * 3600) for h in (hour, hour - 1)]
    rows = store.get(namespace, where=one_of(Key.TSLOT, slots), documents=False)
    window = WINDOW.total_seconds()
    key = {
        r.id: (float(r.metadata.get(Key.CREATED, 0.0)), float(r.metadata.get(Key.STORED, 0.0)))
        for r in rows
        if r.id not in exclude
        and first - window <= float(r.metadata.get(Key.CREATED, 0.0)) <= first
        and is_live(r.metadata, now_e)
    }
    if not key:
        return []
    meta = {r.id: r.metadata for r in rows if r.id in key}
    # The newest turns; inside a group sharing one created_at (a batch), the links
    # themselves give the order: the end of the chain is the turn nobody follows.
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

    ``new`` are memories about to be stored in ``namespace``, in the caller's order; only
    those with a ``thread`` are linked, each to the turns before it in its own thread.
    """
    links: list[dict[str, str]] = [{} for _ in new]
    threads: dict[str, list[int]] = {}
    for index, memory in enumerate(new):
        if memory.thread is not None:
            threads.setdefault(memory.thread, []).append(index)
    window = WINDOW.total_seconds()
    if threads:
        store.mark_threads(namespace)
    ids = {m.id for m in new}
    for thread, indexes in threads.items():
        order = sorted(indexes, key=lambda i: (epoch(new[i].created_at), i))
        # A memory written again (an import) is never its own predecessor.
        stored = _stored_tail(store, namespace, thread, epoch(new[order[0]].created_at), now_e, ids)
        sequence = stored
        offset = len(sequence)
        sequence += [(new[i].id, epoch(new[i].created_at)) for i in order]
        for position, index in enumerate(order, start=offset):
            created = sequence[position][1]
            for key, back in zip(PREV_KEYS, (1, 2), strict=True):
                if position - back < 0 or created - sequence[position - back][1] > window:
                    break
                links[index][key] = sequence[position - back][0]
    return links
