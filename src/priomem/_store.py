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
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from priomem._errors import InvalidInputError, ModelMismatchError, StoreError, StoreUnavailableError
from priomem._lock import StoreLock
from priomem._scrub import scrub_store

__all__ = ["LAYOUT", "LAYOUT_KEY", "ChromaStore", "Row"]

log = logging.getLogger("priomem")

META_COLLECTION = "priomem-meta"
NAMESPACE_PREFIX = "pmns-"
STORE_SCHEMA = 1
#: Record layout of a namespace's collection, in its metadata (absent: 1). 2: terms keyed
#: by namespace, context links only between turns of a thread (see ``_upgrade``).
LAYOUT_KEY = "pm_layout"
LAYOUT = 2
#: Set in a namespace's collection metadata once a turn of a thread is written to it.
THREADS_KEY = "pm_threads"

Where = dict[str, Any]


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
            "and that --url / PRIOMEM_URL points at it."
        )
    return StoreError(f"could not {action}: Chroma said: {text}")


def _chromadb() -> Any:
    """The chromadb module, imported on first use: it costs about a second, and a process
    that only lists its tools (an MCP server starting) should not pay it."""
    import chromadb
    import chromadb.errors

    return chromadb


@contextmanager
def _chroma(action: str) -> Iterator[None]:
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
        with _chroma("read the store's model record"):
            self._max_batch = int(client.get_max_batch_size())
        self._check_model()

    # -- opening -------------------------------------------------------------------
    @classmethod
    def open_path(cls, path: Path, **kwargs: Any) -> ChromaStore:
        """An embedded, persistent store in ``path`` (created if missing), locked to this process."""
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"could not create the store folder {path}: {exc}; pass another --path."
            ) from exc
        lock = StoreLock(path)
        lock.acquire()
        try:
            from chromadb.config import Settings as ChromaSettings

            with _chroma(f"open the store at {path}"):
                client = _chromadb().PersistentClient(
                    path=str(path), settings=ChromaSettings(anonymized_telemetry=False)
                )
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
        with _chroma(f"connect to the Chroma server at {url}"):
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
            "pm_model": self._model_name,
            "pm_dim": self._dimension,
            "pm_schema": STORE_SCHEMA,
        }
        with _chroma("read the store's model record"):
            meta = self._client.get_or_create_collection(
                META_COLLECTION, metadata=wanted, embedding_function=None
            )
        found = meta.metadata or {}
        if found.get("pm_model") != self._model_name or found.get("pm_dim") != self._dimension:
            raise ModelMismatchError(
                f"the store at {self.location} was written with the embedding model "
                f"{found.get('pm_model')!r} ({found.get('pm_dim')}-d), not {self._model_name!r} "
                f"({self._dimension}-d). Open it with that model, or migrate: "
                "'priomem export' with the old model, then 'priomem import' into a new store "
                "with the new one (it re-embeds)."
            )
        if int(found.get("pm_schema", 0)) > STORE_SCHEMA:
            raise StoreError(
                f"the store at {self.location} uses a newer priomem store layout "
                f"({found.get('pm_schema')}); upgrade priomem to open it."
            )

    # -- store-level records (quotas, retention, audit log) ---------------------------
    def _meta(self) -> Any:
        with _chroma("open the store's settings"):
            return self._client.get_or_create_collection(META_COLLECTION, embedding_function=None)

    def meta_put(self, record_id: str, document: str, metadata: Mapping[str, Any]) -> None:
        """Write one store-level record (its 1-d vector is a placeholder: never searched)."""
        with _chroma("write the store's settings"):
            self._meta().upsert(
                ids=[record_id], embeddings=[[1.0]], documents=[document], metadatas=[dict(metadata)]
            )

    def meta_get(self, record_ids: Sequence[str]) -> dict[str, Row]:
        with _chroma("read the store's settings"):
            got = self._meta().get(ids=list(record_ids), include=["documents", "metadatas"])
        return {
            rid: Row(
                id=rid,
                document=(got["documents"] or [""])[i] or "",
                metadata=dict((got["metadatas"] or [{}])[i] or {}),
            )
            for i, rid in enumerate(got["ids"])
        }

    def meta_find(self, kind: str) -> list[Row]:
        """Every store-level record whose ``kind`` metadata is ``kind``."""
        with _chroma("read the store's settings"):
            got = self._meta().get(where={"kind": kind}, include=["documents", "metadatas"])
        return [
            Row(
                id=rid,
                document=(got["documents"] or [""])[i] or "",
                metadata=dict((got["metadatas"] or [{}])[i] or {}),
            )
            for i, rid in enumerate(got["ids"])
        ]

    def meta_delete(self, record_ids: Sequence[str]) -> None:
        with _chroma("delete store settings"):
            self._meta().delete(ids=list(record_ids))

    @property
    def embedded_path(self) -> Path | None:
        """The folder of an embedded store (None for a server or a caller's client)."""
        return self._path

    def purge_residue(self, ids: Sequence[str]) -> None:
        """Remove what an embedded Chroma keeps of deleted records' text, then compact.

        Chroma's write-ahead log (``embeddings_queue`` in ``chroma.sqlite3``) keeps every
        upsert's document and metadata until its vector index is persisted, and SQLite keeps
        deleted rows in free pages. This blanks the logged document and metadata of ``ids``
        (the delete entries stay, so replaying the log still ends with the deletion),
        rebuilds the full-text index, and VACUUMs with secure_delete. The Chroma client is
        closed meanwhile and reopened after.
        """
        if self._path is None or not self._owns_client:
            return
        import sqlite3

        from chromadb.config import Settings as ChromaSettings

        with self._guard:
            self._collections.clear()
            close = getattr(self._client, "close", None)
            if close is not None:
                close()
            try:
                con = sqlite3.connect(self._path / "chroma.sqlite3", timeout=30)
                try:
                    con.execute("PRAGMA secure_delete=ON")
                    unique = list(dict.fromkeys(ids))
                    for start in range(0, len(unique), 500):
                        chunk = unique[start : start + 500]
                        marks = ",".join("?" * len(chunk))
                        con.execute(
                            f"UPDATE embeddings_queue SET metadata = NULL WHERE id IN ({marks})",
                            chunk,
                        )
                    con.commit()
                    con.execute(
                        "INSERT INTO embedding_fulltext_search(embedding_fulltext_search) VALUES ('optimize')"
                    )
                    con.commit()
                    con.execute("VACUUM")
                finally:
                    con.close()
            finally:
                with _chroma(f"reopen the store at {self._path}"):
                    self._client = _chromadb().PersistentClient(
                        path=str(self._path), settings=ChromaSettings(anonymized_telemetry=False)
                    )

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
            with _chroma(f"open namespace {namespace!r}"):
                if create:
                    col = self._client.get_or_create_collection(
                        name,
                        metadata={
                            "pm_namespace": namespace,
                            "pm_model": self._model_name,
                            "pm_dim": self._dimension,
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

    def layout(self, namespace: str) -> int | None:
        """The record layout of a namespace's collection (None: it has no collection)."""
        col = self._collection(namespace, create=False)
        if col is None:
            return None
        return int((col.metadata or {}).get(LAYOUT_KEY, 1))

    def set_layout(self, namespace: str, layout: int) -> None:
        """Record that a namespace's records now follow ``layout``."""
        col = self._collection(namespace, create=False)
        if col is None:
            return
        with _chroma(f"update namespace {namespace!r}"):
            col.modify(metadata={**(col.metadata or {}), LAYOUT_KEY: layout})
        with self._guard:
            self._collections.pop(namespace, None)

    def mark_threads(self, namespace: str) -> None:
        """Record in the namespace's collection that it holds turns of a thread (once)."""
        if namespace in self._threads:
            return
        col = self._collection(namespace, create=True)
        assert col is not None
        with _chroma(f"update namespace {namespace!r}"):
            fresh = self._client.get_collection(col.name, embedding_function=None)
            meta = dict(fresh.metadata or {})
            if not meta.get(THREADS_KEY):
                fresh.modify(metadata={**meta, THREADS_KEY: True})
        with self._guard:
            self._collections.pop(namespace, None)
            self._threads.add(namespace)

    def has_threads(self, namespace: str) -> bool:
        """Whether the namespace holds turns of a thread, as its collection says now."""
        if namespace in self._threads:
            return True
        with _chroma(f"open namespace {namespace!r}"):
            try:
                col = self._client.get_collection(collection_name(namespace), embedding_function=None)
            except (_chromadb().errors.NotFoundError, ValueError):
                return False
        if (col.metadata or {}).get(THREADS_KEY):
            self._threads.add(namespace)
            return True
        return False

    def namespaces(self) -> list[str]:
        """Every namespace that has a collection, sorted."""
        with _chroma("list namespaces"):
            collections = self._client.list_collections()
        names = []
        for col in collections:
            meta = getattr(col, "metadata", None) or {}
            if col.name.startswith(NAMESPACE_PREFIX) and "pm_namespace" in meta:
                names.append(str(meta["pm_namespace"]))
        return sorted(names)

    def drop(self, namespace: str) -> None:
        """Delete a namespace's collection and everything in it."""
        with self._guard:
            self._collections.pop(namespace, None)
            self._threads.discard(namespace)
            with (
                _chroma(f"delete namespace {namespace!r}"),
                suppress(_chromadb().errors.NotFoundError, ValueError),
            ):
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
        col = self._collection(namespace, create=True)
        assert col is not None  # create=True always returns a collection
        step = self._max_batch
        with _chroma(f"write to namespace {namespace!r}"):
            for start in range(0, len(ids), step):
                end = start + step
                col.upsert(
                    ids=list(ids[start:end]),
                    embeddings=embeddings[start:end],
                    documents=list(documents[start:end]),
                    metadatas=[dict(m) for m in metadatas[start:end]],
                )

    def update_metadata(
        self, namespace: str, ids: Sequence[str], metadatas: Sequence[Mapping[str, Any]]
    ) -> None:
        """Merge ``metadatas`` into existing records (missing ids are ignored by Chroma)."""
        col = self._collection(namespace, create=False)
        if col is None or not ids:
            return
        with _chroma(f"update namespace {namespace!r}"):
            for start in range(0, len(ids), self._max_batch):
                end = start + self._max_batch
                col.update(ids=list(ids[start:end]), metadatas=[dict(m) for m in metadatas[start:end]])

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
                ("metadatas", metadatas),
                ("embeddings", embeddings),
            )
            if on
        ]
        with _chroma(f"read namespace {namespace!r}"):
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
            rows.append(
                Row(
                    id=rid,
                    document=docs[i] if documents else "",
                    metadata=dict(metas[i] or {}) if metadatas else {},
                    embedding=np.asarray(embs[i], dtype=np.float32)
                    if embeddings and embs is not None
                    else None,
                )
            )
        return rows

    def ids(self, namespace: str, where: Where | None = None, limit: int | None = None) -> list[str]:
        return [r.id for r in self.get(namespace, where=where, limit=limit, documents=False, metadatas=False)]

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
        with _chroma(f"search namespace {namespace!r}"):
            got = col.query(query_embeddings=[vector], n_results=n, where=where or None, include=include)
        ids = got["ids"][0]
        docs = (got.get("documents") or [[]])[0]
        metas = (got.get("metadatas") or [[]])[0]
        dists = (got.get("distances") or [[]])[0]
        embs = got.get("embeddings")
        return [
            Row(
                id=rid,
                document=docs[i] or "",
                metadata=dict(metas[i] or {}),
                distance=float(dists[i]),
                embedding=np.asarray(embs[0][i], dtype=np.float32)
                if embeddings and embs is not None
                else None,
            )
            for i, rid in enumerate(ids)
        ]

    def nearest(self, namespace: str, vector: np.ndarray, n: int) -> list[tuple[str, float]]:
        """The ids and cosine similarities of the ``n`` nearest records, nearest first.

        Reads no documents or metadata: Chroma's cost of a query grows with what it
        returns (about 0.15 ms a record with priomem's metadata), so recall reads those
        only for the candidates that can still make its top k.
        """
        col = self._collection(namespace, create=False)
        if col is None or n < 1:
            return []
        with _chroma(f"search namespace {namespace!r}"):
            got = col.query(query_embeddings=[vector], n_results=n, include=["distances"])
        return [
            (rid, 1.0 - float(d))
            for rid, d in zip(got["ids"][0], (got.get("distances") or [[]])[0], strict=True)
        ]

    def delete(self, namespace: str, ids: Sequence[str]) -> None:
        col = self._collection(namespace, create=False)
        if col is None or not ids:
            return
        with _chroma(f"delete from namespace {namespace!r}"):
            for start in range(0, len(ids), self._max_batch):
                col.delete(ids=list(ids[start : start + self._max_batch]))

    def count(self, namespace: str) -> int:
        col = self._collection(namespace, create=False)
        if col is None:
            return 0
        with _chroma(f"count namespace {namespace!r}"):
            return int(col.count())

    def close(self) -> None:
        self._collections.clear()
        if self._owns_client:
            close = getattr(self._client, "close", None)
            if close is not None:
                try:
                    close()
                except Exception as exc:  # closing must not hide the caller's own error
                    log.warning("closing the Chroma client failed: %s", exc)
        if self._path is not None and self._owns_client:
            # Chroma writes its vector index files with uninitialised bytes from the heap;
            # zero them so no fragment of a forgotten memory survives on disk.
            scrub_store(self._path)
        if self._lock is not None:
            self._lock.release()
            self._lock = None


def _scrub(database: Path, ids: Sequence[str] | None) -> int:
    """Blank logged documents/metadata of deleted records, rebuild full-text, VACUUM securely.

    ``ids``: the records to blank; None: every logged record that no longer exists.
    Returns how many log entries were blanked.
    """
    import sqlite3

    con = sqlite3.connect(database, timeout=30)
    try:
        con.execute("PRAGMA secure_delete=ON")
        blanked = 0
        if ids is None:
            cursor = con.execute(
                "UPDATE embeddings_queue SET metadata = NULL WHERE metadata IS NOT NULL AND id NOT IN "
                "(SELECT embedding_id FROM embeddings)"
            )
            blanked = cursor.rowcount
        else:
            for start in range(0, len(ids), 500):
                chunk = list(ids[start : start + 500])
                marks = ",".join("?" * len(chunk))
                cursor = con.execute(
                    f"UPDATE embeddings_queue SET metadata = NULL WHERE id IN ({marks})", chunk
                )
                blanked += cursor.rowcount
        con.commit()
        con.execute("INSERT INTO embedding_fulltext_search(embedding_fulltext_search) VALUES ('optimize')")
        con.commit()
        con.execute("VACUUM")
        return blanked
    finally:
        con.close()


def purge_folder(path: Path) -> int:
    """Purge what a stopped Chroma keeps of deleted records' text in its data folder.

    For a Chroma server's data folder (stop the server first) or an embedded store no
    process has open. Returns how many log entries were blanked.
    """
    database = path / "chroma.sqlite3"
    if not database.is_file():
        raise StoreError(
            f"{path} holds no Chroma database (chroma.sqlite3); give the server's --path folder."
        )
    lock = StoreLock(path)
    lock.acquire()
    try:
        blanked = _scrub(database, None)
        scrub_store(path)
        return blanked
    finally:
        lock.release()


def ephemeral_client() -> Any:
    """A fresh in-memory Chroma client (for tests and throwaway engines)."""
    from chromadb.config import Settings as ChromaSettings

    return _chromadb().EphemeralClient(settings=ChromaSettings(anonymized_telemetry=False, allow_reset=True))
