"""The engine's core: what its helpers (writes, export, lifecycle, pressure) work on.

:class:`EngineCore` holds the store, the settings, the embedder, the worker pool, the
access recorder, the locks, the quota and retention planner (:class:`~priomem._pressure.Pressure`)
and the one :meth:`~EngineCore.delete` that every deletion goes through (Chroma, the
access recorder and the audit record together). :class:`priomem.MemoryEngine` is the
public face on top of it; helpers take a core, never the engine, so no module reaches
into another's private names.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from priomem import _audit, _upgrade
from priomem._access import AccessRecorder
from priomem._embedding import Embedder, as_matrix
from priomem._pressure import Pressure
from priomem._settings import Settings
from priomem._store import ChromaStore
from priomem._validation import validate_namespace

__all__ = ["EngineCore"]

log = logging.getLogger("priomem")


class EngineCore:
    """The store and everything that works on it, shared by the engine and its helpers."""

    def __init__(self, store: ChromaStore, settings: Settings, embedder: Embedder) -> None:
        self.store = store
        self.settings = settings
        self.embedder = embedder
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="priomem")
        self.access = AccessRecorder(store.update_metadata, many=store.update_uses)
        self.pressure = Pressure(self)
        self._ns_locks: dict[str, threading.Lock] = {}
        self._ns_guard = threading.Lock()
        self._current: set[str] = set()
        # Held by writes while a store-wide quota is in force: they plan against every
        # namespace, so two at once in different namespaces could both take the last room.
        self._room_lock = threading.Lock()

    # -- namespaces and locks ------------------------------------------------------------
    def ns_lock(self, namespace: str) -> threading.Lock:
        """The lock of ``namespace`` (one per namespace and process)."""
        with self._ns_guard:
            return self._ns_locks.setdefault(namespace, threading.Lock())

    @contextlib.contextmanager
    def write_locks(self, namespace: str) -> Iterator[None]:
        """The namespace's lock, and the store-wide one while a store quota is in force."""
        shared = self.pressure.policy(namespace).store_quota.limited
        with self._room_lock if shared else contextlib.nullcontext(), self.ns_lock(namespace):
            yield

    def namespace(self, namespace: Any) -> str:
        """``namespace`` checked (None: the default), brought to the current record layout."""
        ns = validate_namespace(self.settings.default_namespace if namespace is None else namespace)
        if ns not in self._current:
            # Once per namespace and process: a namespace an older priomem wrote is
            # brought to the current record layout before it is used.
            with self.ns_lock(ns):
                self.upgrade_held(ns)
        return ns

    def upgrade_held(self, namespace: str) -> None:
        """``namespace``'s upgrade (see :meth:`namespace`), for a caller holding its lock."""
        if namespace not in self._current:
            _upgrade.upgrade_namespace(self.store, namespace)
            self._current.add(namespace)

    # -- embedding -----------------------------------------------------------------------
    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised vectors of ``texts``, in ``embed_batch_size`` calls to the embedder.

        Texts are batched longest first (and put back in order after), as
        sentence-transformers does within one call: a batch pads to its longest text, so
        mixing lengths would waste most of the work on padding.
        """
        size = self.settings.embed_batch_size
        dim = self.embedder.dimension
        if not texts:
            return np.zeros((0, dim), np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.empty((len(texts), dim), np.float32)
        for start in range(0, len(order), size):
            chunk = order[start : start + size]
            out[chunk] = as_matrix(self.embedder.embed_documents([texts[i] for i in chunk]), dim, len(chunk))
        return out

    # -- deletion: the one way ------------------------------------------------------------
    def delete(
        self,
        ns: str,
        ids: Sequence[str],
        *,
        whole: bool = False,
        action: str = "forget",
        selector: Mapping[str, Any] | None = None,
    ) -> None:
        """Delete ``ids`` of ``ns`` (``whole``: drop the namespace, ``ids`` being all of it),
        forget their access counts, and write the audit record of ``action``."""
        if whole:
            self.store.drop(ns)
            self.access.forget(ns)
        elif ids:
            self.store.delete(ns, ids)
            self.access.forget(ns, ids)
        if ids:
            _audit.append(self.store, action, ns, selector or {}, ids)
            log.info("%s: deleted %d memories in %r", action, len(ids), ns)
