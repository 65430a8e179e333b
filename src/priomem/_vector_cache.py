"""Shared namespaces' vectors kept in memory for exact search (see
``ChromaStore._vectors``): least recently used dropped past a byte budget, and a count of
writes to each namespace, so that a read that raced a write is not kept. Pure; no I/O.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

__all__ = ["VectorCache", "Vectors"]

#: A namespace's chroma ids and their vectors, one row each.
Vectors = tuple[list[str], np.ndarray]


class VectorCache:
    def __init__(self, budget: int) -> None:
        self._budget = budget
        self._kept: OrderedDict[str, Vectors] = OrderedDict()
        self._bytes = 0
        self._writes: dict[str, int] = {}
        self._lock = threading.Lock()

    def get(self, namespace: str) -> tuple[Vectors | None, int]:
        """The namespace's vectors if kept, and its write count (for :meth:`put`)."""
        with self._lock:
            hit = self._kept.get(namespace)
            if hit is not None:
                self._kept.move_to_end(namespace)
            return hit, self._writes.get(namespace, 0)

    def put(self, namespace: str, vectors: Vectors, writes: int) -> None:
        """Keep ``vectors``, read when the namespace's write count was ``writes``: not
        kept if it was written to since."""
        with self._lock:
            if self._writes.get(namespace, 0) != writes:
                return
            replaced = self._kept.pop(namespace, None)
            if replaced is not None:
                self._bytes -= replaced[1].nbytes
            self._kept[namespace] = vectors
            self._bytes += vectors[1].nbytes
            while self._bytes > self._budget and self._kept:
                _, (_, dropped) = self._kept.popitem(last=False)
                self._bytes -= dropped.nbytes

    def stale(self, namespace: str) -> None:
        """The namespace was written to: drop its vectors, and any read under way."""
        with self._lock:
            self._writes[namespace] = self._writes.get(namespace, 0) + 1
            dropped = self._kept.pop(namespace, None)
            if dropped is not None:
                self._bytes -= dropped[1].nbytes

    def clear(self) -> None:
        """Drop every kept namespace (as :meth:`stale` does each)."""
        with self._lock:
            for namespace in self._kept:
                self._writes[namespace] = self._writes.get(namespace, 0) + 1
            self._kept.clear()
            self._bytes = 0
