"""The Chroma backend: the only module that imports ``chromadb``.

Layout: one Chroma collection per priomem namespace (named ``pmns-<hash>``, with the
namespace in the collection's metadata), so recall in one namespace never pays for the
size of the others, and a whole namespace can be dropped at once. A small collection
``priomem-meta`` records the embedding model and dimension of the store.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import numpy as np

from priomem import _compaction
from priomem._errors import InvalidInputError, ModelMismatchError, StoreError, StoreUnavailableError
from priomem._gate import Gate, shared
from priomem._lock import StoreLock
from priomem._rebuild import (
    COMPACT_KIND,
    PENDING_ID,
    REBUILD_SUFFIX,
    Batch,
    Collections,
    rebuild,
    rebuild_marked,
    recover,
)
from priomem._records import Key

__all__ = ["LAYOUT", "LAYOUT_KEY", "ChromaStore", "Row"]

log = logging.getLogger("priomem")

META_COLLECTION = "priomem-meta"
NAMESPACE_PREFIX = "pmns-"
STORE_SCHEMA = 1
#: Record layout of a namespace's collection, in its metadata (absent: 1). 2: terms keyed
#: by namespace, context links only between turns of a thread; 3: every record has
#: ``pm_expires`` (see ``_upgrade``).
LAYOUT_KEY = Key.LAYOUT
LAYOUT = 3
#: Set in a namespace's collection metadata once a turn of a thread is written to it.
THREADS_KEY = Key.THREADS
#: A record's text, kept in its metadata rather than as Chroma's document: Chroma indexes
#: documents in an SQLite FTS5 trigram index, which keeps a deleted text's trigrams (and
#: their positions) until it merges its segments, and nothing in Chroma's API merges them.
#: priomem searches words with its own terms, so it gives Chroma no document at all.
#: Records written before keep their document; a compaction's rebuild moves it here.
TEXT_KEY = Key.TEXT

Where = dict[str, Any]
T = TypeVar("T")


@dataclass(slots=True)
class Row:
    """One stored record as Chroma returns it."""

    id: str
    document: str
    metadata: dict[str, Any]
    embedding: np.ndarray | None = None
    distance: float | None = None


def collection_name(namespace: str) -> str:
    return NAMESPACE_PREFIX + hashlib.sha256(namespace.encode("utf-8")).hexdigest()[:40]


def _translate(exc: Exception, action: str) -> StoreError:
    text = str(exc) or type(exc).__name__
    lowered = text.lower()
    if any(w in lowered for w in ("connect", "refused", "timed out", "timeout", "unreachable")):
        return StoreUnavailableError(
            f"could not {action}: the Chroma server did not answer ({text}). Check that it runs "
            "and that --url / PRIOMEM_URL points at it.",
            unsent=not any(w in lowered for w in ("timed out", "timeout", "reset", "aborted")),
        )
    return StoreError(f"could not {action}: Chroma said: {text}")


def _chromadb() -> Any:
    """The chromadb module, imported on first use: it costs about a second, and a process
    that only lists its tools (an MCP server starting) should not pay it."""
    import chromadb
    import chromadb.errors

    return chromadb


@contextmanager
def chroma_errors(action: str) -> Iterator[None]:
    try:
        yield
    except StoreError:
        raise
    except Exception as exc:  # chromadb, httpx and the Rust bindings raise their own types
        raise _translate(exc, action) from exc


class ChromaStore:
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
    ) -> None:
        self._client = client
        self._model_name = model_name
        self._dimension = dimension
        self._hnsw = dict(hnsw)
        self._lock = lock
        self._owns_client = owns_client
        self.location = location
        self._path = path
        self._collections: dict[str, Any] = {}
        self._threads: set[str] = set()
        self._guard = threading.RLock()
        self._gate = Gate()
        self._marked: set[str] = set()
        #: Rebuilds and vacuums are safe only where no other process writes meanwhile.
        self._compactable = path is not None and owns_client and lock is not None
        with chroma_errors("read the store's model record"):
            self._max_batch = int(client.get_max_batch_size())
        self._check_model()
        self._pending = False
        if self._compactable:
            with chroma_errors(f"recover the store at {path}"):
                recover(collections_of(client))
            self._pending = bool(self.meta_get([PENDING_ID]))

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
        with chroma_errors("open the store's settings"):
            return self._client.get_or_create_collection(META_COLLECTION, embedding_function=None)

    @shared
    def meta_put(self, record_id: str, document: str, metadata: Mapping[str, Any]) -> None:
        """Write one store-level record (its 1-d vector is a placeholder: never searched)."""
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
        with chroma_errors("delete store settings"):
            self._meta().delete(ids=list(record_ids))

    @shared
    def note_deletion(self, namespace: str | None) -> None:
        """Record, before Chroma deletes anything, that the store needs compacting.

        ``namespace``: records are about to be deleted from it (its collection is due
        for a rebuild); None: a whole collection is about to be dropped. The records live
        in Chroma, so a store killed before it compacts still compacts later (a server's
        folder: with ``priomem purge`` once it is stopped).
        """
        ids = [] if self._pending else [PENDING_ID]
        if namespace is not None and namespace not in self._marked:
            ids.append(COMPACT_KIND + ":" + collection_name(namespace))
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
        if namespace is not None:
            self._marked.add(namespace)

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

    def _compact_now(self, *, reopen: bool) -> list[str]:
        assert self._path is not None
        with self._gate.exclusive(), self._guard:
            try:
                with chroma_errors("compact the store"):
                    rebuilt = rebuild_marked(collections_of(self._client), self._max_batch)
            except BaseException:
                # Leave nothing half-done for this process to trip on: a rebuild that
                # failed part-way is finished or undone now, as on the next open.
                with suppress(Exception), chroma_errors("recover the store"):
                    recover(collections_of(self._client))
                raise
            finally:
                self._collections.clear()
                self._marked.clear()
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

    # -- damage: finding it, and repairing from what Chroma still holds ---------------
    @shared
    def probe(self, namespace: str) -> str | None:
        """None if Chroma can read the namespace's collection, else what it said (asked
        twice, of the collection as it is now, so a passing hiccup is no finding)."""
        error: str | None = None
        for attempt in range(2):
            try:
                col = self._client.get_collection(collection_name(namespace), embedding_function=None)
            except (_chromadb().errors.NotFoundError, ValueError):
                return None
            try:
                col.count()
                col.get(limit=1, include=["documents", "metadatas"])
                col.query(query_embeddings=[np.ones(self._dimension, np.float32)], n_results=1, include=[])
                return None
            except Exception as exc:  # any failure is the finding
                error = str(exc) or type(exc).__name__
            if attempt == 0:
                time.sleep(0.2)
        return error

    @property
    def can_salvage(self) -> bool:
        """Whether damaged namespaces can be repaired here (an embedded store this owns)."""
        return self._compactable

    def salvage(self, namespace: str) -> dict[str, Any]:
        """The records Chroma still holds of a namespace it cannot read (embedded stores)."""
        from priomem._salvage import salvage

        if self._path is None:
            return {}
        with self._gate.shared(), chroma_errors(f"open namespace {namespace!r}"):
            try:
                col = self._client.get_collection(collection_name(namespace), embedding_function=None)
            except (_chromadb().errors.NotFoundError, ValueError):
                return {}
            return salvage(self._path / _compaction.DATABASE, str(col.id))

    def restore(
        self,
        namespace: str,
        ids: Sequence[str],
        embeddings: np.ndarray,
        documents: Sequence[str],
        metadatas: Sequence[Mapping[str, Any]],
    ) -> None:
        """Replace a namespace's collection by a fresh one holding exactly these records
        (crash-safe like a compaction's rebuild)."""
        step = self._max_batch
        batches = [
            (list(ids[i : i + step]), embeddings[i : i + step], list(documents[i : i + step]),
             [dict(m) for m in metadatas[i : i + step]])
            for i in range(0, len(ids), step)
        ]  # fmt: skip
        with self._gate.exclusive(), self._guard:
            self._collections.pop(namespace, None)
            try:
                with chroma_errors(f"repair namespace {namespace!r}"):
                    rebuild(collections_of(self._client), collection_name(namespace), step, batches)
            except BaseException:
                with suppress(Exception), chroma_errors("recover the store"):
                    recover(collections_of(self._client))
                raise
            finally:
                self._collections.pop(namespace, None)

    # -- collections -----------------------------------------------------------------
    def _collection(self, namespace: str, *, create: bool) -> Any | None:
        cached = self._collections.get(namespace)
        if cached is not None:
            return cached
        with self._guard:
            cached = self._collections.get(namespace)
            if cached is not None:
                return cached
            name = collection_name(namespace)
            with chroma_errors(f"open namespace {namespace!r}"):
                if create:
                    col = self._client.get_or_create_collection(
                        name,
                        metadata={
                            Key.NAMESPACE: namespace,
                            Key.MODEL: self._model_name,
                            Key.DIM: self._dimension,
                            LAYOUT_KEY: LAYOUT,
                        },
                        configuration={"hnsw": {"space": "cosine", **self._hnsw}},
                        embedding_function=None,
                    )
                else:
                    try:
                        col = self._client.get_collection(name, embedding_function=None)
                    except (_chromadb().errors.NotFoundError, ValueError):
                        return None
            self._collections[namespace] = col
            return col

    @shared
    def layout(self, namespace: str) -> int | None:
        """The record layout of a namespace's collection (None: it has no collection)."""
        col = self._collection(namespace, create=False)
        if col is None:
            return None
        return int((col.metadata or {}).get(LAYOUT_KEY, 1))

    @shared
    def set_layout(self, namespace: str, layout: int) -> None:
        """Record that a namespace's records now follow ``layout``."""
        col = self._collection(namespace, create=False)
        if col is None:
            return
        with chroma_errors(f"update namespace {namespace!r}"):
            col.modify(metadata={**(col.metadata or {}), LAYOUT_KEY: layout})
        with self._guard:
            self._collections.pop(namespace, None)

    @shared
    def mark_threads(self, namespace: str) -> None:
        """Record in the namespace's collection that it holds turns of a thread (once)."""
        if namespace in self._threads:
            return
        col = self._collection(namespace, create=True)
        assert col is not None
        with chroma_errors(f"update namespace {namespace!r}"):
            fresh = self._client.get_collection(col.name, embedding_function=None)
            meta = dict(fresh.metadata or {})
            if not meta.get(THREADS_KEY):
                fresh.modify(metadata={**meta, THREADS_KEY: True})
        with self._guard:
            self._collections.pop(namespace, None)
            self._threads.add(namespace)

    @shared
    def has_threads(self, namespace: str) -> bool:
        """Whether the namespace holds turns of a thread, as its collection says now."""
        if namespace in self._threads:
            return True
        with chroma_errors(f"open namespace {namespace!r}"):
            try:
                col = self._client.get_collection(collection_name(namespace), embedding_function=None)
            except (_chromadb().errors.NotFoundError, ValueError):
                return False
        if (col.metadata or {}).get(THREADS_KEY):
            self._threads.add(namespace)
            return True
        return False

    @shared
    def namespaces(self) -> list[str]:
        """Every namespace that has a collection, sorted."""
        with chroma_errors("list namespaces"):
            collections = self._client.list_collections()
        names = []
        for col in collections:
            meta = getattr(col, "metadata", None) or {}
            if (
                col.name.startswith(NAMESPACE_PREFIX)
                and not col.name.endswith(REBUILD_SUFFIX)
                and Key.NAMESPACE in meta
            ):
                names.append(str(meta[Key.NAMESPACE]))
        return sorted(names)

    @shared
    def drop(self, namespace: str) -> None:
        """Delete a namespace's collection and everything in it."""
        self.note_deletion(None)
        with self._guard:
            self._marked.discard(namespace)
            self._collections.pop(namespace, None)
            self._threads.discard(namespace)
            with (
                chroma_errors(f"delete namespace {namespace!r}"),
                suppress(_chromadb().errors.NotFoundError, ValueError),
            ):
                self._client.delete_collection(collection_name(namespace))

    # -- records -----------------------------------------------------------------------
    @shared
    def upsert(
        self,
        namespace: str,
        ids: Sequence[str],
        embeddings: np.ndarray,
        documents: Sequence[str],
        metadatas: Sequence[Mapping[str, Any]],
    ) -> None:
        col = self._collection(namespace, create=True)
        assert col is not None  # create=True always returns a collection
        step = self._max_batch
        with chroma_errors(f"write to namespace {namespace!r}"):
            for start in range(0, len(ids), step):
                end = start + step
                col.upsert(
                    ids=list(ids[start:end]),
                    embeddings=embeddings[start:end],
                    metadatas=[
                        {**m, TEXT_KEY: d}
                        for m, d in zip(metadatas[start:end], documents[start:end], strict=True)
                    ],
                )

    @shared
    def update_metadata(
        self, namespace: str, ids: Sequence[str], metadatas: Sequence[Mapping[str, Any]]
    ) -> None:
        """Merge ``metadatas`` into existing records (missing ids are ignored by Chroma)."""
        col = self._collection(namespace, create=False)
        if col is None or not ids:
            return
        with chroma_errors(f"update namespace {namespace!r}"):
            for start in range(0, len(ids), self._max_batch):
                end = start + self._max_batch
                col.update(ids=list(ids[start:end]), metadatas=[dict(m) for m in metadatas[start:end]])

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
        col = self._collection(namespace, create=False)
        if col is None or (ids is not None and not ids):
            return []
        include = [
            n
            for n, on in (
                ("documents", documents),
                ("metadatas", metadatas or documents),  # the text is in the metadata
                ("embeddings", embeddings),
            )
            if on
        ]
        with chroma_errors(f"read namespace {namespace!r}"):
            got = col.get(
                ids=list(dict.fromkeys(ids)) if ids is not None else None,
                where=where or None,
                limit=limit,
                offset=offset,
                include=include,
            )
        docs = got.get("documents") or []
        metas = got.get("metadatas") or []
        embs = got.get("embeddings")
        rows = []
        for i, rid in enumerate(got["ids"]):
            meta = dict(metas[i] or {}) if metas else {}
            text = _text(meta, docs[i] if docs else None)
            rows.append(
                Row(
                    id=rid,
                    document=text if documents else "",
                    metadata=meta if metadatas else {},
                    embedding=np.asarray(embs[i], dtype=np.float32)
                    if embeddings and embs is not None
                    else None,
                )
            )
        return rows

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
        col = self._collection(namespace, create=False)
        if col is None or n < 1:
            return []
        include = ["documents", "metadatas", "distances"] + (["embeddings"] if embeddings else [])
        with chroma_errors(f"search namespace {namespace!r}"):
            got = col.query(query_embeddings=[vector], n_results=n, where=where or None, include=include)
        ids = got["ids"][0]
        docs = (got.get("documents") or [[]])[0]
        metas = (got.get("metadatas") or [[]])[0]
        dists = (got.get("distances") or [[]])[0]
        embs = got.get("embeddings")
        metas = [dict(m or {}) for m in metas]
        return [
            Row(
                id=rid,
                document=_text(metas[i], docs[i]),
                metadata=metas[i],
                distance=float(dists[i]),
                embedding=np.asarray(embs[0][i], dtype=np.float32)
                if embeddings and embs is not None
                else None,
            )
            for i, rid in enumerate(ids)
        ]

    @shared
    def nearest(self, namespace: str, vector: np.ndarray, n: int) -> list[tuple[str, float]]:
        """The ids and cosine similarities of the ``n`` nearest records, nearest first.

        Reads no documents or metadata: Chroma's cost of a query grows with what it
        returns (about 0.15 ms a record with priomem's metadata), so recall reads those
        only for the candidates that can still make its top k.
        """
        col = self._collection(namespace, create=False)
        if col is None or n < 1:
            return []
        with chroma_errors(f"search namespace {namespace!r}"):
            got = col.query(query_embeddings=[vector], n_results=n, include=["distances"])
        return [
            (rid, 1.0 - float(d))
            for rid, d in zip(got["ids"][0], (got.get("distances") or [[]])[0], strict=True)
        ]

    @shared
    def delete(self, namespace: str, ids: Sequence[str]) -> None:
        col = self._collection(namespace, create=False)
        if col is None or not ids:
            return
        self.note_deletion(namespace)
        with chroma_errors(f"delete from namespace {namespace!r}"):
            for start in range(0, len(ids), self._max_batch):
                col.delete(ids=list(ids[start : start + self._max_batch]))

    @shared
    def count(self, namespace: str) -> int:
        col = self._collection(namespace, create=False)
        if col is None:
            return 0
        with chroma_errors(f"count namespace {namespace!r}"):
            return int(col.count())

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
        self._collections.clear()
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


def _without_documents(batch: Batch) -> Batch:
    """A rebuild's batch with each document moved into the record's ``TEXT_KEY``."""
    ids, embeddings, documents, metadatas = batch
    moved = [
        {**(m or {}), TEXT_KEY: d} if d is not None and TEXT_KEY not in (m or {}) else dict(m or {})
        for m, d in zip(metadatas, documents, strict=True)
    ]
    return ids, embeddings, [None] * len(ids), moved


def persistent_client(path: Path) -> Any:
    from chromadb.config import Settings as ChromaSettings

    with chroma_errors(f"open the store at {path}"):
        return _chromadb().PersistentClient(
            path=str(path), settings=ChromaSettings(anonymized_telemetry=False)
        )


def collections_of(client: Any) -> Collections:
    return Collections(
        client, META_COLLECTION, (_chromadb().errors.NotFoundError, ValueError), _without_documents
    )


def finish_compaction(path: Path, lock: StoreLock | None) -> None:
    """The file-level steps of a compaction, on a folder no client has open."""
    fd = lock.fileno() if lock is not None else None
    _compaction.vacuum(path, () if fd is None else (fd,))
    _compaction.remove_orphan_segments(path)
    _compaction.restrict_permissions(path)
