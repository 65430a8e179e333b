"""Short-lived memory of what the engine said: recent searches and namespace counts."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

from priomem import MemoryEngine, RecallHit

__all__ = ["SearchCache", "StatsCache"]


class SearchCache:
    """Recent search results, so a memory opened from a search shows the score the list showed
    without asking ``recall`` again (which would count another access)."""

    def __init__(self, *, ttl: float = 900.0, capacity: int = 64) -> None:
        self._ttl = ttl
        self._capacity = capacity
        self._items: OrderedDict[tuple[Any, ...], tuple[float, list[RecallHit]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> list[RecallHit] | None:
        """The hits of a recent identical search, or None."""
        with self._lock:
            entry = self._items.get(key)
            if entry is None or entry[0] < time.monotonic():
                return None
            return entry[1]

    def put(self, key: tuple[Any, ...], hits: list[RecallHit]) -> None:
        """Keep a search's hits."""
        with self._lock:
            self._items[key] = (time.monotonic() + self._ttl, hits)
            self._items.move_to_end(key)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)

    def drop_namespace(self, namespace: str) -> None:
        """Forget every search of a namespace (after a change made through the UI)."""
        with self._lock:
            for key in [k for k in self._items if k[0] == namespace]:
                del self._items[key]


class StatsCache:
    """``engine.stats`` per namespace, kept for ten times as long as it took to compute (at
    most a minute): free on a small store, and on a large one (seconds per call) paging
    through a list does not recount the namespace on every page. UI actions drop it."""

    def __init__(self, *, factor: float = 10.0, longest: float = 60.0) -> None:
        self._factor = factor
        self._longest = longest
        self._items: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def get(self, engine: MemoryEngine, namespace: str) -> dict[str, Any]:
        """The namespace's stats, from the cache while they are fresh."""
        with self._lock:
            entry = self._items.get(namespace)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        started = time.monotonic()
        stats = engine.stats(namespace)
        took = time.monotonic() - started
        with self._lock:
            self._items[namespace] = (time.monotonic() + min(self._longest, took * self._factor), stats)
            if len(self._items) > 1000:
                self._items.clear()
        return stats

    def drop(self, namespace: str) -> None:
        """Forget a namespace's stats (after a change made through the UI)."""
        with self._lock:
            self._items.pop(namespace, None)
