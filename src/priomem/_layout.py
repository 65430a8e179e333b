"""Where a namespace's records live: shared collections for small namespaces, one of its
own for a large one, and moving a namespace between the two, safe to kill at any instant.

Every Chroma collection costs memory and file handles whether it is used or not (about
2.7 MB each in embedded Chroma 1.5; a ``chroma run`` server fails near 3,000-6,000), so a
store with one collection per namespace cannot hold many tenants. Here:

* A **small namespace** lives in one of :data:`SHARED_COLLECTIONS` shared collections
  (``pmshared-NN``, chosen by a hash of the namespace). Each of its records carries the
  namespace (``pm_ns``) and an id made unique in the collection by a prefix of the
  namespace's hash (:meth:`Place.chroma_id`). Every read selects it with an equality
  clause on ``pm_ns`` (cheap in embedded Chroma: its cost follows the matches), and it is
  searched exactly: its vectors are read and ranked with one matrix product. Its state (record
  layout, whether it holds thread turns) is a ``namespace`` record in the store's own
  collection, written before its first record.
* A **large namespace** has a collection of its own (``pmns-<hash>``, the layout every
  namespace had before), searched by Chroma's HNSW index. A namespace moves there when it
  grows past the store's threshold (:func:`promote`); a store written with one collection
  per namespace has its small ones moved into shared collections when it opens
  (:func:`demote`).

The rule that makes every instant of a move consistent: **a namespace's own collection,
once it exists without the filling mark (``pm_filling``), holds the namespace; otherwise
the shared collection does.** A move is announced by a ``move`` record in the store's
collection before its first step, and :func:`recover` (run when a store opens) finishes or
undoes whatever a kill interrupted. Only Chroma's public API is used.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from priomem._progress import progress_log
from priomem._rebuild import WRITE_BATCH, Batch, Collections
from priomem._records import Key, all_of, equals

__all__ = [
    "MOVE_KIND",
    "NAMESPACE_KIND",
    "NAMESPACE_PREFIX",
    "SHARED_COLLECTIONS",
    "SHARED_PREFIX",
    "Place",
    "collection_name",
    "demote",
    "entry_id",
    "exact_nearest",
    "move_id",
    "promote",
    "recover",
    "shared_name",
    "undo_demote",
    "write_entries",
    "write_entry",
]

log = logging.getLogger("priomem")

NAMESPACE_PREFIX = "pmns-"
SHARED_PREFIX = "pmshared-"
#: Shared collections in a store: fixed, since a namespace's is chosen by its hash.
#: Each costs memory like any collection; a deletion rebuilds one of them on compaction,
#: so more of them means smaller rebuilds (benchmarks/many_namespaces.py).
SHARED_COLLECTIONS = 32
#: Kinds of the store-level records this module writes.
NAMESPACE_KIND = "namespace"
MOVE_KIND = "move"
#: Chroma Cloud's limit on an id, in bytes; priomem ids are at most 128 ASCII characters.
MAX_CHROMA_ID = 128
#: Records copied per step of a move.
PAGE = WRITE_BATCH


def _digest(namespace: str) -> str:
    return hashlib.sha256(namespace.encode("utf-8")).hexdigest()


def collection_name(namespace: str) -> str:
    """The name of ``namespace``'s own collection."""
    return NAMESPACE_PREFIX + _digest(namespace)[:40]


def shared_name(namespace: str) -> str:
    """The name of the shared collection that holds ``namespace`` while it is small."""
    return f"{SHARED_PREFIX}{int(_digest(namespace)[:8], 16) % SHARED_COLLECTIONS:02d}"


def entry_id(namespace: str) -> str:
    """The id of a shared namespace's record in the store's own collection."""
    return NAMESPACE_KIND + ":" + _digest(namespace)[:40]


def move_id(namespace: str) -> str:
    return MOVE_KIND + ":" + _digest(namespace)[:40]


@dataclass(frozen=True, slots=True)
class Place:
    """A namespace's collection, and how its records are told apart there."""

    col: Any
    namespace: str
    shared: bool

    @property
    def prefix(self) -> str:
        return _digest(self.namespace)[:16] + ":" if self.shared else ""

    def chroma_id(self, record_id: str) -> str:
        """The id of record ``record_id`` in this place's collection. In a shared one, the
        namespace's prefix and the id, or (when that would pass Chroma Cloud's 128 bytes)
        the prefix and a hash of the id, which the record then keeps in ``pm_id``."""
        if not self.shared:
            return record_id
        joined = self.prefix + record_id
        if len(joined) <= MAX_CHROMA_ID:
            return joined
        return self.prefix + "#" + hashlib.sha256(record_id.encode("utf-8")).hexdigest()[:48]

    def chroma_ids(self, record_ids: Sequence[str]) -> list[str]:
        return [self.chroma_id(r) for r in record_ids]

    def record_id(self, chroma_id: str, meta: dict[str, Any]) -> str:
        """The priomem id of a record read from here (``pm_ns``/``pm_id`` removed from ``meta``)."""
        if not self.shared:
            return chroma_id
        meta.pop(Key.NS, None)
        original = meta.pop(Key.ID, None)
        return str(original) if original is not None else chroma_id[len(self.prefix) :]

    def stamp(self, record_id: str, meta: Mapping[str, Any]) -> dict[str, Any]:
        """``meta`` as written here: in a shared collection, with the namespace (and a long id)."""
        if not self.shared:
            return dict(meta)
        out = {**meta, Key.NS: self.namespace}
        if len(self.prefix) + len(record_id) > MAX_CHROMA_ID:
            out[Key.ID] = record_id
        return out

    def where(self, where: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """``where`` within this namespace (in a shared collection: and ``pm_ns``)."""
        if not self.shared:
            return dict(where) if where else None
        mine = equals(Key.NS, self.namespace)
        return all_of([mine, dict(where)]) if where else mine


def exact_nearest(ids: Sequence[str], embeddings: Any, vector: np.ndarray, n: int) -> list[tuple[int, float]]:
    """The ``n`` best (index, cosine similarity) of ``embeddings`` to ``vector``, best
    first (ties by id, as a stable order): an exact search, for a small namespace."""
    if not len(ids) or n < 1:
        return []
    matrix = np.asarray(embeddings, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1)
    norms[norms == 0] = 1.0
    query = np.asarray(vector, dtype=np.float32)
    qn = float(np.linalg.norm(query)) or 1.0
    sims = (matrix @ query) / (norms * qn)
    order = sorted(range(len(ids)), key=lambda i: (-float(sims[i]), ids[i]))[:n]
    return [(i, float(sims[i])) for i in order]


def _pages(col: Any, where: dict[str, Any] | None, step: int) -> Iterator[dict[str, Any]]:
    """Every record of ``col`` matching ``where``, ``step`` at a time (ids first, so that
    pages are stable whatever Chroma's order)."""
    ids = col.get(where=where, include=[])["ids"]
    for start in range(0, len(ids), step):
        got = col.get(ids=ids[start : start + step], include=["embeddings", "documents", "metadatas"])
        if got["ids"]:
            yield got


def _announce(cols: Collections, namespace: str, to: str) -> None:
    meta = cols.meta()
    assert meta is not None  # the store's collection exists once a store is open
    meta.upsert(
        ids=[move_id(namespace)],
        embeddings=[[1.0]],
        documents=[namespace],
        metadatas=[{"kind": MOVE_KIND, "to": to}],
    )


def write_entry(meta_col: Any, namespace: str, state: Mapping[str, Any]) -> None:
    """Record that ``namespace`` lives in a shared collection, with its ``state``."""
    write_entries(meta_col, {namespace: state})


def write_entries(meta_col: Any, states: Mapping[str, Mapping[str, Any]]) -> None:
    """:func:`write_entry` for several namespaces in one write."""
    names = list(states)
    meta_col.upsert(
        ids=[entry_id(ns) for ns in names],
        embeddings=[[1.0]] * len(names),
        documents=names,
        metadatas=[{**states[ns], "kind": NAMESPACE_KIND, Key.NAMESPACE: ns} for ns in names],
    )


def promote(
    cols: Collections,
    place: Place,
    *,
    metadata: Mapping[str, Any],
    configuration: Mapping[str, Any],
    before_delete: Callable[[str], None],
    step: int = PAGE,
) -> Any:
    """Move a shared namespace into a collection of its own; returns that collection.

    Steps, each durable before the next: the ``move`` record; the own collection, created
    with the filling mark (any earlier unfinished one dropped first) and filled; the mark
    removed (from here on the own collection holds the namespace); the shared copies and
    the namespace's record deleted; the ``move`` record deleted. ``metadata``: the own
    collection's (the namespace's state included); ``before_delete(name)`` is called
    before records are deleted from collection ``name`` (compaction's mark).
    """
    ns = place.namespace
    _announce(cols, ns, "own")
    name = collection_name(ns)
    existing = cols.get(name)
    if existing is not None and not (existing.metadata or {}).get(Key.FILLING):
        # An earlier move got as far as the switch: the own collection holds the namespace.
        _clear_shared(cols, place, before_delete, step)
        return existing
    if existing is not None:
        cols.client.delete_collection(name)
    own = cols.client.create_collection(
        name,
        metadata={**metadata, Key.FILLING: True},
        configuration=dict(configuration),
        embedding_function=None,
    )
    copied = 0
    for got in _pages(place.col, place.where(None), step):
        metas = [dict(m or {}) for m in got["metadatas"]]
        ids = [place.record_id(cid, m) for cid, m in zip(got["ids"], metas, strict=True)]
        own.upsert(ids=ids, embeddings=got["embeddings"], metadatas=metas)
        copied += len(ids)
    own.modify(metadata={**metadata, Key.FILLING: False})
    log.info("namespace %r moved to a collection of its own (%d memories)", ns, copied)
    _clear_shared(cols, place, before_delete, step)
    return own


def _clear_shared(cols: Collections, place: Place, before_delete: Callable[[str], None], step: int) -> None:
    """Delete a moved namespace's records from its shared collection, then its records."""
    ids = place.col.get(where=place.where(None), include=[])["ids"]
    if ids:
        before_delete(place.col.name)
        for start in range(0, len(ids), step):
            place.col.delete(ids=ids[start : start + step])
    meta = cols.meta()
    assert meta is not None
    meta.delete(ids=[entry_id(place.namespace), move_id(place.namespace)])


def demote(
    cols: Collections,
    own: Any,
    place: Place,
    *,
    state: Mapping[str, Any],
    convert: Callable[[Batch], Batch],
    before_delete: Callable[[str | None], None],
    step: int = PAGE,
) -> int:
    """Move a namespace from its own collection ``own`` into the shared collection of
    ``place``; returns how many records moved.

    Steps: the ``move`` record; the namespace's record (its ``state``); every record
    copied (upserts: a repeated step writes the same records); the own collection dropped
    (from here on the shared one holds the namespace); the ``move`` record deleted.
    ``convert`` brings an old record's batch to the current layout (its document into
    its metadata). A small namespace's records are read whole before the first step.
    """
    ns = place.namespace
    # Read first: a namespace Chroma cannot read is left where it is, with nothing changed.
    pages = list(_pages(own, None, step))
    _announce(cols, ns, "shared")
    meta = cols.meta()
    assert meta is not None
    write_entry(meta, ns, state)
    moved = 0
    for got in pages:
        ids, embeddings, _docs, metas = convert(
            (list(got["ids"]), got["embeddings"], list(got["documents"] or [None] * len(got["ids"])),
             [dict(m or {}) for m in got["metadatas"]])
        )  # fmt: skip
        place.col.upsert(
            ids=place.chroma_ids(ids),
            embeddings=embeddings,
            metadatas=[place.stamp(rid, m) for rid, m in zip(ids, metas, strict=True)],
        )
        moved += len(ids)
    before_delete(None)
    cols.client.delete_collection(own.name)
    meta.delete(ids=[move_id(ns)])
    return moved


def undo_demote(cols: Collections, place: Place, before_delete: Callable[[str], None]) -> None:
    """Remove what an unfinished move to a shared collection copied (the own collection,
    which still exists, holds the namespace), and its records."""
    _clear_shared(cols, place, before_delete, PAGE)


def recover(
    cols: Collections,
    shared_place: Callable[[str], Place],
    finish_demote: Callable[[str, Any], None],
    before_delete: Callable[[str], None],
) -> None:
    """Finish or undo the moves a kill interrupted (run when the store opens).

    To its own collection: finished once the collection lost its filling mark (the shared
    copies are deleted), else undone (the unfinished collection is dropped; the shared one
    is whole). To a shared collection: done again from the start while the own collection
    still exists (``finish_demote``), which holds every record until it is dropped.
    """
    meta = cols.meta()
    if meta is None:
        return
    moves = meta.get(where=equals("kind", MOVE_KIND), include=["documents", "metadatas"])
    for record_id, ns, mark in zip(
        moves["ids"], moves["documents"] or [], moves["metadatas"] or [], strict=True
    ):
        own = cols.get(collection_name(ns))
        if (mark or {}).get("to") == "own":
            if own is not None and not (own.metadata or {}).get(Key.FILLING):
                _clear_shared(cols, shared_place(ns), before_delete, PAGE)
                log.warning("finished moving namespace %r to its own collection after a crash", ns)
                continue
            if own is not None:
                cols.client.delete_collection(own.name)
                log.warning("undid an interrupted move of namespace %r to its own collection", ns)
        elif own is not None:
            progress_log.info("finishing the interrupted move of namespace %r to a shared collection", ns)
            try:
                finish_demote(ns, own)
                continue
            except Exception as exc:
                log.warning("namespace %r: the move to a shared collection did not finish: %s", ns, exc)
                if cols.get(collection_name(ns)) is not None:  # it still holds the namespace
                    undo_demote(cols, shared_place(ns), before_delete)
                else:  # dropped: the shared copies are the records; only the mark is left
                    meta.delete(ids=[record_id])
                continue
        meta.delete(ids=[record_id])
