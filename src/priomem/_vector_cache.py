"""Shared namespaces kept in memory (see ``ChromaStore._vectors``): their vectors, for exact
search, and for a small namespace its records' metadata too, so that a recall in it reads
nothing more from Chroma. Least recently used dropped past a byte budget; a count of writes
to each namespace, so that a read that raced a write is not kept. Pure; no I/O.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Kept", "VectorCache"]


@dataclass(slots=True)
class Kept:
    """A namespace's chroma ids and their vectors, one row each; for a small namespace
    also each record's metadata as Chroma holds it (None: not kept)."""

    ids: list[str]
    matrix: np.ndarray
    metas: list[dict[str, Any]] | None = None

    @property
    def nbytes(self) -> int:
        """About what it costs in memory (counted when it is kept, not for each read of it)."""
        size = self.matrix.nbytes + 64 * len(self.ids)
        return size + (sum(_meta_bytes(m) for m in self.metas) if self.metas is not None else 0)


def _meta_bytes(meta: Mapping[str, Any]) -> int:
    """About what a record's metadata costs in memory (a dict entry is ~100 bytes)."""
    size = 0
    for key, value in meta.items():
        size += 100 + len(key)
        if isinstance(value, str):
            size += len(value)
        elif isinstance(value, list):
            size += sum(60 + len(str(v)) for v in value)
    return size


class VectorCache:
    def __init__(self, budget: int) -> None:
        self._budget = budget
        self._kept: OrderedDict[str, Kept] = OrderedDict()
        #: what each kept namespace was counted as when kept (``Kept.nbytes`` then)
        self._sizes: dict[str, int] = {}
        self._bytes = 0
        self._writes: dict[str, int] = {}
        self._lock = threading.Lock()

    def get(self, namespace: str) -> tuple[Kept | None, int]:
        """The namespace's vectors if kept, and its write count (for :meth:`put`)."""
        with self._lock:
            hit = self._kept.get(namespace)
            if hit is not None:
                self._kept.move_to_end(namespace)
            return hit, self._writes.get(namespace, 0)

    def put(self, namespace: str, kept: Kept, writes: int) -> None:
        """Keep ``kept``, read when the namespace's write count was ``writes``: not
        kept if it was written to since."""
        with self._lock:
            if self._writes.get(namespace, 0) != writes:
                return
            self._drop(namespace)
            self._kept[namespace] = kept
            self._sizes[namespace] = kept.nbytes
            self._bytes += self._sizes[namespace]
            while self._bytes > self._budget and self._kept:
                self._drop(next(iter(self._kept)))

    def _drop(self, namespace: str) -> None:
        if self._kept.pop(namespace, None) is not None:
            self._bytes -= self._sizes.pop(namespace)

    def stale(self, namespace: str) -> None:
        """The namespace was written to: drop what is kept of it, and any read under way."""
        with self._lock:
            self._writes[namespace] = self._writes.get(namespace, 0) + 1
            self._drop(namespace)

    def patch(self, namespace: str, ids: Sequence[str], changes: Sequence[Mapping[str, Any]]) -> None:
        """Records of the namespace had ``changes`` merged into their metadata (a None
        value removes its key): apply them to what is kept; a read under way is not kept."""
        with self._lock:
            self._writes[namespace] = self._writes.get(namespace, 0) + 1
            kept = self._kept.get(namespace)
            if kept is None or kept.metas is None:
                return
            where = {cid: i for i, cid in enumerate(kept.ids)}
            for cid, change in zip(ids, changes, strict=True):
                i = where.get(cid)
                if i is None:
                    continue
                # A new dict: a reader may be copying the old one meanwhile.
                merged = {**kept.metas[i], **change}
                kept.metas[i] = {k: v for k, v in merged.items() if v is not None}

    def clear(self) -> None:
        """Drop every kept namespace (as :meth:`stale` does each)."""
        with self._lock:
            for namespace in self._kept:
                self._writes[namespace] = self._writes.get(namespace, 0) + 1
            self._kept.clear()
            self._sizes.clear()
            self._bytes = 0
