"""Writes of many small namespaces held back and sent together
(:meth:`HeldWrites.batched`, the part of :class:`priomem._store.ChromaStore` that does it).

What one thread holds (:class:`Held`): the state records of namespaces it created and the
records it wrote to shared namespaces, by namespace, in the order written. Works on the
client's collection objects; imports no ``chromadb``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from priomem._chroma_calls import chroma_errors
from priomem._gate import Gate, shared
from priomem._layout import Place, entry_id, write_entries
from priomem._placement import PREFETCH_COLLECTIONS, own_namespaces
from priomem._records import Key

__all__ = ["Held", "HeldRecords", "HeldWrites"]


@dataclass(slots=True)
class HeldRecords:
    """One namespace's held records (Chroma ids, vectors and stamped metadata)."""

    ids: list[str] = field(default_factory=list)
    embeddings: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    metadatas: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class Held:
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    records: dict[str, HeldRecords] = field(default_factory=dict)
    places: dict[str, Place] = field(default_factory=dict)
    #: namespaces whose sent records took them past the own-collection threshold
    grown: set[str] = field(default_factory=set)
    #: namespaces found to have no records anywhere when the batch began (``prefetch``)
    absent: set[str] = field(default_factory=set)

    def holds(self, namespace: str) -> bool:
        return namespace in self.places

    def new(self, place: Place, state: Mapping[str, Any]) -> None:
        """A namespace created here: its state record is held with its records."""
        self.places[place.namespace] = place
        self.entries[place.namespace] = dict(state)
        self.absent.discard(place.namespace)

    def fits(self, namespace: str, count: int, limit: int) -> bool:
        """Whether ``count`` more records of ``namespace`` keep it within one write."""
        held = self.records.get(namespace)
        return count + (len(held.ids) if held is not None else 0) <= limit

    def add(
        self, place: Place, ids: Sequence[str], embeddings: np.ndarray, metadatas: Sequence[dict[str, Any]]
    ) -> None:
        self.places[place.namespace] = place
        held = self.records.get(place.namespace)
        if held is None:
            self.records[place.namespace] = HeldRecords(list(ids), np.asarray(embeddings), list(metadatas))
            return
        held.ids += ids
        held.embeddings = np.concatenate([held.embeddings, embeddings])
        held.metadatas += metadatas

    def take(self) -> tuple[dict[str, dict[str, Any]], dict[str, HeldRecords], dict[str, Place]]:
        """Everything held, which is no longer held."""
        taken = self.entries, self.records, self.places
        self.entries, self.records, self.places = {}, {}, {}
        return taken


class HeldWrites:
    """:meth:`batched` and what it needs, for :class:`~priomem._store.ChromaStore`."""

    _client: Any
    _layout: str
    _max_batch: int
    _compactable: bool
    _guard: threading.RLock
    _gate: Gate
    _places: dict[str, Place]
    _states: dict[str, dict[str, Any]]
    _sizes: dict[str, int]

    def _init_held(self) -> None:
        #: This thread's writes held back to be sent together (see ``batched``).
        self._local = threading.local()

    @contextmanager
    def batched(self) -> Iterator[None]:
        """Within this, the calling thread's writes to shared namespaces are held and sent
        together on the way out: the state records of new namespaces first, then each
        shared collection's records, up to ``WRITE_BATCH`` a call (a namespace's records
        are never split between calls). A new namespace's single upsert costs about as
        much as 300 records', so importing many small namespaces is many times faster.

        Anything else this thread does to a namespace with records held (a read, an
        update, a delete) or to the store's records sends them first. Leaving by an
        exception sends nothing still held. Callers hold the namespaces' write locks until
        this ends: held records are not yet visible.
        """
        if getattr(self._local, "batch", None) is not None:
            yield
            return
        batch = Held()
        self._local.batch = batch
        try:
            yield
            self.send_held()
        finally:
            self._local.batch = None
        for namespace in batch.grown:
            self._promote(namespace)

    @shared
    def prefetch(self, namespaces: Sequence[str]) -> None:
        """Within ``batched``: find where each of ``namespaces`` is with a few reads (its
        state records, a batch at a time) rather than a few each; the ones found nowhere
        are new for the rest of the batch (its caller holds their write locks)."""
        batch = self._held()
        if batch is None:
            return
        unknown = [ns for ns in dict.fromkeys(namespaces) if ns not in self._places and not batch.holds(ns)]
        if not unknown:
            return
        with chroma_errors("open namespaces"):
            if self._layout == "own" or self._client.count_collections() > PREFETCH_COLLECTIONS:
                return  # own collections are looked up one by one, as without a batch
            owned = set(own_namespaces(self._client.list_collections()))
            found: dict[str, dict[str, Any]] = {}
            for start in range(0, len(unknown), self._max_batch):
                chunk = unknown[start : start + self._max_batch]
                got = self._meta().get(ids=[entry_id(ns) for ns in chunk], include=["metadatas"])
                for meta in got["metadatas"] or []:
                    entry = dict(meta or {})
                    found[str(entry.get(Key.NAMESPACE))] = entry
        with self._guard:
            for ns in unknown:
                if ns in owned:
                    continue  # its own collection: found by _place
                if ns in found:
                    if self._compactable:
                        self._states.setdefault(ns, found[ns])
                else:
                    batch.absent.add(ns)

    def _held(self) -> Held | None:
        batch: Held | None = getattr(self._local, "batch", None)
        return batch

    @shared
    def send_held(self) -> None:
        """Send what this thread holds (see ``batched``)."""
        batch = self._held()
        if batch is None or not (batch.entries or batch.records):
            return
        entries, records, places = batch.take()
        with chroma_errors("write new namespaces"):
            names = list(entries)
            for start in range(0, len(names), self._max_batch):
                chunk = names[start : start + self._max_batch]
                write_entries(self._meta(), {ns: entries[ns] for ns in chunk})
        with self._guard:
            for namespace in entries:
                self._unsettle(namespace)
                self._places[namespace] = places[namespace]
                self._sizes[namespace] = 0  # new: it holds what is sent now
        for namespace in records:
            self._stale(namespace)
        by_collection: dict[str, list[str]] = {}
        for namespace, place in places.items():
            if namespace in records:
                by_collection.setdefault(place.col.name, []).append(namespace)
        for names in by_collection.values():
            col = places[names[0]].col
            start = 0
            while start < len(names):
                ids: list[str] = []
                vectors: list[np.ndarray] = []
                metas: list[dict[str, Any]] = []
                while start < len(names) and (
                    not ids or len(ids) + len(records[names[start]].ids) <= self._max_batch
                ):
                    held = records[names[start]]
                    ids += held.ids
                    vectors.append(held.embeddings)
                    metas += held.metadatas
                    start += 1
                with chroma_errors(f"write to {len(ids)} records of shared collection {col.name}"):
                    col.upsert(ids=ids, embeddings=np.concatenate(vectors), metadatas=metas)
        for namespace, held in records.items():
            self._stale(namespace)
            if self._grown(places[namespace], len(held.ids)):
                batch.grown.add(namespace)
        # A record written over one that had spill records: those go (priomem._spill).
        self._spill_replaced(
            [
                (ns, places[ns].record_id(cid, dict(meta)))
                for ns, held in records.items()
                for cid, meta in zip(held.ids, held.metadatas, strict=True)
            ],
            [],
        )

    if TYPE_CHECKING:  # provided by the store (declared for the type checker only)

        def _meta(self) -> Any: ...
        def _spill_replaced(self, records: Sequence[tuple[str, str]], kept: Sequence[str]) -> None: ...
        def _stale(self, namespace: str) -> None: ...
        def _grown(self, place: Place, written: int) -> bool: ...
        def _promote(self, namespace: str) -> None: ...
        def _unsettle(self, namespace: str) -> None: ...
