"""The priority-memory engine: remember, recall, forget, on Chroma."""

from __future__ import annotations

import builtins
import contextlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any, TypeVar

import numpy as np

from priomem import _audit, _export, _lifecycle, _lineage, _writes
from priomem._async import async_twin
from priomem._consolidate import Consolidation
from priomem._core import EngineCore
from priomem._embedding import Embedder, HashEmbedder, SentenceTransformerEmbedder, as_matrix
from priomem._errors import InvalidInputError, NotFoundError, WrongTypeError
from priomem._filters import Filter
from priomem._models import ForgetReport, Memory, RecallHit
from priomem._priority import Priority, PriorityLike
from priomem._quota import Quota
from priomem._recall import HybridSearcher
from priomem._records import USER_PREFIX, decode, encode, epoch
from priomem._repair import NamespaceCheck, check_namespace
from priomem._requests import Item, prepare_item, prepare_items
from priomem._retention import RetentionPolicy
from priomem._settings import Settings
from priomem._stats import namespace_stats, store_stats
from priomem._store import ChromaStore
from priomem._timeparse import parse_duration, parse_time, utcnow
from priomem._validation import (
    validate_content,
    validate_dataset,
    validate_datasets,
    validate_id,
    validate_ids,
    validate_k,
    validate_limit,
    validate_tags,
)

__all__ = ["MemoryEngine"]

log = logging.getLogger("priomem")
T = TypeVar("T")

#: Small namespaces of one write whose records are sent together (``MemoryEngine._groups``).
BATCH_NAMESPACES = 256


def default_embedder(settings: Settings) -> Embedder:
    """The embedder ``settings.embedder`` names: the real model, or the hash embedder for tests."""
    if settings.embedder == "hash":
        return HashEmbedder(384)
    if settings.embed_backend == "torch":
        return SentenceTransformerEmbedder(batch_size=settings.embed_batch_size)
    from priomem._onnx import AutoEmbedder, OnnxEmbedder

    if settings.embed_backend == "onnx":
        return OnnxEmbedder(batch_size=settings.embed_batch_size)
    return AutoEmbedder(batch_size=settings.embed_batch_size)


@dataclass(frozen=True, slots=True)
class WriteReport:
    """What a write stored, and what it evicted to make room."""

    memories: tuple[Memory, ...]
    evicted: tuple[Memory, ...]


class MemoryEngine:
    """A long-term memory that ranks by meaning, words, priority and recency.

    ``path``: an embedded, persistent store in that folder (default: ``PRIOMEM_PATH`` or
    the per-user data folder). ``url``: a Chroma server instead (``http://host:port``).
    ``client``: any Chroma client (tests pass ``chromadb.EphemeralClient()``).
    ``embedder``: any :class:`~priomem.Embedder` (default: all-MiniLM-L6-v2, loaded on
    first use). ``settings``: a :class:`~priomem.Settings` (default: from ``PRIOMEM_*``).

    Safe to share between threads. Use it as a context manager, or call :meth:`close`::

        with MemoryEngine("./memory") as engine:
            engine.remember("Nightly ETL must finish by 06:00 UTC", priority="critical")
            hits = engine.recall("when is the ETL deadline?")
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        url: str | None = None,
        client: Any = None,
        embedder: Embedder | None = None,
        settings: Settings | None = None,
    ) -> None:
        if sum(x is not None for x in (path, url, client)) > 1:
            raise InvalidInputError("give at most one of path, url and client.", field="path")
        settings = settings if settings is not None else Settings.from_env()
        embedder = embedder or default_embedder(settings)
        hnsw = {
            "ef_construction": settings.hnsw_ef_construction,
            "ef_search": settings.hnsw_ef_search,
            "max_neighbors": settings.hnsw_max_neighbors,
        }
        common = {
            "model_name": embedder.name,
            "dimension": embedder.dimension,
            "hnsw": hnsw,
            "layout": settings.namespace_layout,
            "own_collection_at": settings.own_collection_at,
        }
        if client is not None:
            self._store = ChromaStore(client, **common)  # type: ignore[arg-type]
        elif url is not None or (path is None and settings.url):
            self._store = ChromaStore.open_url(url or settings.url or "", settings.chroma_token, **common)  # type: ignore[arg-type]
        else:
            folder = Path(path).expanduser() if path is not None else settings.resolved_path()
            self._store = ChromaStore.open_path(folder, **common)  # type: ignore[arg-type]
        self._core = core = EngineCore(self._store, settings, embedder)
        self._pool, self._access, self._pressure = core.pool, core.access, core.pressure
        self._searcher = HybridSearcher(self._store, self._embed_query, settings, self._pool)
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        """The engine's settings; assigning new ones applies them everywhere at once."""
        return self._core.settings

    @settings.setter
    def settings(self, value: Settings) -> None:
        self._core.settings = self._searcher.settings = value

    @property
    def embedder(self) -> Embedder:
        """The embedding model (read-only: a store is tied to its model)."""
        return self._core.embedder

    @property
    def location(self) -> str:
        """Where the store lives: a folder, a server URL, or 'a Chroma client'."""
        return self._store.location

    def close(self, *, compact: bool | None = None) -> None:
        """Write pending bookkeeping and release the store (and its lock). Idempotent.

        An embedded store with deletions is compacted first (:meth:`compact`) when
        ``compact`` is true, or, by default, when ``settings.compact_on_close`` is.
        """
        if self._closed:
            return
        self._closed = True
        self._access.close()
        self._pool.shutdown(wait=True)
        self._store.close(compact=self.settings.compact_on_close if compact is None else compact)

    def __enter__(self) -> MemoryEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- embedding (documents: EngineCore.embed_documents) -----------------------------
    def _embed_query(self, text: str) -> np.ndarray:
        with self._cache_lock:
            cached = self._query_cache.get(text)
            if cached is not None:
                self._query_cache.move_to_end(text)
                return cached
        vector: np.ndarray = as_matrix(self.embedder.embed_query(text), self.embedder.dimension, 1)[0]
        with self._cache_lock:
            self._query_cache[text] = vector
            if len(self._query_cache) > 256:
                self._query_cache.popitem(last=False)
        return vector

    # -- remember ----------------------------------------------------------------------
    def remember(
        self,
        content: str,
        *,
        priority: PriorityLike = Priority.MEDIUM,
        namespace: str | None = None,
        tags: Iterable[str] = (),
        metadata: Mapping[str, Any] | None = None,
        ttl: timedelta | str | float | None = None,
        created_at: datetime | str | None = None,
        refs: Iterable[str] = (),
        thread: str | None = None,
        reads: Iterable[str] = (),
        writes: Iterable[str] = (),
    ) -> Memory:
        """Store ``content`` and return the stored :class:`Memory`.

        Content equal (after collapsing whitespace) to a live memory of the namespace
        reinforces that memory instead: the higher priority is kept, tags and metadata
        merge, its access count rises. ``ttl`` overrides the priority's default
        retention; both count from now (``stored_at``), not from ``created_at``.
        ``thread`` names the conversation this memory is a turn of: recall reads turns of
        one thread in the context of the turns just before them (a reply is found
        through the question it answers). Without it, a memory is judged on its own.
        ``reads`` / ``writes``: the datasets, tables or jobs (URIs or dotted names such
        as ``raw.orders``) the work this memory describes read and wrote: its lineage,
        walked by :meth:`lineage` and filtered on by ``lineage=``.
        """
        item = prepare_item(
            self.settings,
            content,
            priority=priority,
            namespace=namespace,
            tags=tags,
            metadata=metadata,
            ttl=ttl,
            created_at=created_at,
            refs=refs,
            thread=thread,
            reads=reads,
            writes=writes,
        )
        return self._write([item]).memories[0]

    def remember_many_report(self, items: Iterable[Mapping[str, Any]]) -> WriteReport:
        """Like :meth:`remember_many`, and also returns what was evicted to make room."""
        prepared = prepare_items(self.settings, items)
        return self._write(prepared) if prepared else WriteReport(memories=(), evicted=())

    def remember_many(self, items: Iterable[Mapping[str, Any]]) -> builtins.list[Memory]:
        """Store many memories with batched embedding; the fast path for imports.

        Each item is a mapping with ``remember``'s argument names. Every item is
        validated before anything is written: one bad item refuses the whole call and
        names its index.
        """
        return list(self.remember_many_report(items).memories)

    def _write(self, items: builtins.list[Item]) -> WriteReport:
        results: builtins.list[Memory | None] = [None] * len(items)
        evicted: builtins.list[Memory] = []
        by_namespace: dict[str, builtins.list[int]] = {}
        for index, item in enumerate(items):
            by_namespace.setdefault(item.namespace, []).append(index)

        def write(namespace: str) -> None:
            indexes = by_namespace[namespace]
            written, gone = _writes.write_namespace(self._core, namespace, [items[i] for i in indexes])
            evicted.extend(gone)
            for index, memory in written:
                results[indexes[index]] = memory

        for group in self._groups(by_namespace):
            if len(group) == 1:
                self._core.namespace(group[0])
                with self._core.write_locks(group[0]):
                    write(group[0])
                continue
            # Many small namespaces, under all of their locks (taken in name order): where
            # each is and its rules are read for all at once, and their writes are sent
            # together (ChromaStore.batched) before the locks are released.
            with contextlib.ExitStack() as locks, self._store.batched():
                for namespace in group:
                    locks.enter_context(self._core.ns_lock(namespace))
                self._store.prefetch(group)
                self._core.pressure.prefetch(group)
                for namespace in group:
                    self._core.upgrade_held(namespace)
                for namespace in group:
                    write(namespace)
                self._store.send_held()
        return WriteReport(memories=tuple(m for m in results if m is not None), evicted=tuple(evicted))

    def _groups(self, by_namespace: Mapping[str, Sequence[int]]) -> Iterator[builtins.list[str]]:
        """The namespaces of one write, in groups written together: small namespaces (one
        embedding step each) in name order, up to ``BATCH_NAMESPACES`` a group; a large
        one alone. Alone too while a store-wide quota is in force (each write plans
        against everything stored, so each must be stored before the next plans)."""
        names = builtins.list(by_namespace)
        if len(names) == 1 or self._core.pressure.policy(names[0]).store_quota.limited:
            for name in names:
                yield [name]
            return
        small = sorted(n for n in names if len(by_namespace[n]) <= _writes.WRITE_STEP)
        for name in names:
            if len(by_namespace[name]) > _writes.WRITE_STEP:
                yield [name]
        for start in range(0, len(small), BATCH_NAMESPACES):
            yield small[start : start + BATCH_NAMESPACES]

    # -- recall ------------------------------------------------------------------------
    def _filter(
        self,
        *,
        tags: Any = None,
        min_priority: Any = None,
        max_priority: Any = None,
        since: Any = None,
        until: Any = None,
        before: Any = None,
        lineage: Any = None,
        now: datetime,
    ) -> Filter:
        return Filter(
            tags=validate_tags(tags, self.settings.max_tags),
            lineage=validate_datasets(lineage, "lineage"),
            min_priority=None if min_priority is None else Priority.parse(min_priority, field="min_priority"),
            max_priority=None if max_priority is None else Priority.parse(max_priority, field="max_priority"),
            since=None if since is None else parse_time(since, field="since", now=now),
            until=None if until is None else parse_time(until, field="until", now=now),
            before=None if before is None else parse_time(before, field="before", now=now),
        )

    def recall(
        self,
        query: str,
        *,
        k: int = 5,
        namespace: str | None = None,
        tags: Iterable[str] | None = None,
        lineage: Iterable[str] | None = None,
        min_priority: PriorityLike | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        record_access: bool = True,
    ) -> builtins.list[RecallHit]:
        """The ``k`` memories that best answer ``query``, best first.

        Ranking fuses embedding similarity with word matches (hybrid recall), then adds
        priority, recency and access boosts (:mod:`priomem._scoring`). Filters: the
        memory must carry every tag in ``tags``, read or write every dataset in
        ``lineage``, have at least ``min_priority``, and have
        been created between ``since`` and ``until`` (datetimes, ISO strings or "48h").
        Expired memories are never returned. ``record_access=False`` leaves access counts
        alone (for people browsing, whose looks should not reinforce a memory).
        """
        if not isinstance(query, str):
            raise WrongTypeError(f"query: expected a string, got {type(query).__name__}.", field="query")
        text = validate_content(query, self.settings.max_content_chars, field="query")
        k = validate_k(k, self.settings.max_k)
        ns = self._core.namespace(namespace)
        now = utcnow()
        flt = self._filter(
            tags=tags, lineage=lineage, min_priority=min_priority, since=since, until=until, now=now
        )
        hits = self._searcher.search(text, k, ns, flt, now)
        if hits and record_access:
            self._access.record(ns, [(h.memory.id, h.memory.access_count) for h in hits], epoch(now))
        return hits

    # -- read --------------------------------------------------------------------------
    def get(self, id: str, *, namespace: str | None = None) -> Memory | None:
        """The memory with ``id`` in ``namespace``, or None (also when it has expired)."""
        memory_id = validate_id(id)
        ns = self._core.namespace(namespace)
        rows = self._store.get(ns, ids=[memory_id])
        if not rows:
            return None
        memory = decode(rows[0].id, rows[0].document, rows[0].metadata, ns)
        return None if memory.is_expired(utcnow()) else memory

    def list(
        self,
        *,
        namespace: str | None = None,
        tags: Iterable[str] | None = None,
        lineage: Iterable[str] | None = None,
        min_priority: PriorityLike | None = None,
        max_priority: PriorityLike | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[Memory]:
        """Live memories of a namespace, newest ``created_at`` first, ``limit`` (<= 1,000) at a time."""
        ns = self._core.namespace(namespace)
        limit = validate_limit(limit, self.settings.max_list_limit)
        offset = validate_limit(offset, 2**31, field="offset", minimum=0)
        now = utcnow()
        flt = self._filter(
            tags=tags,
            lineage=lineage,
            min_priority=min_priority,
            max_priority=max_priority,
            since=since,
            until=until,
            now=now,
        )
        # Ids are ULIDs that sort by created_at: the ids newest first, read a page at a time
        # and checked (liveness, and any bound) until the page is full. Without a priority or
        # time bound the ids are narrowed by tags and datasets only: a range clause on expiry
        # would cost in proportion to the whole embedded store, for what is nearly always
        # every record; with one, Chroma applies the bounds (they are what the caller asked).
        now_e = epoch(now)
        where = flt.where(live_at=now_e) if flt.ranged else flt.exact_where()
        ids = sorted(self._store.ids(ns, where=where), reverse=True)
        found: builtins.list[Memory] = []
        skip = offset
        step = max(limit, 100)
        for start in range(0, len(ids), step):
            rows = {r.id: r for r in self._store.get(ns, ids=ids[start : start + step])}
            for rid in ids[start : start + step]:
                row = rows.get(rid)
                if row is None or not flt.matches(row.metadata, now_e):
                    continue
                if skip:
                    skip -= 1
                    continue
                found.append(decode(row.id, row.document, row.metadata, ns))
            if len(found) >= limit:
                break
        found = found[:limit]
        found.sort(key=lambda m: (m.created_at, m.id), reverse=True)
        return found

    def lineage(self, name: str, *, namespace: str | None = None, depth: int = 3) -> _lineage.Lineage:
        """Where dataset ``name`` comes from and what depends on it (see :mod:`priomem._lineage`).

        ``upstream``: the memories that wrote it, then those that wrote what they read, up
        to ``depth`` hops (1-10); ``downstream``: the memories that read it, and so on.
        Expired memories are left out.
        """
        dataset = validate_dataset(name, "name")
        depth = validate_limit(depth, _lineage.MAX_DEPTH, field="depth")
        return _lineage.walk_store(
            self._store, self._core.namespace(namespace), dataset, depth, epoch(utcnow())
        )

    def set_priority(self, id: str, priority: PriorityLike, *, namespace: str | None = None) -> Memory:
        """Change a memory's priority (its id stays); retention is recomputed for the new one.

        Raises :class:`NotFoundError` when no live memory has that id in the namespace.
        """
        memory_id = validate_id(id)
        new_priority = Priority.parse(priority)
        ns = self._core.namespace(namespace)
        with self._core.ns_lock(ns):
            current = self.get(memory_id, namespace=ns)
            if current is None:
                raise NotFoundError(
                    f"no memory {memory_id!r} in namespace {ns!r}; check the id (priomem list).", field="id"
                )
            retention = self._pressure.policy(ns).retention
            updated = replace(
                current,
                priority=new_priority,
                expires_at=retention.expiry(new_priority, current.ttl, current.metadata, current.stored_at),
            )
            if current.priority is not Priority.CRITICAL:
                self._pressure.check_promotion(ns, [updated], epoch(utcnow()))
            self._store.update_metadata(ns, [memory_id], [encode(updated)[1]])
        return updated

    def namespaces(self) -> builtins.list[str]:
        """Every namespace that holds (or held) memories."""
        return self._store.namespaces()

    def stats(self, namespace: str | None = None) -> dict[str, Any]:
        """Tenant analytics (see :mod:`priomem._stats`): counts by priority, sizes, ages,
        expiry, quota use, distribution by classification and stage, lineage.

        With ``namespace``: that namespace. Without: every namespace and the store's totals.
        """
        store_quota = self.get_quota("*")
        guarantees = self._pressure.guarantees() if store_quota.limited else {}

        def one(ns: str) -> dict[str, Any]:
            quota = self._pressure.policy(ns).quota
            return namespace_stats(self._store, ns, quota, guaranteed=ns in guarantees)

        if namespace is not None:
            return one(self._core.namespace(namespace))
        return store_stats({ns: one(ns) for ns in self.namespaces()}, store_quota, guarantees)

    # -- forget ------------------------------------------------------------------------
    def forget(
        self,
        ids: Iterable[str] | None = None,
        *,
        namespace: str | None = None,
        tags: Iterable[str] | None = None,
        lineage: Iterable[str] | None = None,
        before: datetime | str | None = None,
        max_priority: PriorityLike | None = None,
        everything: bool = False,
        dry_run: bool = False,
    ) -> int:
        """Delete memories for real and return how many (with ``dry_run``, how many would go).

        By ``ids``, or by filter: every tag in ``tags``, every dataset in ``lineage``
        (read or written), created before ``before``, at
        most ``max_priority``. A call with neither is refused unless ``everything=True``
        (which empties the namespace). ``ids=[]`` forgets nothing.
        """
        return self.forget_report(
            ids,
            namespace=namespace,
            tags=tags,
            lineage=lineage,
            before=before,
            max_priority=max_priority,
            everything=everything,
            dry_run=dry_run,
        ).count

    def forget_report(
        self,
        ids: Iterable[str] | None = None,
        *,
        namespace: str | None = None,
        tags: Iterable[str] | None = None,
        lineage: Iterable[str] | None = None,
        before: datetime | str | None = None,
        max_priority: PriorityLike | None = None,
        everything: bool = False,
        dry_run: bool = False,
    ) -> ForgetReport:
        """Like :meth:`forget`, but returns the ids selected (:class:`ForgetReport`)."""
        ns = self._core.namespace(namespace)
        if not isinstance(everything, bool) or not isinstance(dry_run, bool):
            raise WrongTypeError("everything and dry_run must be booleans.", field="everything")
        now = utcnow()
        flt = self._filter(tags=tags, lineage=lineage, before=before, max_priority=max_priority, now=now)
        wanted = None if ids is None else validate_ids(ids)
        if wanted is None and flt.empty and not everything:
            raise InvalidInputError(
                f"forget needs ids or a filter (tags, lineage, before, max_priority); to empty namespace {ns!r} "
                "pass everything=True (priomem forget --everything).",
                field="ids",
            )
        if wanted is not None and not wanted:
            return ForgetReport(ids=(), dry_run=dry_run)
        with self._core.ns_lock(ns):
            if wanted is not None:
                rows = self._store.get(ns, ids=list(wanted), documents=False)
                selected = [r.id for r in rows if flt.empty or flt.matches(r.metadata, float("-inf"))]
            else:
                selected = self._store.ids(ns, where=flt.where())
            if not dry_run:
                selector: dict[str, Any] = {"ids": wanted is not None, "everything": everything}
                selector.update(
                    {
                        k: v
                        for k, v in (
                            ("tags", list(flt.tags)),
                            ("lineage", list(flt.lineage)),
                            ("before", flt.before and flt.before.isoformat()),
                            ("max_priority", flt.max_priority and flt.max_priority.name),
                        )
                        if v
                    }
                )
                self._core.delete(ns, selected, whole=wanted is None and flt.empty, selector=selector)
        return ForgetReport(ids=tuple(selected), dry_run=dry_run)

    def sweep(self) -> int:
        """Apply retention now, with real deletion; returns how many memories were deleted.

        Deletes expired memories, and re-applies the retention rules in force (a
        namespace's overrides, classification caps) to memories written under older rules.
        """
        now_e = epoch(utcnow())
        return sum(_lifecycle.sweep_namespace(self._core, ns, now_e) for ns in self.namespaces())

    # -- memory under pressure: quotas, retention, erasure, audit -------------------------
    def set_quota(
        self,
        namespace: str | None,
        *,
        max_memories: int | None = None,
        max_bytes: int | None = None,
        critical_reserve: float = 0.15,
        compliance_reserve: float = 0.05,
    ) -> Quota:
        """Set a namespace's capacity (``namespace="*"``: the whole store); None is unlimited.

        A namespace's quota is also its guarantee under the store quota: guarantees that
        add up to more than the store quota are refused (:class:`InvalidInputError`,
        nothing changed). Takes effect for later writes; stored in the store, so every
        process shares it. See :mod:`priomem._pressure` for the rules.
        """
        quota = Quota(max_memories, max_bytes, critical_reserve, compliance_reserve)
        self._pressure.set_quota(None if namespace == "*" else self._core.namespace(namespace), quota)
        return quota

    def get_quota(self, namespace: str | None = None) -> Quota:
        """A namespace's quota in force (``"*"``: the store-wide one)."""
        if namespace == "*":
            return self._pressure.policy(self.settings.default_namespace).store_quota
        return self._pressure.policy(self._core.namespace(namespace)).quota

    def set_retention(
        self,
        namespace: str | None,
        *,
        priority: Mapping[Any, Any] | None = None,
        classification: Mapping[str, Any] | None = None,
        caps: Iterable[str] | None = None,
    ) -> RetentionPolicy:
        """Override retention for a namespace: ``priority={"low": "7d", "medium": "180d"}``,
        ``classification={"internal": "2y"}``; ``None`` / ``"none"`` keeps forever.
        ``caps``: the classifications whose lifetime bounds a memory's own ttl too
        (default ``["sensitive"]``; the others are defaults a ttl overrides).

        The rules apply at once: every memory's expiry in the namespace is recomputed, so a
        memory past a tightened lifetime is no longer returned by any process; :meth:`sweep`
        deletes it.
        """
        ns = self._core.namespace(namespace)
        update = RetentionPolicy.overrides(priority, classification, caps)
        with self._core.ns_lock(ns):
            previous = self._store.meta_get([f"retention:{ns}"]).get(f"retention:{ns}")
            merged = json.loads(previous.document) if previous else {"priority": {}, "classification": {}}
            for part in ("priority", "classification"):
                merged.setdefault(part, {}).update(update[part])
            if "caps" in update:
                merged["caps"] = update["caps"]
            self._store.meta_put(f"retention:{ns}", json.dumps(merged), {"kind": "retention"})
            self._pressure.invalidate()
            _lifecycle.reapply_retention(self._core, ns, epoch(utcnow()))
        return self.get_retention(ns)

    def get_retention(self, namespace: str | None = None) -> RetentionPolicy:
        """The retention rules in force in a namespace."""
        return self._pressure.policy(self._core.namespace(namespace)).retention

    def erase(self, *, namespace: str | None = None, subject: str | None = None) -> int:
        """Remove every memory of a data subject, everywhere it is stored; returns how many.

        ``namespace`` alone: the whole namespace. ``subject``: memories whose
        ``metadata["subject"]`` is that subject, in every namespace (or only in
        ``namespace``). In an embedded store the deletion is made real on disk at once
        (see :meth:`compact`). An audit record (when, selector, how many; the subject
        only as a SHA-256 digest, never content) is appended to :meth:`audit_log`.
        """
        if namespace is None and subject is None:
            raise InvalidInputError("erase needs a namespace, a subject, or both.", field="subject")
        if subject is not None and (
            not isinstance(subject, str) or not subject.strip() or len(subject) > 256
        ):
            raise InvalidInputError(
                "subject: give the data subject's identifier (1-256 characters).", field="subject"
            )
        targets = [self._core.namespace(namespace)] if namespace is not None else self.namespaces()
        erased: builtins.list[str] = []
        for ns in targets:
            with self._core.ns_lock(ns):
                if subject is None:
                    ids = self._store.ids(ns)
                    self._core.delete(ns, ids, whole=True, action="erase", selector={"namespace": ns})
                    self._store.meta_delete([f"quota:{ns}", f"retention:{ns}"])
                else:
                    ids = self._store.ids(ns, where={USER_PREFIX + "subject": subject})
                    self._core.delete(
                        ns, ids, action="erase", selector={"subject": _audit.subject_digest(subject)}
                    )
            erased.extend(ids)
        # Also when this call found nothing: an earlier erasure that failed half-way left
        # its deletions marked, and they are made real now.
        if erased or self._store.compaction_pending:
            self._store.compact()
        self._pressure.invalidate()
        return len(erased)

    def compact(self) -> builtins.list[str]:
        """Make every deletion so far real on disk now; returns the namespaces rebuilt.

        Chroma keeps copies of deleted records (log entries, free database pages, the
        vectors in its index files) until the store is compacted: namespaces with
        deletions are rebuilt from their live records, then the database is vacuumed
        (see :mod:`priomem._compaction`). An embedded store does this on :meth:`close`
        unless ``settings.compact_on_close`` is off, and :meth:`erase` at once. On a
        Chroma server it does nothing: stop the server, then ``priomem purge --path``.
        """
        return self._store.compact()

    def check(self, *, repair: bool = False) -> builtins.list[NamespaceCheck]:
        """Probe every namespace; with ``repair``, rebuild the ones Chroma cannot read.

        A namespace can only break through a record Chroma accepted but cannot index
        (priomem bounds every input so that its own writes cannot). ``repair`` (embedded
        stores) reads back what Chroma still holds, keeps every record priomem could have
        written, re-embeds those whose vector only the broken index held, and replaces
        the namespace's collection; each result names what it could not recover. It also
        deletes the spill records of the namespace that no memory names (a write killed
        between a long memory's spill records and its record leaves some: ``_spill``).
        """
        found = []
        for ns in self._store.namespaces():
            with self._core.ns_lock(ns):  # no write or forget of this namespace meanwhile
                found.append(
                    check_namespace(
                        self._store,
                        ns,
                        repair=repair,
                        embed=self._core.embed_documents,
                        dimension=self.embedder.dimension,
                    )
                )
        return found

    def audit_log(
        self, *, namespace: str | None = None, action: str | None = None, limit: int = 100
    ) -> builtins.list[_audit.AuditRecord]:
        """Audited deletions (forget, evict, sweep, consolidate, erase), newest first."""
        limit = validate_limit(limit, 100_000)
        return _audit.read(self._store, namespace=namespace, action=action, limit=limit)

    def consolidate(
        self,
        namespace: str | None = None,
        *,
        window: timedelta | str | float = timedelta(hours=6),
        min_similarity: float = 0.85,
        max_priority: PriorityLike = Priority.MEDIUM,
        summarize: Callable[[Sequence[str]], str] | None = None,
        dry_run: bool = False,
        progress: bool = False,
    ) -> builtins.list[Consolidation]:
        """Merge groups of similar memories created within ``window`` (before now).

        Each group of two or more becomes one new memory (new id) that keeps the most
        central text plus the others' distinct details (or what ``summarize(texts)``
        returns), the highest priority, the union of tags, and ``consolidated_from`` with
        the original ids, which are deleted. Never touches CRITICAL memories, memories
        with lineage, or memories above ``max_priority``; never merges memories of
        different data subjects or classifications. Deterministic. ``progress``: report
        the merging on stderr (see :mod:`priomem._progress`).
        """
        ns = self._core.namespace(namespace)
        span = parse_duration(window, field="window")
        ceiling = min(Priority.parse(max_priority, field="max_priority"), Priority.HIGH)
        return _lifecycle.consolidate_namespace(
            self._core, ns, span, ceiling, min_similarity, summarize, dry_run, progress=progress
        )

    # -- snapshots ---------------------------------------------------------------------
    def export(
        self,
        dest: str | Path | IO[str],
        *,
        namespace: str | None = None,
        include_embeddings: bool = False,
        progress: bool = False,
    ) -> int:
        """Write memories (all namespaces, or one) as JSON Lines; see :mod:`priomem._export`."""
        return _export.export_memories(
            self._core, dest, namespace=namespace, include_embeddings=include_embeddings, progress=progress
        )

    def import_(
        self,
        src: str | Path | IO[str],
        *,
        reembed: str = "auto",
        namespace: str | None = None,
        progress: bool = False,
    ) -> _export.ImportReport:
        """Restore an export, every field and id preserved; re-embeds when the model differs."""
        return _export.import_memories(
            self._core, src, reembed=reembed, namespace=namespace, progress=progress
        )

    # -- async twins: the sync core on a worker thread, never a copy (priomem._async) ----
    aclose = async_twin(close)
    aremember = async_twin(remember)
    aremember_many = async_twin(remember_many)
    aremember_many_report = async_twin(remember_many_report)
    arecall = async_twin(recall)
    aget = async_twin(get)
    alist = async_twin(list)
    alineage = async_twin(lineage)
    aset_priority = async_twin(set_priority)
    anamespaces = async_twin(namespaces)
    astats = async_twin(stats)
    aforget = async_twin(forget)
    aforget_report = async_twin(forget_report)
    asweep = async_twin(sweep)
    aset_quota = async_twin(set_quota)
    aget_quota = async_twin(get_quota)
    aset_retention = async_twin(set_retention)
    aget_retention = async_twin(get_retention)
    aerase = async_twin(erase)
    acompact = async_twin(compact)
    acheck = async_twin(check)
    aaudit_log = async_twin(audit_log)
    aconsolidate = async_twin(consolidate)
    aexport = async_twin(export)
    aimport_ = async_twin(import_)
