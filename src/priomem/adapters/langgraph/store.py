"""``PriomemStore``: LangGraph's long-term ``BaseStore`` on a :class:`~priomem.MemoryEngine`."""

from __future__ import annotations

import asyncio
import heapq
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime

from langgraph.store.base import (
    BaseStore,
    GetOp,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
)

from priomem import InvalidInputError, MemoryEngine, Priority, WrongTypeError, validate_tags
from priomem.adapters.langgraph._items import StoredItem, decode_item, encode_item
from priomem.adapters.langgraph._matching import matches_conditions, matches_filter, validate_filter
from priomem.adapters.langgraph._naming import (
    check_labels,
    decode_namespace,
    encode_namespace,
    key_tag,
    validate_prefix,
)

__all__ = ["PriomemStore"]

PAGE = 500
#: Tag of items put with ``index=False``, found without a scan when they fill a short page.
UNINDEXED = "lg:unindexed"


class PriomemStore(BaseStore):
    """LangGraph long-term memory in priomem: items are memories, search is recall.

    Each item is one memory in the priomem namespace that its LangGraph namespace maps
    to (``("users", "alice")`` -> ``"lg.users.alice"``, see
    :mod:`priomem.adapters.langgraph._naming`). The memory's content is the item's
    searchable text (the ``fields`` of its value; the whole value by default) and it
    carries the key and the exact JSON value in metadata, so ``get`` returns what was
    put. ``search`` with a ``query`` ranks by priomem's recall (meaning, words,
    priority, recency); without one, newest first. ``filter`` matches value fields.
    Putting a key again replaces its item; ``ttl`` (minutes) expires it, and reads
    refresh it unless ``refresh_ttl=False``::

        store = PriomemStore(engine=engine)
        store.put(("users", "alice"), "prefs", {"theme": "dark"}, ttl=60 * 24)
        store.search(("users", "alice"), query="colour scheme", limit=3)
        graph = builder.compile(store=store)

    ``priority`` is the priority of every item (MEDIUM keeps items until deleted; LOW
    items expire after the engine's LOW retention, 30 days by default). ``tags`` are
    added to every item. ``ttl`` is LangGraph's ``TTLConfig`` (``default_ttl``,
    ``refresh_on_read``).
    """

    supports_ttl = True

    def __init__(
        self,
        *,
        engine: MemoryEngine,
        prefix: str = "lg",
        priority: Priority | str | int = Priority.MEDIUM,
        fields: Sequence[str] = ("$",),
        tags: Iterable[str] = (),
        ttl: TTLConfig | None = None,
    ) -> None:
        self.engine = engine
        self.prefix = validate_prefix(prefix)
        self.priority = Priority.parse(priority)
        if isinstance(fields, str) or not fields or not all(isinstance(f, str) and f for f in fields):
            raise InvalidInputError(
                'fields: give a list of JSON paths to index, e.g. ["$"] or ["text", "notes[*]"].',
                field="fields",
            )
        self.fields = tuple(fields)
        # Checked now, not at the first put (which forgets the old item before remembering).
        self.tags = validate_tags(list(tags), engine.settings.max_tags - 2, field="tags")
        self.ttl_config = ttl
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, name: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(name, threading.Lock())

    # -- batch -------------------------------------------------------------------------
    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run ``ops`` in order and return one result per op."""
        results: list[Result] = []
        for op in ops:
            if isinstance(op, GetOp | PutOp):
                check_labels(op.namespace)
            elif isinstance(op, SearchOp):
                check_labels(op.namespace_prefix)
            elif isinstance(op, ListNamespacesOp):
                for condition in op.match_conditions or ():
                    check_labels(condition.path)
            if isinstance(op, GetOp):
                results.append(self._get(op))
            elif isinstance(op, SearchOp):
                results.append(self._search(op))
            elif isinstance(op, PutOp):
                self._put(op)
                results.append(None)
            elif isinstance(op, ListNamespacesOp):
                results.append(self._list_namespaces(op))
            else:
                raise WrongTypeError(
                    f"ops: {type(op).__name__} is not a store operation; use GetOp, PutOp, SearchOp "
                    "or ListNamespacesOp.",
                    field="ops",
                )
        return results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Async :meth:`batch` (the sync core in a worker thread)."""
        return await asyncio.to_thread(self.batch, list(ops))

    # -- get ---------------------------------------------------------------------------
    def _find(self, name: str, key: str) -> StoredItem | None:
        for memory in self.engine.list(namespace=name, tags=[key_tag(key)], limit=10):
            stored = decode_item(memory)
            if stored is not None and stored.key == key:
                return stored
        return None

    def _get(self, op: GetOp) -> Item | None:
        if not op.namespace:
            return None
        name = encode_namespace(self.prefix, op.namespace)
        stored = self._find(name, op.key)
        if stored is None:
            return None
        if op.refresh_ttl:
            self._refresh([(name, stored)])
        return stored.item()

    def _refresh(self, found: Iterable[tuple[str, StoredItem]]) -> None:
        """Push back the expiry of items with a TTL: remembering the same content again
        reinforces the memory, which extends its expiry to ``now + ttl``."""
        for name, stored in found:
            if stored.ttl is None:
                continue
            memory = stored.memory
            with self._lock(name):
                if self.engine.get(memory.id, namespace=name) is None:
                    continue  # replaced or deleted since it was read: never bring it back
                self.engine.remember(
                    memory.content,
                    priority=memory.priority,
                    namespace=name,
                    tags=memory.tags,
                    metadata=dict(memory.metadata),
                    ttl=stored.ttl * 60,
                )

    # -- put / delete ------------------------------------------------------------------
    def _put(self, op: PutOp) -> None:
        if not op.namespace:
            raise InvalidNamespaceError("Namespace cannot be empty.")
        name = encode_namespace(self.prefix, op.namespace)
        tag = key_tag(op.key)
        with self._lock(name):
            if op.value is None:
                self.engine.forget(namespace=name, tags=[tag])
                return
            content, metadata = encode_item(op, fields=self.fields, settings=self.engine.settings)
            old = self._find(name, op.key)
            created = old.created_at if old is not None else datetime.now(UTC)
            metadata["lg_created"] = created.timestamp()
            # Forget first: the new memory must not reinforce the old one (equal content).
            self.engine.forget(namespace=name, tags=[tag])
            self.engine.remember(
                content,
                priority=self.priority,
                namespace=name,
                tags=[tag, *self.tags, *([UNINDEXED] if op.index is False else [])],
                metadata=metadata,
                ttl=None if op.ttl is None else op.ttl * 60,
            )

    # -- search ------------------------------------------------------------------------
    def _spaces(self, *, live_only: bool) -> list[tuple[str, tuple[str, ...]]]:
        """(priomem name, LangGraph namespace) of every namespace this store wrote."""
        out = []
        for name in self.engine.namespaces():
            labels = decode_namespace(self.prefix, name)
            hashed = labels is None and name.startswith(self.prefix + "@")
            if labels is None and not hashed:
                continue
            if live_only or hashed:
                first = self.engine.list(namespace=name, limit=1)
                stored = decode_item(first[0]) if first else None
                if stored is None:
                    continue
                labels = stored.namespace if hashed else labels
            if labels is not None:
                out.append((name, labels))
        return out

    def _newest(self, name: str, tags: Sequence[str] = ()) -> Iterator[tuple[str, StoredItem]]:
        offset = 0
        while True:
            page = self.engine.list(namespace=name, tags=tags, limit=PAGE, offset=offset)
            for memory in page:
                stored = decode_item(memory)
                if stored is not None:
                    yield name, stored
            if len(page) < PAGE:
                return
            offset += PAGE

    def _search(self, op: SearchOp) -> list[SearchItem]:
        validate_filter(op.filter)
        if op.limit < 0 or op.offset < 0:
            raise InvalidInputError("limit and offset: must not be negative.", field="limit")
        n = len(op.namespace_prefix)
        spaces = [(name, ns) for name, ns in self._spaces(live_only=False) if ns[:n] == op.namespace_prefix]
        query = (op.query or "").strip()
        if op.limit == 0 or not spaces:
            return []
        if query:
            scored = self._ranked(query, spaces, op)
        else:
            newest = heapq.merge(
                *(self._newest(name) for name, _ in spaces),
                key=lambda found: (found[1].memory.created_at, found[1].memory.id),
                reverse=True,
            )
            matching = (f for f in newest if matches_filter(f[1].value, op.filter))
            scored = [(f, None) for _, f in zip(range(op.offset + op.limit), matching, strict=False)]
            scored = scored[op.offset :]
        if op.refresh_ttl:
            self._refresh(found for found, _ in scored)
        return [stored.search_item(score) for (_, stored), score in scored]

    def _ranked(
        self, query: str, spaces: list[tuple[str, tuple[str, ...]]], op: SearchOp
    ) -> list[tuple[tuple[str, StoredItem], float | None]]:
        """Recall ``query`` in every namespace, keep the indexed items that pass the
        filter, best first; ask for more hits while the filter leaves too few."""
        wanted = op.offset + op.limit
        max_k = self.engine.settings.max_k
        k = min(max_k, max(wanted, 10) * (4 if op.filter else 1))
        while True:
            kept: list[tuple[tuple[str, StoredItem], float | None]] = []
            more = False
            for name, _ in spaces:
                hits = self.engine.recall(query, k=k, namespace=name)
                more = more or len(hits) == k
                for hit in hits:
                    stored = decode_item(hit.memory)
                    if stored is not None and stored.indexed and matches_filter(stored.value, op.filter):
                        kept.append(((name, stored), hit.score))
            if len(kept) >= wanted or not more or k >= max_k:
                break
            k = min(max_k, k * 4)
        kept.sort(key=lambda f: (-(f[1] or 0.0), f[0][1].memory.id))
        page = kept[op.offset : wanted]
        if len(page) < op.limit:
            # Items put with index=False have no searchable text; like LangGraph's own
            # stores, they fill a short page, unscored.
            unindexed = (
                found
                for name, _ in spaces
                for found in self._newest(name, [UNINDEXED])
                if matches_filter(found[1].value, op.filter)
            )
            page.extend((f, None) for _, f in zip(range(op.limit - len(page)), unindexed, strict=False))
        return page

    # -- list namespaces ---------------------------------------------------------------
    def _list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        spaces = {ns for _, ns in self._spaces(live_only=True) if matches_conditions(ns, op.match_conditions)}
        if op.max_depth is not None:
            spaces = {ns[: op.max_depth] for ns in spaces}
        return sorted(spaces)[op.offset : op.offset + op.limit]
