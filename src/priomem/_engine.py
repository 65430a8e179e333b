"""The priority-memory engine: remember, recall, forget, on Chroma."""

from __future__ import annotations

import asyncio
import builtins
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from priomem._access import AccessRecorder
from priomem._embedding import Embedder, HashEmbedder, SentenceTransformerEmbedder, as_matrix
from priomem._errors import InvalidInputError, WrongTypeError
from priomem._filters import Filter
from priomem._models import ForgetReport, Memory, RecallHit
from priomem._priority import Priority, PriorityLike
from priomem._recall import HybridSearcher
from priomem._records import decode, encode, epoch, new_id
from priomem._settings import Settings
from priomem._store import ChromaStore
from priomem._timeparse import parse_duration, parse_time, utcnow
from priomem._validation import (
    content_hash,
    validate_content,
    validate_id,
    validate_ids,
    validate_k,
    validate_limit,
    validate_metadata,
    validate_namespace,
    validate_tags,
)

__all__ = ["MemoryEngine"]

log = logging.getLogger("priomem")
T = TypeVar("T")

_REMEMBER_KEYS = frozenset(
    {"content", "priority", "namespace", "tags", "metadata", "ttl", "created_at", "refs"}
)


def default_embedder(settings: Settings) -> Embedder:
    """The embedder ``settings.embedder`` names: the real model, or the hash embedder for tests."""
    if settings.embedder == "hash":
        return HashEmbedder(384)
    return SentenceTransformerEmbedder(batch_size=settings.embed_batch_size)


@dataclass(frozen=True, slots=True)
class _Item:
    """A validated remember request."""

    content: str
    priority: Priority
    namespace: str
    tags: tuple[str, ...]
    metadata: dict[str, Any]
    ttl: timedelta | None
    created_at: datetime | None
    refs: tuple[str, ...]
    hash: str


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
        self.settings = settings if settings is not None else Settings.from_env()
        self.embedder: Embedder = embedder or SentenceTransformerEmbedder(
            batch_size=self.settings.embed_batch_size
        )
        hnsw = {
            "ef_construction": self.settings.hnsw_ef_construction,
            "ef_search": self.settings.hnsw_ef_search,
            "max_neighbors": self.settings.hnsw_max_neighbors,
        }
        common = {
            "model_name": self.embedder.name,
            "dimension": self.embedder.dimension,
            "hnsw": hnsw,
        }
        if client is not None:
            self._store = ChromaStore(client, **common)  # type: ignore[arg-type]
        elif url is not None or (path is None and self.settings.url):
            self._store = ChromaStore.open_url(
                url or self.settings.url or "", self.settings.chroma_token, **common
            )  # type: ignore[arg-type]
        else:
            folder = Path(path).expanduser() if path is not None else self.settings.resolved_path()
            self._store = ChromaStore.open_path(folder, **common)  # type: ignore[arg-type]
        self._ns_locks: dict[str, threading.Lock] = {}
        self._ns_guard = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="priomem")
        self._access = AccessRecorder(self._store.update_metadata)
        self._searcher = HybridSearcher(self._store, self._embed_query, self.settings, self._pool)
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def location(self) -> str:
        """Where the store lives: a folder, a server URL, or 'a Chroma client'."""
        return self._store.location

    def close(self) -> None:
        """Write pending bookkeeping and release the store (and its lock). Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._access.close()
        self._pool.shutdown(wait=True)
        self._store.close()

    def __enter__(self) -> MemoryEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ns_lock(self, namespace: str) -> threading.Lock:
        with self._ns_guard:
            return self._ns_locks.setdefault(namespace, threading.Lock())

    def _namespace(self, namespace: Any) -> str:
        return validate_namespace(self.settings.default_namespace if namespace is None else namespace)

    # -- embedding ---------------------------------------------------------------------
    def _embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        size = self.settings.embed_batch_size
        parts = [
            as_matrix(
                self.embedder.embed_documents(texts[i : i + size]),
                self.embedder.dimension,
                len(texts[i : i + size]),
            )
            for i in range(0, len(texts), size)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, self.embedder.dimension), np.float32)

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
    def _item(
        self,
        content: Any,
        *,
        priority: Any = Priority.MEDIUM,
        namespace: Any = None,
        tags: Any = (),
        metadata: Any = None,
        ttl: Any = None,
        created_at: Any = None,
        refs: Any = (),
    ) -> _Item:
        text = validate_content(content, self.settings.max_content_chars)
        return _Item(
            content=text,
            priority=Priority.parse(priority),
            namespace=self._namespace(namespace),
            tags=validate_tags(tags, self.settings.max_tags),
            metadata=validate_metadata(metadata, self.settings.max_metadata_keys),
            ttl=None if ttl is None else parse_duration(ttl, field="ttl"),
            created_at=None if created_at is None else parse_time(created_at, field="created_at"),
            refs=validate_ids(refs or (), field="refs"),
            hash=content_hash(text),
        )

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
    ) -> Memory:
        """Store ``content`` and return the stored :class:`Memory`.

        Content equal (after collapsing whitespace) to a live memory of the namespace
        reinforces that memory instead: the higher priority is kept, tags and metadata
        merge, its access count rises. ``ttl`` overrides the priority's default
        retention; both count from now (``stored_at``), not from ``created_at``.
        """
        item = self._item(
            content,
            priority=priority,
            namespace=namespace,
            tags=tags,
            metadata=metadata,
            ttl=ttl,
            created_at=created_at,
            refs=refs,
        )
        return self._write([item])[0]

    def remember_many(self, items: Iterable[Mapping[str, Any]]) -> builtins.list[Memory]:
        """Store many memories with batched embedding; the fast path for imports.

        Each item is a mapping with ``remember``'s argument names. Every item is
        validated before anything is written: one bad item refuses the whole call and
        names its index.
        """
        prepared: builtins.list[_Item] = []
        for index, raw in enumerate(items):
            if not isinstance(raw, Mapping):
                raise WrongTypeError(
                    f"items[{index}]: expected a mapping such as {{'content': ...}}, got {type(raw).__name__}.",
                    field=f"items[{index}]",
                )
            unknown = set(raw) - _REMEMBER_KEYS
            if unknown:
                raise InvalidInputError(
                    f"items[{index}]: unknown keys {sorted(map(str, unknown))}; allowed: {sorted(_REMEMBER_KEYS)}.",
                    field=f"items[{index}]",
                )
            if "content" not in raw:
                raise InvalidInputError(
                    f"items[{index}]: 'content' is missing.", field=f"items[{index}].content"
                )
            try:
                prepared.append(self._item(**raw))
            except (InvalidInputError, WrongTypeError) as exc:
                raise type(exc)(
                    f"items[{index}].{exc.message}", field=f"items[{index}].{exc.field}"
                ) from None
        return self._write(prepared) if prepared else []

    def _write(self, items: builtins.list[_Item]) -> builtins.list[Memory]:
        results: builtins.list[Memory | None] = [None] * len(items)
        by_namespace: dict[str, builtins.list[int]] = {}
        for index, item in enumerate(items):
            by_namespace.setdefault(item.namespace, []).append(index)
        for namespace, indexes in by_namespace.items():
            with self._ns_lock(namespace):
                for index, memory in self._write_namespace(namespace, [items[i] for i in indexes]):
                    results[indexes[index]] = memory
        return [m for m in results if m is not None]

    def _expiry(self, item: _Item, now: datetime) -> datetime | None:
        ttl = item.ttl if item.ttl is not None else self.settings.ttl_for(item.priority)
        return None if ttl is None else now + ttl

    def _write_namespace(
        self, namespace: str, items: builtins.list[_Item]
    ) -> builtins.list[tuple[int, Memory]]:
        now = utcnow()
        now_e = epoch(now)
        hashes = list(dict.fromkeys(i.hash for i in items))
        existing: dict[str, Memory] = {}
        for start in range(0, len(hashes), 500):
            for row in self._store.get(namespace, where={"pm_hash": {"$in": hashes[start : start + 500]}}):
                if float(row.metadata.get("pm_expires", 0)) > now_e:
                    existing[str(row.metadata["pm_hash"])] = decode(
                        row.id, row.document, row.metadata, namespace
                    )
        out: builtins.list[tuple[int, Memory]] = []
        fresh: dict[str, Memory] = {}
        reinforced: dict[str, Memory] = {}
        for index, item in enumerate(items):
            base = fresh.get(item.hash) or reinforced.get(item.hash) or existing.get(item.hash)
            if base is None:
                created = item.created_at or now
                memory = Memory(
                    id=new_id(created),
                    content=item.content,
                    priority=item.priority,
                    namespace=namespace,
                    tags=item.tags,
                    metadata=item.metadata,
                    created_at=created,
                    stored_at=now,
                    last_accessed_at=None,
                    access_count=0,
                    expires_at=self._expiry(item, now),
                    refs=item.refs,
                    content_hash=item.hash,
                )
                fresh[item.hash] = memory
            else:
                memory = self._reinforce(base, item, now)
                (fresh if item.hash in fresh else reinforced)[item.hash] = memory
            out.append((index, memory))
        if fresh:
            new = list(fresh.values())
            vectors = self._embed_documents([m.content for m in new])
            encoded = [encode(m) for m in new]
            self._store.upsert(
                namespace,
                [m.id for m in new],
                vectors,
                [e[0] for e in encoded],
                [e[1] for e in encoded],
            )
        if reinforced:
            changed = list(reinforced.values())
            self._store.update_metadata(namespace, [m.id for m in changed], [encode(m)[1] for m in changed])
        latest = {
            **{m.content_hash: m for m in fresh.values()},
            **{m.content_hash: m for m in reinforced.values()},
        }
        return [(index, latest[memory.content_hash]) for index, memory in out]

    def _reinforce(self, base: Memory, item: _Item, now: datetime) -> Memory:
        priority = max(base.priority, item.priority)
        new_expiry = self._expiry(replace(item, priority=priority), now)
        expires = None if base.expires_at is None or new_expiry is None else max(base.expires_at, new_expiry)
        tags = base.tags + tuple(t for t in item.tags if t not in base.tags)
        refs = base.refs + tuple(r for r in item.refs if r not in base.refs)
        return replace(
            base,
            priority=priority,
            tags=tags,
            metadata={**base.metadata, **item.metadata},
            refs=refs,
            access_count=base.access_count + 1,
            last_accessed_at=now,
            expires_at=expires,
        )

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
        now: datetime,
    ) -> Filter:
        return Filter(
            tags=validate_tags(tags, self.settings.max_tags),
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
        min_priority: PriorityLike | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
    ) -> builtins.list[RecallHit]:
        """The ``k`` memories that best answer ``query``, best first.

        Ranking fuses embedding similarity with word matches (hybrid recall), then adds
        priority, recency and access boosts (:mod:`priomem._scoring`). Filters: the
        memory must carry every tag in ``tags``, have at least ``min_priority``, and have
        been created between ``since`` and ``until`` (datetimes, ISO strings or "48h").
        Expired memories are never returned.
        """
        if not isinstance(query, str):
            raise WrongTypeError(f"query: expected a string, got {type(query).__name__}.", field="query")
        text = validate_content(query, self.settings.max_content_chars, field="query")
        k = validate_k(k, self.settings.max_k)
        ns = self._namespace(namespace)
        now = utcnow()
        flt = self._filter(tags=tags, min_priority=min_priority, since=since, until=until, now=now)
        hits = self._searcher.search(text, k, ns, flt, now)
        if hits:
            self._access.record(ns, [(h.memory.id, h.memory.access_count) for h in hits], epoch(now))
        return hits

    # -- read --------------------------------------------------------------------------
    def get(self, id: str, *, namespace: str | None = None) -> Memory | None:
        """The memory with ``id`` in ``namespace``, or None (also when it has expired)."""
        memory_id = validate_id(id)
        ns = self._namespace(namespace)
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
        min_priority: PriorityLike | None = None,
        max_priority: PriorityLike | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[Memory]:
        """Live memories of a namespace, newest ``created_at`` first, ``limit`` (<= 1,000) at a time."""
        ns = self._namespace(namespace)
        limit = validate_limit(limit, self.settings.max_list_limit)
        offset = validate_limit(offset, 2**31, field="offset", minimum=0)
        now = utcnow()
        flt = self._filter(
            tags=tags,
            min_priority=min_priority,
            max_priority=max_priority,
            since=since,
            until=until,
            now=now,
        )
        # Ids are ULIDs that sort by created_at, so a page needs only ids, then one fetch.
        ids = sorted(self._store.ids(ns, where=flt.where(live_at=epoch(now))), reverse=True)
        page = ids[offset : offset + limit]
        memories = [decode(r.id, r.document, r.metadata, ns) for r in self._store.get(ns, ids=page)]
        memories.sort(key=lambda m: (m.created_at, m.id), reverse=True)
        return memories

    def namespaces(self) -> builtins.list[str]:
        """Every namespace that holds (or held) memories."""
        return self._store.namespaces()

    def stats(self, namespace: str | None = None) -> dict[str, Any]:
        """Counts by priority, oldest and newest ``created_at``, content size, expired-not-swept.

        With ``namespace``: that namespace. Without: every namespace and the totals.
        """
        if namespace is not None:
            return self._namespace_stats(self._namespace(namespace))
        per = {ns: self._namespace_stats(ns) for ns in self.namespaces()}
        by_priority = {p.name: sum(s["by_priority"][p.name] for s in per.values()) for p in Priority}
        return {
            "namespaces": per,
            "count": sum(s["count"] for s in per.values()),
            "by_priority": by_priority,
            "bytes": sum(s["bytes"] for s in per.values()),
            "expired": sum(s["expired"] for s in per.values()),
        }

    def _namespace_stats(self, ns: str) -> dict[str, Any]:
        now_e = epoch(utcnow())
        rows = self._store.get(ns, where={"pm_expires": {"$gt": now_e}}, documents=True, metadatas=False)
        by_priority = {
            p.name: len(
                self._store.ids(ns, where={"$and": [{"pm_priority": int(p)}, {"pm_expires": {"$gt": now_e}}]})
            )
            for p in Priority
        }
        expired = len(self._store.ids(ns, where={"pm_expires": {"$lte": now_e}}))
        times = sorted(r.id for r in rows)
        oldest = newest = None
        if times:
            first = self._store.get(ns, ids=[times[0], times[-1]])
            created = sorted(decode(r.id, r.document, r.metadata, ns).created_at for r in first)
            oldest, newest = created[0].isoformat(), created[-1].isoformat()
        return {
            "namespace": ns,
            "count": len(rows),
            "by_priority": by_priority,
            "oldest": oldest,
            "newest": newest,
            "bytes": sum(len(r.document.encode("utf-8")) for r in rows),
            "expired": expired,
        }

    # -- forget ------------------------------------------------------------------------
    def forget(
        self,
        ids: Iterable[str] | None = None,
        *,
        namespace: str | None = None,
        tags: Iterable[str] | None = None,
        before: datetime | str | None = None,
        max_priority: PriorityLike | None = None,
        everything: bool = False,
        dry_run: bool = False,
    ) -> int:
        """Delete memories for real and return how many (with ``dry_run``, how many would go).

        By ``ids``, or by filter: every tag in ``tags``, created before ``before``, at
        most ``max_priority``. A call with neither is refused unless ``everything=True``
        (which empties the namespace). ``ids=[]`` forgets nothing.
        """
        return self.forget_report(
            ids,
            namespace=namespace,
            tags=tags,
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
        before: datetime | str | None = None,
        max_priority: PriorityLike | None = None,
        everything: bool = False,
        dry_run: bool = False,
    ) -> ForgetReport:
        """Like :meth:`forget`, but returns the ids selected (:class:`ForgetReport`)."""
        ns = self._namespace(namespace)
        if not isinstance(everything, bool) or not isinstance(dry_run, bool):
            raise WrongTypeError("everything and dry_run must be booleans.", field="everything")
        now = utcnow()
        flt = self._filter(tags=tags, before=before, max_priority=max_priority, now=now)
        wanted = None if ids is None else validate_ids(ids)
        if wanted is None and flt.empty and not everything:
            raise InvalidInputError(
                f"forget needs ids or a filter (tags, before, max_priority); to empty namespace {ns!r} "
                "pass everything=True.",
                field="ids",
            )
        if wanted is not None and not wanted:
            return ForgetReport(ids=(), dry_run=dry_run)
        with self._ns_lock(ns):
            if wanted is not None:
                rows = self._store.get(ns, ids=list(wanted), documents=False)
                selected = [r.id for r in rows if flt.empty or flt.matches(r.metadata, float("-inf"))]
            else:
                selected = self._store.ids(ns, where=flt.where())
            if not dry_run:
                self._delete(ns, selected, whole=wanted is None and flt.empty)
        return ForgetReport(ids=tuple(selected), dry_run=dry_run)

    def _delete(self, ns: str, ids: Sequence[str], *, whole: bool = False) -> None:
        if whole:
            self._store.drop(ns)
            self._access.forget(ns)
        elif ids:
            self._store.delete(ns, ids)
            self._access.forget(ns, ids)
        if ids:
            log.info("forgot %d memories in %r", len(ids), ns)

    def sweep(self) -> int:
        """Delete every expired memory in every namespace, for real; returns how many."""
        now_e = epoch(utcnow())
        total = 0
        for ns in self.namespaces():
            with self._ns_lock(ns):
                expired = self._store.ids(ns, where={"pm_expires": {"$lte": now_e}})
                self._delete(ns, expired)
            total += len(expired)
        return total

    # -- async twins: the sync core on a worker thread, never a copy of it ---------------
    async def _run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(partial(fn, *args, **kwargs))

    async def aremember(self, content: str, **kwargs: Any) -> Memory:
        """Async :meth:`remember` (runs the sync core in a worker thread)."""
        result: Memory = await self._run(self.remember, content, **kwargs)
        return result

    async def aremember_many(self, items: Iterable[Mapping[str, Any]]) -> builtins.list[Memory]:
        """Async :meth:`remember_many`."""
        result: builtins.list[Memory] = await self._run(self.remember_many, list(items))
        return result

    async def arecall(self, query: str, **kwargs: Any) -> builtins.list[RecallHit]:
        """Async :meth:`recall`."""
        result: builtins.list[RecallHit] = await self._run(self.recall, query, **kwargs)
        return result

    async def aforget(self, ids: Iterable[str] | None = None, **kwargs: Any) -> int:
        """Async :meth:`forget`."""
        result: int = await self._run(self.forget, ids, **kwargs)
        return result

    async def aget(self, id: str, **kwargs: Any) -> Memory | None:
        """Async :meth:`get`."""
        result: Memory | None = await self._run(self.get, id, **kwargs)
        return result
