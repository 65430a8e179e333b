"""Small shared namespaces kept in memory: their vectors for exact search, and for one of
at most ``ROWS_AT`` records their metadata too, so that its recalls, lists and look-ups
read nothing from Chroma until it is written to (:class:`KeptRows`, the part of
:class:`priomem._store.ChromaStore` that reads and keeps them; the copy itself is
:mod:`priomem._vector_cache`). Works on the client's collection objects; imports no
``chromadb``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from priomem._chroma_calls import Where, chroma_errors, get_records, read_again
from priomem._layout import Place, exact_nearest
from priomem._records import matches_where
from priomem._vector_cache import Kept, VectorCache

__all__ = ["ROWS_AT", "VECTOR_CACHE_BYTES", "KeptRows"]

#: Bytes of shared namespaces kept in memory for exact search (``_vectors``).
VECTOR_CACHE_BYTES = 64 << 20
#: Records up to which a shared namespace's metadata is kept with its vectors: a recall in
#: it then reads nothing more from Chroma (each call costs ~1 ms more in a store of 10,000
#: namespaces than in one of 100, whatever it reads).
ROWS_AT = 64


class KeptRows:
    def _init_kept(self) -> None:
        #: Shared namespaces in memory (see ``_vectors``).
        self._vector_cache = VectorCache(VECTOR_CACHE_BYTES)
        #: Shared namespaces found past ``ROWS_AT`` records (their metadata is not kept).
        self._large: set[str] = set()

    def _ranges_here(self, place: Place) -> bool:
        """Whether a read checks range conditions (priority, time, expiry) itself: in a
        shared namespace of a store this process owns (at most about ``own_collection_at``
        records, moved past it), where embedded Chroma would weigh a range clause against
        every record of the store, and the namespace clause selects only its own."""
        return place.shared and self._compactable

    def _exact(
        self, place: Place, vector: np.ndarray, n: int, where: Where | None
    ) -> list[tuple[str, float]] | None:
        """The ``n`` nearest chroma ids of a shared namespace and their similarities, by
        reading its vectors (None when more than ``own_collection_at`` match: too many to
        read, Chroma's index searches then)."""
        local = self._vectors(place) if where is None else self._from_kept(place, where=where)
        if local is not None:
            ids, matrix = local.ids, local.matrix
        elif where is None:
            return None
        else:
            got = get_records(
                place.col,
                where=place.where(where),
                limit=self._own_at + 1,
                include=["embeddings"],
                ranges_here=self._ranges_here(place),
            )
            if len(got["ids"]) > self._own_at:
                return None
            ids, matrix = got["ids"], got["embeddings"]
        return [(ids[i], sim) for i, sim in exact_nearest(ids, matrix, vector, n)]

    def _from_kept(
        self,
        place: Place,
        *,
        where: Where | None = None,
        limit: int | None = None,
        ids: Sequence[str] | None = None,
        cids: Sequence[str] | None = None,
    ) -> Kept | None:
        """The records of a small shared namespace that ``ids`` (or chroma ids ``cids``)
        and ``where`` select, in Chroma's order, from what is kept of it; None when its
        metadata is not kept, or ``where`` holds a condition not checked here."""
        if not (place.shared and self._compactable):
            return None
        kept, _ = self._vector_cache.get(place.namespace)
        if kept is None or kept.metas is None:
            return None
        metas = kept.metas
        index = list(range(len(kept.ids)))
        if ids is not None or cids is not None:
            wanted = set(cids if cids is not None else place.chroma_ids(list(ids or ())))
            index = [i for i in index if kept.ids[i] in wanted]
        if where is not None:
            try:
                index = [i for i in index if matches_where(metas[i], where)]
            except (KeyError, TypeError):  # an operator not checked here: Chroma's
                return None
        if limit is not None:
            index = index[:limit]
        return Kept([kept.ids[i] for i in index], kept.matrix[index], [metas[i] for i in index])

    def _vectors(self, place: Place) -> Kept | None:
        """A shared namespace's chroma ids and vectors (None past ``own_collection_at``),
        and for one of at most ``ROWS_AT`` records their metadata (in a store this process
        owns, read in the same call: a recall in the namespace then reads nothing more).

        Kept in memory, least recently used dropped past :data:`VECTOR_CACHE_BYTES`, in a
        store this process owns (nothing else writes to it; its own writes to the
        namespace drop the copy, its updates of a memory's use change it): reading them
        from Chroma costs about 2.5 ms plus 0.04 ms a record (and ~0.25 ms a record's
        metadata), an exact search over them a few microseconds.
        """
        ns = place.namespace
        hit, writes = self._vector_cache.get(ns)
        if hit is not None:
            return hit
        got: Mapping[str, Any] | None = None
        if self._compactable and ns not in self._large:
            got = read_again(
                lambda: place.col.get(
                    where=place.where(None), limit=ROWS_AT + 1, include=["embeddings", "metadatas"]
                )
            )
            if len(got["ids"]) > ROWS_AT:
                with self._guard:
                    self._large.add(ns)
                got = None
        if got is None:
            got = read_again(
                lambda: place.col.get(where=place.where(None), limit=self._own_at + 1, include=["embeddings"])
            )
            if len(got["ids"]) > self._own_at:
                return None
        metas = got.get("metadatas")
        entry = Kept(
            list(got["ids"]),
            np.asarray(got["embeddings"], dtype=np.float32).reshape(len(got["ids"]), self._dimension),
            [dict(m or {}) for m in metas] if metas is not None else None,
        )
        if self._compactable:
            self._vector_cache.put(ns, entry, writes)
        return entry

    def _in_place(self, changes: Mapping[str, tuple[Sequence[str], Sequence[Mapping[str, Any]]]]) -> None:
        """Set keys that need no refit (a memory's use and expiry) on records of many
        namespaces: one call for the records of every namespace of a shared collection
        (each call costs an fsync, 18-65 ms here: a process serving many tenants would fall
        behind writing one a namespace), one a namespace with its own collection; what is
        kept changes as the records did."""
        groups: dict[str, list[tuple[Place, list[str], Sequence[Mapping[str, Any]]]]] = {}
        for namespace, (ids, metadatas) in changes.items():
            place = self._place(namespace, create=False)
            if place is None or not ids:
                continue
            if not place.shared:
                self._update(place, ids, metadatas)
                continue
            groups.setdefault(place.col.name, []).append((place, place.chroma_ids(list(ids)), metadatas))
        for parts in groups.values():
            col = parts[0][0].col
            cids = [cid for _, chroma_ids, _ in parts for cid in chroma_ids]
            metas = [dict(m) for _, _, ms in parts for m in ms]
            try:
                with chroma_errors(f"update shared collection {col.name}"):
                    for start in range(0, len(cids), self._max_batch):
                        end = start + self._max_batch
                        col.update(ids=cids[start:end], metadatas=metas[start:end])
            except BaseException:
                for place, _, _ in parts:  # some may have changed: read again next time
                    self._stale(place.namespace)
                raise
            for place, chroma_ids, ms in parts:
                self._vector_cache.patch(place.namespace, chroma_ids, ms)

    def _stale(self, namespace: str) -> None:
        """Drop the in-memory vectors of ``namespace`` (it was written to)."""
        self._vector_cache.stale(namespace)

    if TYPE_CHECKING:  # provided by the store (declared for the type checker only)
        _compactable: bool
        _own_at: int
        _dimension: int
        _max_batch: int
        _guard: threading.RLock

        def _place(self, namespace: str, *, create: bool) -> Place | None: ...
        def _update(
            self, place: Place, ids: Sequence[str], metadatas: Sequence[Mapping[str, Any]]
        ) -> None: ...
