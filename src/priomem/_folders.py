"""Work on a store folder no process has open: a stopped Chroma server's, or an embedded
store between uses. ``priomem purge`` compacts one; the shared store's keeper recovers one
before it serves it (Chroma would serve a half-done rebuild as it is)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from priomem import _compaction
from priomem._errors import StoreError
from priomem._lock import StoreLock
from priomem._rebuild import PENDING_ID, WRITE_BATCH, mark_all, rebuild_marked, recover
from priomem._spill import SPILL_COLLECTION
from priomem._store import (
    NAMESPACE_PREFIX,
    SHARED_PREFIX,
    chroma_errors,
    collections_of,
    finish_compaction,
    persistent_client,
)

__all__ = ["purge_folder", "recover_folder"]


def recover_folder(path: Path) -> None:
    """Finish or undo rebuilds a kill interrupted in a folder no process has open (a
    Chroma server's, before it serves it: it would not do this itself)."""
    with _opened(path) as client, chroma_errors(f"recover the store at {path}"):
        recover(collections_of(client))


def purge_folder(path: Path, *, everything: bool = False) -> list[str]:
    """Compact a Chroma data folder no process has open; returns the namespaces rebuilt.

    For a Chroma server's data folder (stop the server first) or an embedded store:
    makes every deletion made through priomem real on disk (see :mod:`priomem._compaction`);
    does nothing when none is pending. ``everything``: rebuild every namespace and vacuum
    even so (for deletions made before priomem recorded them, or by other programs).
    """
    database = path / _compaction.DATABASE
    if not database.is_file():
        raise StoreError(
            f"{path} holds no Chroma database (chroma.sqlite3); give the server's --path folder."
        )
    lock = StoreLock(path)
    lock.acquire()
    try:
        _compaction.clear_heap_garbage()
        with _opened(path) as client, chroma_errors(f"compact the store at {path}"):
            recover(collections_of(client))
            meta = collections_of(client).meta()
            pending = everything or (meta is not None and bool(meta.get(ids=[PENDING_ID], include=[])["ids"]))
            if not pending:
                return []
            if everything:
                mark_all(collections_of(client), NAMESPACE_PREFIX)
                mark_all(collections_of(client), SHARED_PREFIX)
                mark_all(collections_of(client), SPILL_COLLECTION)
            rebuilt = rebuild_marked(
                collections_of(client), min(int(client.get_max_batch_size()), WRITE_BATCH)
            )
        finish_compaction(path, lock)
        with _opened(path) as client, chroma_errors("clear the compaction mark"):
            meta = collections_of(client).meta()
            if meta is not None:
                meta.delete(ids=[PENDING_ID])
        return rebuilt
    finally:
        lock.release()


@contextmanager
def _opened(path: Path) -> Iterator[Any]:
    client = persistent_client(path)
    try:
        yield client
    finally:
        close = getattr(client, "close", None)
        if close is not None:
            close()
