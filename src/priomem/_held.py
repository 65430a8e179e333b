"""Writes held back by :meth:`priomem._store.ChromaStore.batched`, to be sent together.

One thread's: the state records of namespaces it created and the records it wrote to
shared namespaces, by namespace, in the order written. Pure bookkeeping; the store sends.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from priomem._layout import Place

__all__ = ["Held", "HeldRecords"]


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
