"""Where each namespace's records are, and moving a namespace between a shared
collection and its own: the part of :class:`priomem._store.ChromaStore` that knows the
layout (the record formats and the steps of a move are in :mod:`priomem._layout`).

A namespace's place is looked up once and kept (``_places``); a shared namespace's state
record is kept too in a store this process owns, and after ``DIRECTORY_AFTER`` look-ups
every state record is read at once (``_load_directory``). Works on the client's
collection objects; imports no ``chromadb``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from priomem._chroma_calls import chroma_errors
from priomem._errors import StoreError
from priomem._gate import Gate, shared
from priomem._layout import (
    NAMESPACE_KIND,
    NAMESPACE_PREFIX,
    Place,
    collection_name,
    demote,
    entry_id,
    promote,
    shared_name,
    undo_demote,
    write_entry,
)
from priomem._layout import recover as recover_moves
from priomem._progress import Steps
from priomem._rebuild import REBUILD_SUFFIX, Batch, Collections
from priomem._records import Key

if TYPE_CHECKING:
    from priomem._held import Held
    from priomem._vector_cache import VectorCache

__all__ = [
    "DIRECTORY_AFTER",
    "LAYOUT",
    "LAYOUT_KEY",
    "OWN_COLLECTION_AT",
    "PREFETCH_COLLECTIONS",
    "THREADS_KEY",
    "Placement",
    "own_namespaces",
    "without_documents",
]

log = logging.getLogger("priomem")

#: A shared namespace with this many memories moves to a collection of its own (see
#: ``_layout``; measured in benchmarks/many_namespaces.py).
OWN_COLLECTION_AT = 1000
#: ``prefetch`` lists the collections of a store with at most this many (else it leaves
#: own collections to be looked up one by one).
PREFETCH_COLLECTIONS = 2000
#: Look-ups of state records after which a store this process owns reads them all
#: (``Placement._load_directory``).
DIRECTORY_AFTER = 64
#: Record layout of a namespace's collection, in its metadata (absent: 1). 2: terms keyed
#: by namespace, context links only between turns of a thread; 3: every record has
#: ``pm_expires`` (see ``_upgrade``).
LAYOUT_KEY = Key.LAYOUT
LAYOUT = 3
#: Set in a namespace's collection metadata once a turn of a thread is written to it.
THREADS_KEY = Key.THREADS


class Placement:
    """Namespace places, state records and moves, for :class:`~priomem._store.ChromaStore`.

    The store's client, settings and locks are set by the store; the record I/O it
    provides (``_meta``, ``_get_collection``, ``_collections``, ``_count``, ``_stale``,
    ``note_deletion``; ``send_held`` and ``_held`` from :class:`~priomem._held.HeldWrites`)
    is declared at the end of this class for the type checker.
    """

    _client: Any
    _model_name: str
    _dimension: int
    _hnsw: dict[str, int]
    _layout: str
    _own_at: int
    _max_batch: int
    _compactable: bool
    _guard: threading.RLock
    _gate: Gate
    _vector_cache: VectorCache
    location: str

    def _init_placement(self) -> None:
        self._places: dict[str, Place] = {}
        self._buckets: dict[str, Any] = {}
        #: State records of shared namespaces (stores this process owns; see ``_entry``).
        self._states: dict[str, dict[str, Any]] = {}
        #: Once ``_directory`` is set, ``_states`` holds every state record and
        #: ``_own_names`` every namespace with a collection of its own (None: not listed),
        #: except for the namespaces in ``_unsure`` (changed since): see ``_load_directory``.
        self._directory = False
        self._own_names: set[str] | None = None
        self._unsure: set[str] = set()
        self._entry_reads = 0
        #: Counts drops and state writes, so that a state read that raced one is not kept.
        self._state_changes = 0
        self._meta_col: Any | None = None
        self._threads: set[str] = set()
        #: Estimated sizes of shared namespaces this process writes to (for promotion).
        self._sizes: dict[str, int] = {}

    def _own_metadata(self, namespace: str, state: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return {
            Key.NAMESPACE: namespace,
            Key.MODEL: self._model_name,
            Key.DIM: self._dimension,
            LAYOUT_KEY: LAYOUT,
            **(state or {}),
        }

    def _configuration(self) -> dict[str, Any]:
        return {"hnsw": {"space": "cosine", **self._hnsw}}

    def _bucket(self, namespace: str) -> Any:
        """The shared collection that holds ``namespace`` while it is small (created once)."""
        name = shared_name(namespace)
        col = self._buckets.get(name)
        if col is None:
            col = self._client.get_or_create_collection(
                name,
                metadata={Key.SHARED: True, Key.MODEL: self._model_name, Key.DIM: self._dimension},
                configuration=self._configuration(),
                embedding_function=None,
            )
            self._buckets[name] = col
        return col

    def _entry(self, namespace: str) -> dict[str, Any] | None:
        """The state record of a namespace in a shared collection (None: it has none).

        Kept in memory in a store this process owns (only it writes the record)."""
        cached = self._states.get(namespace)
        if cached is not None:
            return dict(cached)
        if self._directory and namespace not in self._unsure:
            return None
        changes = self._state_changes
        got = self._meta().get(ids=[entry_id(namespace)], include=["metadatas"])
        entry = dict((got["metadatas"] or [{}])[0] or {}) if got["ids"] else None
        if self._compactable:
            with self._guard:  # not kept if a drop or a state write ran meanwhile
                if entry is not None and changes == self._state_changes:
                    self._states[namespace] = entry
                self._entry_reads += 1
                load = not self._directory and self._entry_reads % DIRECTORY_AFTER == 0  # again if raced
            if load:
                self._load_directory()
        return dict(entry) if entry is not None else None

    def _load_directory(self) -> None:
        """Read every state record (and list the own collections) once, in a store this
        process owns, so that a namespace new to the process costs no look-up: done after
        ``DIRECTORY_AFTER`` look-ups, not on open (a short-lived process would pay it for
        nothing). Kept true by ``_unsettle`` on every change; not kept if one raced it."""
        with self._guard:
            changes = self._state_changes
        try:
            with chroma_errors("read the namespaces' state"):
                got = self._meta().get(where={"kind": NAMESPACE_KIND}, include=["metadatas"])
                listed = self._client.count_collections() <= PREFETCH_COLLECTIONS
                owned = set(own_namespaces(self._client.list_collections())) if listed else None
        except StoreError as exc:  # only a shortcut: look-ups go on one by one
            log.warning("namespace states stay read one by one: %s", exc)
            return
        with self._guard:
            if changes != self._state_changes:
                return
            for meta in got["metadatas"] or []:
                entry = dict(meta or {})
                self._states.setdefault(str(entry.get(Key.NAMESPACE)), entry)
            self._own_names = owned
            self._unsure.clear()
            self._directory = True

    def _unsettle(self, namespace: str) -> None:
        """Forget the namespace's state: it changed (call under ``_guard``)."""
        self._state_changes += 1
        self._states.pop(namespace, None)
        if self._directory:
            self._unsure.add(namespace)

    def _write_entry(self, namespace: str, state: Mapping[str, Any]) -> None:
        write_entry(self._meta(), namespace, state)
        with self._guard:
            self._unsettle(namespace)

    def _place(self, namespace: str, *, create: bool) -> Place | None:
        """Where ``namespace``'s records are (None: it has none and ``create`` is false).

        Its own collection once one exists without the filling mark, else its shared
        collection once it has a state record; a new namespace goes to a shared
        collection (to its own with ``layout="own"``).
        """
        batch = self._held()
        if batch is not None:
            if batch.holds(namespace):
                if create:
                    return batch.places[namespace]
                self.send_held()  # anything else done to it sees what was written
            elif namespace in batch.absent:
                if not create:
                    return None
                if self._layout == "shared":
                    place = Place(self._bucket(namespace), namespace, shared=True)
                    batch.new(place, {LAYOUT_KEY: LAYOUT})
                    return place
        cached = self._places.get(namespace)
        if cached is not None:
            return cached
        with self._guard:
            cached = self._places.get(namespace)
            if cached is not None:
                return cached
            with chroma_errors(f"open namespace {namespace!r}"):
                listed = self._directory and self._own_names is not None and namespace not in self._unsure
                if listed and namespace not in (self._own_names or ()):
                    own = None  # known: it has no collection of its own
                else:
                    own = self._get_collection(collection_name(namespace))
                if own is not None and not (own.metadata or {}).get(Key.FILLING):
                    place = Place(own, namespace, shared=False)
                elif self._entry(namespace) is not None:
                    place = Place(self._bucket(namespace), namespace, shared=True)
                elif not create:
                    self._settled(namespace, None)
                    return None
                elif self._layout == "own":
                    own = self._client.get_or_create_collection(
                        collection_name(namespace),
                        metadata=self._own_metadata(namespace),
                        configuration=self._configuration(),
                        embedding_function=None,
                    )
                    place = Place(own, namespace, shared=False)
                else:
                    place = Place(self._bucket(namespace), namespace, shared=True)
                    if batch is not None:  # its state record is sent with its records
                        batch.new(place, {LAYOUT_KEY: LAYOUT})
                        return place
                    self._write_entry(namespace, {LAYOUT_KEY: LAYOUT})
            self._places[namespace] = place
            self._settled(namespace, place)
            return place

    def _settled(self, namespace: str, place: Place | None) -> None:
        """After a look-up in Chroma (under ``_guard``): what the directory now knows of it."""
        if not self._directory:
            return
        if self._own_names is not None:
            if place is not None and not place.shared:
                self._own_names.add(namespace)
            else:
                self._own_names.discard(namespace)
        if place is None or not place.shared or namespace in self._states:
            self._unsure.discard(namespace)

    def _forget_place(self, namespace: str) -> None:
        with self._guard:
            self._unsettle(namespace)
            self._places.pop(namespace, None)
            self._sizes.pop(namespace, None)
        self._stale(namespace)

    def _forget_places(self) -> None:
        """Forget every collection object (a compaction or close replaces them)."""
        with self._guard:
            self._state_changes += 1
            self._places.clear()
            self._buckets.clear()
            self._states.clear()
            self._directory = False
            self._own_names = None
            self._unsure.clear()
            self._entry_reads = 0
            self._meta_col = None
            self._vector_cache.clear()

    def is_shared(self, namespace: str) -> bool:
        """Whether ``namespace`` lives in a shared collection now (False: its own, or none)."""
        place = self._place(namespace, create=False)
        return place is not None and place.shared

    @shared
    def layout(self, namespace: str) -> int | None:
        """The record layout of a namespace (None: it has no records anywhere)."""
        place = self._place(namespace, create=False)
        if place is None:
            return None
        if place.shared:
            with chroma_errors(f"open namespace {namespace!r}"):
                entry = self._entry(namespace) or {}
            return int(entry.get(LAYOUT_KEY, LAYOUT))
        return int((place.col.metadata or {}).get(LAYOUT_KEY, 1))

    def _set_state(self, place: Place, changes: Mapping[str, Any]) -> None:
        """Merge ``changes`` into a namespace's state (its collection's or its record's metadata)."""
        ns = place.namespace
        self.send_held()  # a state record held for a new namespace goes first
        with chroma_errors(f"update namespace {ns!r}"):
            if place.shared:
                self._write_entry(ns, {**(self._entry(ns) or {}), **changes})
                return
            fresh = self._client.get_collection(place.col.name, embedding_function=None)
            meta = dict(fresh.metadata or {})
            if any(meta.get(k) != v for k, v in changes.items()):
                fresh.modify(metadata={**meta, **changes})
        self._forget_place(ns)

    @shared
    def set_layout(self, namespace: str, layout: int) -> None:
        """Record that a namespace's records now follow ``layout``."""
        place = self._place(namespace, create=False)
        if place is not None:
            self._set_state(place, {LAYOUT_KEY: layout})

    @shared
    def mark_threads(self, namespace: str) -> None:
        """Record that the namespace holds turns of a thread (once)."""
        if namespace in self._threads:
            return
        place = self._place(namespace, create=True)
        assert place is not None
        batch = self._held()
        if batch is not None and namespace in batch.entries:
            batch.entries[namespace][THREADS_KEY] = True  # sent with its new state record
        else:
            self._set_state(place, {THREADS_KEY: True})
        with self._guard:
            self._threads.add(namespace)

    @shared
    def has_threads(self, namespace: str) -> bool:
        """Whether the namespace holds turns of a thread, as its state says now."""
        if namespace in self._threads:
            return True
        place = self._place(namespace, create=False)
        if place is None:
            return False
        with chroma_errors(f"open namespace {namespace!r}"):
            if place.shared:
                state = self._entry(namespace) or {}
            else:
                fresh = self._get_collection(place.col.name)
                state = (fresh.metadata or {}) if fresh is not None else {}
        if state.get(THREADS_KEY):
            self._threads.add(namespace)
            return True
        return False

    @shared
    def namespaces(self) -> list[str]:
        """Every namespace that has records (or had: an emptied one stays until dropped), sorted."""
        with chroma_errors("list namespaces"):
            collections = self._client.list_collections()
            entries = self._meta().get(where={"kind": NAMESPACE_KIND}, include=["documents"])
        names = {str(doc) for doc in entries["documents"] or [] if doc}
        return sorted(names | set(own_namespaces(collections)))

    # -- moves between a shared collection and an own one -------------------------------
    def _grown(self, place: Place, written: int) -> bool:
        """Whether a shared namespace just written has reached ``own_collection_at``."""
        namespace = place.namespace
        if not place.shared or not self._compactable:
            return False
        # Counted when first written here, then estimated (an upsert may replace a
        # record): recounted when the estimate passes the threshold.
        with self._guard:
            size = self._sizes.get(namespace)
        if size is None:
            size = self._count(place)
        else:
            size += written
            if size >= self._own_at:
                size = self._count(place)
        with self._guard:
            self._sizes[namespace] = size
        return size >= self._own_at

    def _promote(self, namespace: str) -> None:
        """Move a shared namespace that grew past the threshold to its own collection."""
        with self._gate.exclusive(), self._guard:
            place = self._place(namespace, create=False)
            if place is None or not place.shared or self._count(place) < self._own_at:
                return
            try:
                self._promote_now(namespace, place)
            except Exception as exc:  # the write is stored; the move is finished on next open
                log.warning("namespace %r stays in its shared collection for now: %s", namespace, exc)
            finally:
                self._forget_place(namespace)

    def _promote_now(self, namespace: str, place: Place) -> None:
        if place.shared:
            with chroma_errors(f"give namespace {namespace!r} a collection of its own"):
                state = {
                    k: v for k, v in (self._entry(namespace) or {}).items() if k in (LAYOUT_KEY, THREADS_KEY)
                }
                promote(
                    self._collections(),
                    place,
                    metadata=self._own_metadata(namespace, state),
                    configuration=self._configuration(),
                    before_delete=self.note_deletion,
                    step=min(self._max_batch, 1000),
                )
            self._forget_place(namespace)

    def _demote(self, namespace: str, own: Any) -> None:
        """Move a namespace from its own collection into its shared one (see ``_layout``)."""
        meta = own.metadata or {}
        state = {k: meta[k] for k in (LAYOUT_KEY, THREADS_KEY) if k in meta}
        state.setdefault(LAYOUT_KEY, 1)
        place = Place(self._bucket(namespace), namespace, shared=True)
        demote(
            self._collections(),
            own,
            place,
            state=state,
            convert=without_documents,
            before_delete=self.note_deletion,
            step=min(self._max_batch, 1000),
        )
        self._forget_place(namespace)

    def _settle(self) -> None:
        """On opening a store this process owns: finish interrupted moves, then move each
        namespace that has its own collection but fewer than half the threshold's
        memories (a store written before shared collections) into a shared one."""
        cols = self._collections()
        with chroma_errors(f"recover the store at {self.location}"):
            recover_moves(
                cols,
                lambda ns: Place(self._bucket(ns), ns, shared=True),
                self._demote,
                self.note_deletion,
            )
        if self._layout != "shared":
            return
        with chroma_errors(f"list the namespaces of {self.location}"):
            small = own_namespaces(self._client.list_collections())
        moved = 0
        steps = Steps(len(small), "moving small namespaces into shared collections", "namespaces")
        for namespace in small:
            # One namespace Chroma cannot read (or any failure) leaves it in its own
            # collection, unchanged, and the store opens: 'priomem check' finds it.
            try:
                own = self._client.get_collection(collection_name(namespace), embedding_function=None)
                if own.count() < self._own_at // 2:
                    if not moved:
                        log.warning(
                            "moving small namespaces into shared collections (once; see the README's "
                            "'Many namespaces')"
                        )
                    self._demote(namespace, own)
                    moved += 1
            except Exception as exc:
                log.warning("namespace %r stays in its own collection: %s", namespace, exc)
                # Undone only while its own collection still holds it (else the shared
                # copies are the records; the move record is finished on next open).
                with suppress(Exception):
                    if self._get_collection(collection_name(namespace)) is not None:
                        undo_demote(
                            cols, Place(self._bucket(namespace), namespace, shared=True), self.note_deletion
                        )
            steps.update(1)
        if moved:
            steps.close()

    if TYPE_CHECKING:  # provided by the store (declared for the type checker only)

        def _meta(self) -> Any: ...
        def _get_collection(self, name: str) -> Any | None: ...
        def _collections(self) -> Collections: ...
        def _count(self, place: Place) -> int: ...
        def _stale(self, namespace: str) -> None: ...
        def note_deletion(self, collection: str | None) -> None: ...
        def send_held(self) -> None: ...
        def _held(self) -> Held | None: ...


def own_namespaces(collections: Sequence[Any]) -> list[str]:
    """The namespaces that have a collection of their own (whole, not a rebuild's copy)."""
    names = []
    for col in collections:
        meta = getattr(col, "metadata", None) or {}
        if (
            col.name.startswith(NAMESPACE_PREFIX)
            and not col.name.endswith(REBUILD_SUFFIX)
            and Key.NAMESPACE in meta
            and not meta.get(Key.FILLING)
        ):
            names.append(str(meta[Key.NAMESPACE]))
    return names


def without_documents(batch: Batch) -> Batch:
    """A rebuild's batch with each document moved into the record's text key."""
    ids, embeddings, documents, metadatas = batch
    moved = [
        {**(m or {}), Key.TEXT: d} if d is not None and Key.TEXT not in (m or {}) else dict(m or {})
        for m, d in zip(metadatas, documents, strict=True)
    ]
    return ids, embeddings, [None] * len(ids), moved
