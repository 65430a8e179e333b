"""Damage to a namespace's collection: finding it (Chroma cannot read it) and repairing
it from what Chroma still holds, the part of :class:`priomem._store.ChromaStore` that
``priomem check --repair`` uses (:mod:`priomem._repair` decides; :mod:`priomem._salvage`
reads what is left). Works on the client's collection objects; imports no ``chromadb``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from priomem import _compaction
from priomem._chroma_calls import chroma_errors
from priomem._errors import StoreError
from priomem._gate import Gate, shared
from priomem._layout import Place, collection_name
from priomem._rebuild import Collections, rebuild, recover

__all__ = ["Damage"]


class Damage:
    """:meth:`probe`, :meth:`salvage` and :meth:`restore`, for the store."""

    _client: Any
    _dimension: int
    _compactable: bool
    _path: Path | None
    _max_batch: int
    _gate: Gate
    _guard: threading.RLock

    @shared
    def probe(self, namespace: str) -> str | None:
        """None if Chroma can read the namespace's collection, else what it said (asked
        twice, of the collection as it is now, so a passing hiccup is no finding)."""
        error: str | None = None
        for attempt in range(2):
            try:
                place = self._place(namespace, create=False)
                col = None if place is None else self._get_collection(place.col.name)
                if col is None:
                    return None
            except StoreError as exc:
                error = str(exc)
                continue
            self._forget_place(namespace)
            try:
                col.count()
                col.get(limit=1, include=["documents", "metadatas"])
                col.query(query_embeddings=[np.ones(self._dimension, np.float32)], n_results=1, include=[])
                return None
            except Exception as exc:  # any failure is the finding
                error = str(exc) or type(exc).__name__
            if attempt == 0:
                time.sleep(0.2)
        return error

    def can_salvage(self, namespace: str) -> bool:
        """Whether a damaged namespace can be repaired here: in an embedded store this owns,
        a namespace with a collection of its own (a shared collection holds others too)."""
        return self._compactable and self._get_collection(collection_name(namespace)) is not None

    def salvage(self, namespace: str) -> dict[str, Any]:
        """The records Chroma still holds of a namespace it cannot read (embedded stores)."""
        from priomem._salvage import salvage

        if self._path is None:
            return {}
        with self._gate.shared(), chroma_errors(f"open namespace {namespace!r}"):
            col = self._get_collection(collection_name(namespace))
            if col is None:
                return {}
            return salvage(self._path / _compaction.DATABASE, str(col.id))

    def restore(
        self,
        namespace: str,
        ids: Sequence[str],
        embeddings: np.ndarray,
        documents: Sequence[str],
        metadatas: Sequence[Mapping[str, Any]],
    ) -> None:
        """Replace a namespace's collection by a fresh one holding exactly these records
        (crash-safe like a compaction's rebuild)."""
        step = self._max_batch
        batches = [
            (list(ids[i : i + step]), embeddings[i : i + step], list(documents[i : i + step]),
             [dict(m) for m in metadatas[i : i + step]])
            for i in range(0, len(ids), step)
        ]  # fmt: skip
        with self._gate.exclusive(), self._guard:
            self._forget_place(namespace)
            try:
                with chroma_errors(f"repair namespace {namespace!r}"):
                    rebuild(self._collections(), collection_name(namespace), step, batches)
            except BaseException:
                with suppress(Exception), chroma_errors("recover the store"):
                    recover(self._collections())
                raise
            finally:
                self._forget_place(namespace)

    if TYPE_CHECKING:  # provided by the store (declared for the type checker only)

        def _place(self, namespace: str, *, create: bool) -> Place | None: ...
        def _forget_place(self, namespace: str) -> None: ...
        def _get_collection(self, name: str) -> Any | None: ...
        def _collections(self) -> Collections: ...
