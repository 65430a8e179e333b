"""The Chroma backend: the only module that imports ``chromadb``.

Layout (:mod:`priomem._layout`): small namespaces share a few collections
(``pmshared-NN``) and are searched exactly; a namespace past ``own_collection_at``
memories has a collection of its own (``pmns-<hash>``, the namespace in its metadata), so
its recall never pays for the size of the others. ``layout="own"`` gives every namespace
its own collection from the start (for a Chroma that offers that cheaply). A small
collection ``priomem-meta`` records the embedding model and dimension of the store, the
state of each shared namespace and the store's own bookkeeping; ``priomem-spill`` holds
what does not fit in a record within Chroma Cloud's quotas (:mod:`priomem._spill`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import numpy as np

from priomem import _compaction
from priomem._chroma_calls import Where, chroma_errors, get_records, query_records, read_again
from priomem._damage import Damage
from priomem._errors import InvalidInputError, ModelMismatchError, StoreError
from priomem._gate import Gate, shared
from priomem._held import HeldWrites
from priomem._kept import KeptRows
from priomem._layout import NAMESPACE_PREFIX, SHARED_PREFIX, Place, collection_name, entry_id
from priomem._lock import StoreLock
from priomem._placement import (
    LAYOUT,
    LAYOUT_KEY,
    OWN_COLLECTION_AT,
    THREADS_KEY,
    Placement,
    without_documents,
)
from priomem._rebuild import (
    COMPACT_KIND,
    PENDING_ID,
    WRITE_BATCH,
    Collections,
    rebuild_marked,
    recover,
)
from priomem._records import Key
from priomem._spill import IN_PLACE, SPILL, SPILL_COLLECTION, Spills

__all__ = [
    "LAYOUT",
    "LAYOUT_KEY",
    "NAMESPACE_PREFIX",
    "OWN_COLLECTION_AT",
    "SHARED_PREFIX",
    "THREADS_KEY",
    "ChromaStore",
    "Row",
    "chroma_errors",
]

log = logging.getLogger("priomem")

META_COLLECTION = "priomem-meta"
STORE_SCHEMA = 1
#: A record's text, kept in its metadata rather than as Chroma's document: Chroma indexes
#: documents in an SQLite FTS5 trigram index, which keeps a deleted text's trigrams (and
#: their positions) until it merges its segments, and nothing in Chroma's API merges them.
#: priomem searches words with its own terms, so it gives Chroma no document at all.
#: Records written before keep their document; a compaction's rebuild moves it here.
TEXT_KEY = Key.TEXT

T = TypeVar("T")


@dataclass(slots=True)
class Row:
    """One stored record as Chroma returns it."""

    id: str
    document: str
    metadata: dict[str, Any]
    embedding: np.ndarray | None = None
    distance: float | None = None


def _chromadb() -> Any:
    """The chromadb module, imported on first use: it costs about a second, and a process
    that only lists its tools (an MCP server starting) should not pay it."""
    import chromadb
    import chromadb.errors

    return chromadb


class ChromaStore(HeldWrites, Placement, Damage, Spills, KeptRows):
    """Namespaced record storage on any Chroma client."""

    def __init__(
        self,
        client: Any,
        *,
        model_name: str,
        dimension: int,
        hnsw: Mapping[str, int],
        lock: StoreLock | None = None,
        owns_client: bool = False,
        location: str = "a Chroma client",
        path: Path | None = None,
        layout: str = "shared",
        own_collection_at: int = OWN_COLLECTION_AT,
    ) -> None:
        if layout not in {"shared", "own"}:
            raise InvalidInputError(
                f"settings.namespace_layout: {layout!r} is unknown; use 'shared' or 'own'.",
                field="namespace_layout",
            )
        self._client = client
        self._model_name = model_name
        self._dimension = dimension
        self._hnsw = dict(hnsw)
        self._lock = lock
        self._owns_client = owns_client
        self.location = location
        self._path = path
        self._layout = layout
        self._own_at = own_collection_at
        self._init_placement()
        self._init_held()
        self._init_spills()
        self._init_kept()
        #: The namespaces this process deleted records of, by shared collection.
        self._deleted_from: dict[str, set[str]] = {}
        self._guard = threading.RLock()
        self._gate = Gate()
        self._marked: set[str] = set()
        #: Rebuilds and vacuums are safe only where no other process writes meanwhile.
        self._compactable = path is not None and owns_client and lock is not None
        with chroma_errors("read the store's model record"):
            self._max_batch = min(int(client.get_max_batch_size()), WRITE_BATCH)
        self._check_model()
        self._pending = False
        if self._compactable:
            with chroma_errors(f"recover the store at {path}"):
                recover(collections_of(client))
            self._pending = bool(self.meta_get([PENDING_ID]))
            self._settle()

    # -- opening -------------------------------------------------------------------
    @classmethod
    def open_path(cls, path: Path, **kwargs: Any) -> ChromaStore:
        """An embedded, persistent store in ``path`` (created if missing), locked to this process."""
        try:
            created = not path.exists()
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
            if created:
                _compaction.restrict_permissions(path)
        except OSError as exc:
            raise StoreError(
                f"could not create the store folder {path}: {exc}; pass another --path."
            ) from exc
        lock = StoreLock(path)
        lock.acquire()
        try:
            # Before Chroma allocates anything: index files then carry no stale heap bytes.
            _compaction.clear_heap_garbage()
            client = persistent_client(path)
            return cls(client, lock=lock, owns_client=True, location=str(path), path=path, **kwargs)
        except BaseException:
            lock.release()
            raise

    @classmethod
    def open_url(cls, url: str, token: str | None = None, **kwargs: Any) -> ChromaStore:
        """A store on a Chroma server at ``url`` (``http://host:port``), optional bearer token."""
        parsed = urlparse(url)
        if parsed.scheme not in {"http", "https"} or not parsed.hostname:
            raise InvalidInputError(
                f"url: {url!r} is not a Chroma server address; use http://host:port.", field="url"
            )
        from chromadb.config import Settings as ChromaSettings

        headers = {"Authorization": f"Bearer {token}"} if token else None
        port = parsed.port or (443 if parsed.scheme == "https" else 8000)
        with chroma_errors(f"connect to the Chroma server at {url}"):
            client = _chromadb().HttpClient(
                host=parsed.hostname,
                port=port,
                ssl=parsed.scheme == "https",
                headers=headers,
                settings=ChromaSettings(anonymized_telemetry=False),
            )
            client.heartbeat()
        return cls(client, owns_client=True, location=url, **kwargs)

    def _check_model(self) -> None:
        wanted = {
            Key.MODEL: self._model_name,
            Key.DIM: self._dimension,
            Key.SCHEMA: STORE_SCHEMA,
        }
        with chroma_errors("read the store's model record"):
            meta = self._client.get_or_create_collection(
                META_COLLECTION, metadata=wanted, embedding_function=None
            )
        found = meta.metadata or {}
        if found.get(Key.MODEL) != self._model_name or found.get(Key.DIM) != self._dimension:
            raise ModelMismatchError(
                f"the store at {self.location} was written with the embedding model "
                f"{found.get(Key.MODEL)!r} ({found.get(Key.DIM)}-d), not {self._model_name!r} "
                f"({self._dimension}-d). Open it with that model, or migrate: "
                "'priomem export' with the old model, then 'priomem import' into a new store "
                "with the new one (it re-embeds)."
            )
        if int(found.get(Key.SCHEMA, 0)) > STORE_SCHEMA:
            raise StoreError(
                f"the store at {self.location} uses a newer priomem store layout "
                f"({found.get(Key.SCHEMA)}); upgrade priomem to open it."
            )

    # -- store-level records (quotas, retention, audit log) ---------------------------
    def _meta(self) -> Any:
        """The store-level collection (opened once; forgotten with the collection objects)."""
        col = self._meta_col
        if col is None:
            with chroma_errors("open the store's settings"):
                col = self._client.get_or_create_collection(META_COLLECTION, embedding_function=None)
            self._meta_col = col
        return col

    @shared
    def meta_put(self, record_id: str, document: str, metadata: Mapping[str, Any]) -> None:
        """Write one store-level record (its 1-d vector is a placeholder: never searched)."""
        self.send_held()
        with chroma_errors("write the store's settings"):
            self._meta().upsert(
                ids=[record_id], embeddings=[[1.0]], documents=[document], metadatas=[dict(metadata)]
            )

    @shared
    def meta_get(self, record_ids: Sequence[str]) -> dict[str, Row]:
        with chroma_errors("read the store's settings"):
            got = self._meta().get(ids=list(record_ids), include=["documents", "metadatas"])
        return {
            rid: Row(
                id=rid,
                document=(got["documents"] or [""])[i] or "",
                metadata=dict((got["metadatas"] or [{}])[i] or {}),
            )
            for i, rid in enumerate(got["ids"])
        }

    @shared
    def meta_find(self, kind: str) -> list[Row]:
        """Every store-level record whose ``kind`` metadata is ``kind``."""
        with chroma_errors("read the store's settings"):
            got = self._meta().get(where={"kind": kind}, include=["documents", "metadatas"])
        return [
            Row(
                id=rid,
                document=(got["documents"] or [""])[i] or "",
                metadata=dict((got["metadatas"] or [{}])[i] or {}),
            )
            for i, rid in enumerate(got["ids"])
        ]

    @shared
    def meta_delete(self, record_ids: Sequence[str]) -> None:
        self.send_held()
        with chroma_errors("delete store settings"):
            self._meta().delete(ids=list(record_ids))

    @shared
    def note_deletion(self, collection: str | None) -> None:
        """Record, before Chroma deletes anything, that the store needs compacting.

        ``collection``: records are about to be deleted from it (it is due for a
        rebuild); None: a whole collection is about to be dropped. The records live
        in Chroma, so a store killed before it compacts still compacts later (a server's
        folder: with ``priomem purge`` once it is stopped).
        """
        self.send_held()
        ids = [] if self._pending else [PENDING_ID]
        if collection is not None and collection not in self._marked:
            ids.append(COMPACT_KIND + ":" + collection)
        if not ids:
            return
        with chroma_errors("write the store's settings"):
            self._meta().upsert(
                ids=ids,
                embeddings=[[1.0]] * len(ids),
                documents=[""] * len(ids),
                metadatas=[{"kind": "pending" if i == PENDING_ID else COMPACT_KIND} for i in ids],
            )
        self._pending = True
        if collection is not None:
            self._marked.add(collection)

    @property
    def compaction_pending(self) -> bool:
        """Whether deleted records may still have copies on disk (embedded stores only)."""
        return self._pending

    def compact(self) -> list[str]:
        """Make every deletion real on disk now; returns the namespaces rebuilt.

        Rebuilds each namespace with deletions, then closes the client, runs ``chroma
        vacuum`` and removes orphaned index folders (see :mod:`priomem._compaction`), and
        reopens. Only for an embedded store this object owns (a server's folder is
        compacted with ``priomem purge`` once the server is stopped): elsewhere, returns [].
        """
        if not self._compactable or not self._pending:
            return []
        return self._compact_now(reopen=True)

    def _forget_places(self) -> None:
        super()._forget_places()
        self._spill_col = None
        self._no_spills_at = None

    def _label(self, name: str) -> str:
        """A shared collection as compaction's progress names it: with the namespaces
        this process deleted records of in it."""
        deleted = sorted(self._deleted_from.get(name, set()))
        shown = ", ".join(deleted[:3]) + (f" and {len(deleted) - 3} more" if len(deleted) > 3 else "")
        return f"shared collection {name}" + (f": {shown}" if shown else "")

    def _compact_now(self, *, reopen: bool) -> list[str]:
        assert self._path is not None
        with self._gate.exclusive(), self._guard:
            try:
                with chroma_errors("compact the store"):
                    rebuilt = rebuild_marked(collections_of(self._client), self._max_batch, self._label)
            except BaseException:
                # Leave nothing half-done for this process to trip on: a rebuild that
                # failed part-way is finished or undone now, as on the next open.
                with suppress(Exception), chroma_errors("recover the store"):
                    recover(collections_of(self._client))
                raise
            finally:
                self._forget_places()
                self._marked.clear()
            # A shared collection's rebuild: the namespaces deleted from in it (this process).
            named: list[str] = []
            for name in rebuilt:
                if name == SPILL_COLLECTION:
                    continue
                named += (
                    sorted(self._deleted_from.pop(name, set())) if name.startswith(SHARED_PREFIX) else [name]
                )
            rebuilt = list(dict.fromkeys(named))
            self._close_client()
            try:
                finish_compaction(self._path, self._lock)
            finally:
                self._client = persistent_client(self._path)
            # Cleared last: a kill before this leaves the mark, and the next close compacts.
            self.meta_delete([PENDING_ID])
            self._pending = False
            if not reopen:
                self._close_client()
            return rebuilt

    # -- where a namespace lives (see priomem._layout) -----------------------------------
    def _collections(self) -> Collections:
        return collections_of(self._client)

    def _get_collection(self, name: str) -> Any | None:
        try:
            return self._client.get_collection(name, embedding_function=None)
        except (_chromadb().errors.NotFoundError, ValueError):
            return None

    @shared
    def drop(self, namespace: str) -> None:
        """Delete a namespace and everything in it."""
        place = self._place(namespace, create=False)
        with self._guard:
            self._marked.discard(collection_name(namespace))
            self._forget_place(namespace)
            self._threads.discard(namespace)
        if place is None:
            return
        self._spill_forget(namespace, None)
        with chroma_errors(f"delete namespace {namespace!r}"):
            if place.shared:
                ids = place.col.get(where=place.where(None), include=[])["ids"]
                if ids:
                    self.note_deletion(place.col.name)
                    self._deleted_from.setdefault(place.col.name, set()).add(namespace)
                    for start in range(0, len(ids), self._max_batch):
                        place.col.delete(ids=ids[start : start + self._max_batch])
                self._meta().delete(ids=[entry_id(namespace)])
                self._forget_place(namespace)
                return
            self.note_deletion(None)
            with suppress(_chromadb().errors.NotFoundError, ValueError):
                self._client.delete_collection(collection_name(namespace))

    # -- records -----------------------------------------------------------------------
    def upsert(
        self,
        namespace: str,
        ids: Sequence[str],
        embeddings: np.ndarray,
        documents: Sequence[str],
        metadatas: Sequence[Mapping[str, Any]],
    ) -> None:
        """Write records (replacing any with the same ids). A shared namespace that grows
        past ``own_collection_at`` moves to a collection of its own (stores this process
        owns: see :mod:`priomem._layout`)."""
        if self._write(namespace, ids, embeddings, documents, metadatas):
            self._promote(namespace)

    @shared
    def _write(
        self,
        namespace: str,
        ids: Sequence[str],
        embeddings: np.ndarray,
        documents: Sequence[str],
        metadatas: Sequence[Mapping[str, Any]],
    ) -> bool:
        place = self._place(namespace, create=True)
        assert place is not None  # create=True always gives a place
        stamped = [
            place.stamp(rid, {**m, TEXT_KEY: d}) for rid, m, d in zip(ids, metadatas, documents, strict=True)
        ]
        # What does not fit in a record is written beside it first (priomem._spill).
        stamped, parts = self._spill_out(namespace, ids, stamped)
        batch = self._held()
        if (
            batch is not None
            and place.shared
            and not parts
            and batch.fits(namespace, len(ids), self._max_batch)
        ):
            batch.add(place, place.chroma_ids(list(ids)), np.asarray(embeddings), stamped)
            return False
        if batch is not None:
            self.send_held()  # what it holds first (a new namespace's state record)
        self._stale(namespace)
        step = self._max_batch
        try:
            with chroma_errors(f"write to namespace {namespace!r}"):
                for start in range(0, len(ids), step):
                    end = start + step
                    place.col.upsert(
                        ids=place.chroma_ids(list(ids[start:end])),
                        embeddings=embeddings[start:end],
                        metadatas=stamped[start:end],
                    )
        except BaseException:
            with suppress(Exception):  # nothing names them (a kill here leaves them: _spill)
                self._spill_delete(parts)
            raise
        self._stale(namespace)
        self._spill_replaced([(namespace, rid) for rid in ids], parts)
        return self._grown(place, len(ids))

    @shared
    def update_metadata(
        self, namespace: str, ids: Sequence[str], metadatas: Sequence[Mapping[str, Any]]
    ) -> None:
        """Merge ``metadatas`` into existing records (a None value removes its key; missing
        ids are ignored). Changes of a memory's use and expiry only are set in place;
        others read the records first, to keep them within a record's quotas (``_spill``)."""
        if all(set(m) <= IN_PLACE for m in metadatas):
            self._in_place({namespace: (ids, metadatas)})
            return
        place = self._place(namespace, create=False)
        if place is None or not ids:
            return
        ids, metadatas, stale = self._refit(place, ids, metadatas)
        try:
            self._update(place, ids, metadatas)
        finally:
            self._stale(namespace)
        with chroma_errors(f"update namespace {namespace!r}"):
            self._spill_delete(stale)

    @shared
    def update_uses(self, changes: Mapping[str, tuple[Sequence[str], Sequence[Mapping[str, Any]]]]) -> None:
        """Set a memory's use and expiry (``IN_PLACE``) on records of many namespaces at
        once (see ``_in_place``)."""
        if not all(set(m) <= IN_PLACE for _, metas in changes.values() for m in metas):
            raise ValueError("update_uses sets only keys updated in place; use update_metadata")
        self._in_place(changes)

    def _update(self, place: Place, ids: Sequence[str], metadatas: Sequence[Mapping[str, Any]]) -> None:
        with chroma_errors(f"update namespace {place.namespace!r}"):
            for start in range(0, len(ids), self._max_batch):
                end = start + self._max_batch
                place.col.update(
                    ids=place.chroma_ids(list(ids[start:end])),
                    metadatas=[dict(m) for m in metadatas[start:end]],
                )

    def _rows(self, place: Place, got: Mapping[str, Any], *, documents: bool, metadatas: bool) -> list[Row]:
        docs = got.get("documents") or []
        embs = got.get("embeddings")
        metas = [dict(m or {}) for m in got.get("metadatas") or []] or [{} for _ in got["ids"]]
        rids = [place.record_id(cid, meta) for cid, meta in zip(got["ids"], metas, strict=True)]
        if (documents or metadatas) and any(SPILL in m for m in metas):
            cids = list(got["ids"])

            def reread(i: int) -> dict[str, Any] | None:
                again = place.col.get(ids=[cids[i]], include=["metadatas"])
                if not again["ids"]:
                    return None
                fresh = dict((again["metadatas"] or [{}])[0] or {})
                place.record_id(cids[i], fresh)
                return fresh

            self._spill_in(place.namespace, rids, metas, reread)
        rows = []
        for i, rid in enumerate(rids):
            meta = metas[i]
            text = _text(meta, docs[i] if docs else None)
            rows.append(
                Row(
                    id=rid,
                    document=text if documents else "",
                    metadata=meta if metadatas else {},
                    embedding=np.asarray(embs[i], dtype=np.float32) if embs is not None else None,
                )
            )
        return rows

    @shared
    def get(
        self,
        namespace: str,
        *,
        ids: Sequence[str] | None = None,
        where: Where | None = None,
        limit: int | None = None,
        offset: int | None = None,
        documents: bool = True,
        metadatas: bool = True,
        embeddings: bool = False,
    ) -> list[Row]:
        place = self._place(namespace, create=False)
        if place is None or (ids is not None and not ids):
            return []
        kept = self._from_kept(place, where=where, limit=limit, ids=ids) if offset is None else None
        if kept is not None:  # a small shared namespace kept whole in memory
            local = {
                "ids": kept.ids,
                "metadatas": kept.metas,
                "embeddings": kept.matrix if embeddings else None,
            }
            return self._rows(place, local, documents=documents, metadatas=metadatas)
        # A shared record's id is read from its metadata when it was too long to prefix.
        with_meta = metadatas or documents or place.shared
        include = [
            n
            for n, on in (("metadatas", with_meta), ("embeddings", embeddings))  # the text is in the metadata
            if on
        ] + (["documents"] if documents else [])
        with chroma_errors(f"read namespace {namespace!r}"):
            got = get_records(
                place.col,
                ids=place.chroma_ids(list(dict.fromkeys(ids))) if ids is not None else None,
                # Prefixed ids are the namespace's own: no pm_ns clause (it costs per match).
                where=place.where(where) if ids is None else where,
                limit=limit,
                offset=offset,
                include=include,
                ranges_here=self._ranges_here(place),
            )
        if not embeddings:
            got = {**got, "embeddings": None}
        return self._rows(place, got, documents=documents, metadatas=metadatas)

    def ids(self, namespace: str, where: Where | None = None, limit: int | None = None) -> list[str]:
        return [r.id for r in self.get(namespace, where=where, limit=limit, documents=False, metadatas=False)]

    @shared
    def query(
        self,
        namespace: str,
        vector: np.ndarray,
        n: int,
        *,
        where: Where | None = None,
        embeddings: bool = False,
    ) -> list[Row]:
        """The ``n`` nearest records; ``distance`` is cosine distance (1 - similarity)."""
        place = self._place(namespace, create=False)
        if place is None or n < 1:
            return []
        include = ["documents", "metadatas", "distances"] + (["embeddings"] if embeddings else [])
        with chroma_errors(f"search namespace {namespace!r}"):
            best = self._exact(place, vector, n, where) if place.shared else None
            if best is not None:
                if not best:
                    return []
                kept = self._from_kept(place, cids=[cid for cid, _ in best])
                got: Mapping[str, Any]
                if kept is not None:
                    got = {"ids": kept.ids, "metadatas": kept.metas, "embeddings": kept.matrix}
                else:
                    got = read_again(
                        lambda: place.col.get(ids=[cid for cid, _ in best], include=include[:2] + include[3:])
                    )
                sims = dict(best)
                order = {cid: i for i, (cid, _) in enumerate(best)}
                if not embeddings:
                    got = {**got, "embeddings": None}
                rows = self._rows(place, got, documents=True, metadatas=True)
                paired = sorted(zip(got["ids"], rows, strict=True), key=lambda pair: order[pair[0]])
                for cid, row in paired:
                    row.distance = 1.0 - sims[cid]
                return [row for _, row in paired]
            got = query_records(place.col, vector, n, place.where(where), include)
        flat = {
            "ids": got["ids"][0],
            "documents": (got.get("documents") or [[]])[0],
            "metadatas": (got.get("metadatas") or [[]])[0],
            "embeddings": got["embeddings"][0] if embeddings and got.get("embeddings") is not None else None,
        }
        rows = self._rows(place, flat, documents=True, metadatas=True)
        for row, dist in zip(rows, (got.get("distances") or [[]])[0], strict=True):
            row.distance = float(dist)
        return rows

    @shared
    def nearest(self, namespace: str, vector: np.ndarray, n: int) -> list[tuple[str, float]]:
        """The ids and cosine similarities of the ``n`` nearest records, nearest first.

        Reads no documents or metadata: Chroma's cost of a query grows with what it
        returns (about 0.15 ms a record with priomem's metadata), so recall reads those
        only for the candidates that can still make its top k.
        """
        place = self._place(namespace, create=False)
        if place is None or n < 1:
            return []
        with chroma_errors(f"search namespace {namespace!r}"):
            best = self._exact(place, vector, n, None) if place.shared else None
            if best is None:
                got = place.col.query(
                    query_embeddings=[vector], n_results=n, where=place.where(None), include=["distances"]
                )
                best = [
                    (cid, 1.0 - float(d))
                    for cid, d in zip(got["ids"][0], (got.get("distances") or [[]])[0], strict=True)
                ]
            return list(
                zip(self._record_ids(place, [cid for cid, _ in best]), [s for _, s in best], strict=True)
            )

    def _record_ids(self, place: Place, chroma_ids: list[str]) -> list[str]:
        """The priomem ids of records of ``place`` (a long one read from its metadata)."""
        if not place.shared:
            return chroma_ids
        out = [cid[len(place.prefix) :] for cid in chroma_ids]
        hashed = [cid for cid in chroma_ids if cid[len(place.prefix) :].startswith("#")]
        if hashed:
            got = place.col.get(ids=hashed, include=["metadatas"])
            metas = got["metadatas"] or [{}] * len(got["ids"])
            real = {cid: str((m or {}).get(Key.ID, cid)) for cid, m in zip(got["ids"], metas, strict=True)}
            out = [real.get(cid, rid) for cid, rid in zip(chroma_ids, out, strict=True)]
        return out

    @shared
    def delete(self, namespace: str, ids: Sequence[str]) -> None:
        place = self._place(namespace, create=False)
        if place is None or not ids:
            return
        self._spill_forget(namespace, ids)  # first: a kill after leaves no text behind
        with self._guard:
            self._large.discard(namespace)
        self.note_deletion(place.col.name)
        self._stale(namespace)
        if place.shared:
            with self._guard:
                self._deleted_from.setdefault(place.col.name, set()).add(namespace)
        with chroma_errors(f"delete from namespace {namespace!r}"):
            for start in range(0, len(ids), self._max_batch):
                place.col.delete(ids=place.chroma_ids(list(ids[start : start + self._max_batch])))
        self._stale(namespace)
        with self._guard:
            self._sizes.pop(namespace, None)

    def _count(self, place: Place) -> int:
        if not place.shared:
            return int(place.col.count())
        return len(place.col.get(where=place.where(None), include=[])["ids"])

    @shared
    def count(self, namespace: str) -> int:
        place = self._place(namespace, create=False)
        if place is None:
            return 0
        with chroma_errors(f"count namespace {namespace!r}"):
            if place.shared and self._compactable:
                # Its vectors, which a recall reads next, are read (and kept) instead of
                # its ids: one read where there were two.
                kept = self._vectors(place)
                if kept is not None:
                    return len(kept.ids)
            return self._count(place)

    def _close_client(self) -> None:
        close = getattr(self._client, "close", None)
        if close is not None:
            try:
                close()
            except Exception as exc:  # closing must not hide the caller's own error
                log.warning("closing the Chroma client failed: %s", exc)

    def close(self, *, compact: bool = True) -> None:
        """Release the client and the lock; first, in an embedded store with deletions
        and ``compact``, make them real on disk (see :mod:`priomem._compaction`)."""
        with self._gate.exclusive():
            self._close(compact)

    def _close(self, compact: bool) -> None:
        self._forget_places()
        try:
            if self._compactable and compact and self._pending:
                try:
                    self._compact_now(reopen=False)
                except StoreError as exc:  # nothing is lost; the mark stays for the next close
                    log.warning("compaction on close did not finish: %s", exc)
                    self._close_client()
            elif self._owns_client:
                self._close_client()
            if self._compactable:
                assert self._path is not None
                _compaction.restrict_permissions(self._path)
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None


def _text(meta: dict[str, Any], document: str | None) -> str:
    """A record's text (removed from ``meta``): its ``TEXT_KEY``, or an older record's document."""
    text = meta.pop(TEXT_KEY, None)
    return str(text) if text is not None else (document or "")


def persistent_client(path: Path) -> Any:
    from chromadb.config import Settings as ChromaSettings

    with chroma_errors(f"open the store at {path}"):
        return _chromadb().PersistentClient(
            path=str(path), settings=ChromaSettings(anonymized_telemetry=False)
        )


def collections_of(client: Any) -> Collections:
    return Collections(
        client, META_COLLECTION, (_chromadb().errors.NotFoundError, ValueError), without_documents
    )


def finish_compaction(path: Path, lock: StoreLock | None) -> None:
    """The file-level steps of a compaction, on a folder no client has open."""
    fd = lock.fileno() if lock is not None else None
    _compaction.vacuum(path, () if fd is None else (fd,))
    _compaction.remove_orphan_segments(path)
    _compaction.restrict_permissions(path)
