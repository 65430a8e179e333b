"""Deferred access bookkeeping: recall marks what it returned, a background thread writes it.

Recall must stay fast, so it never waits for the metadata writes that record
``access_count`` and ``last_accessed_at``; they are batched and flushed every
``interval`` seconds, and on close.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from priomem._records import Key

__all__ = ["AccessRecorder"]

log = logging.getLogger("priomem")

Writer = Callable[[str, Sequence[str], Sequence[dict[str, Any]]], None]
#: Writes the accesses of many namespaces at once: namespace -> (ids, metadata changes).
ManyWriter = Callable[[dict[str, tuple[list[str], list[dict[str, Any]]]]], None]


class AccessRecorder:
    """Collects (namespace, id) accesses and writes them in batches."""

    def __init__(self, writer: Writer, *, interval: float = 1.0, many: ManyWriter | None = None) -> None:
        self._writer = writer
        #: one call for every namespace (a call a shared collection, not a namespace)
        self._many = many
        self._interval = interval
        self._pending: dict[tuple[str, str], tuple[int, float]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None

    def record(self, namespace: str, hits: Sequence[tuple[str, int]], when: float) -> None:
        """Note that each ``(id, stored access_count)`` was returned at ``when``."""
        with self._lock:
            for memory_id, stored_count in hits:
                key = (namespace, memory_id)
                previous = self._pending.get(key)
                count = (previous[0] if previous else stored_count) + 1
                self._pending[key] = (count, when)
            if self._thread is None and not self._stop:
                self._thread = threading.Thread(target=self._run, name="priomem-access", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._stop:
            self._wake.wait(self._interval)
            self._wake.clear()
            self.flush()

    def flush(self) -> None:
        """Write every pending access now."""
        with self._lock:
            pending, self._pending = self._pending, {}
        by_namespace: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for (namespace, memory_id), (count, when) in pending.items():
            by_namespace.setdefault(namespace, []).append(
                (memory_id, {Key.ACCESS: count, Key.ACCESSED: when})
            )
        if self._many is not None and by_namespace:
            try:
                self._many(
                    {ns: ([u[0] for u in ups], [u[1] for u in ups]) for ns, ups in by_namespace.items()}
                )
                return
            except Exception as exc:  # one namespace at a time then: one failure loses only its own
                log.warning("could not record memory accesses together (%s); one namespace at a time", exc)
        for namespace, updates in by_namespace.items():
            try:
                self._writer(namespace, [u[0] for u in updates], [u[1] for u in updates])
            except Exception as exc:  # bookkeeping must never break recall
                log.warning("could not record memory accesses in %r: %s", namespace, exc)

    def forget(self, namespace: str, ids: Sequence[str] | None = None) -> None:
        """Drop pending accesses of deleted memories (all of ``namespace`` when ids is None)."""
        with self._lock:
            if ids is None:
                self._pending = {k: v for k, v in self._pending.items() if k[0] != namespace}
            else:
                for memory_id in ids:
                    self._pending.pop((namespace, memory_id), None)

    def close(self) -> None:
        self._stop = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()
