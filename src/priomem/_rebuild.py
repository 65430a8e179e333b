"""Rebuilding a collection in a fresh one, safe to kill at any instant, and recovering.

Used by compaction (a namespace with deletions is rebuilt from its live records, so no
index keeps a deleted vector) and by repair (a namespace Chroma cannot read is rebuilt
from what :mod:`priomem._salvage` read back). Only Chroma's public API is used: a staging
collection is created and filled, marked whole, the original dropped, the copy renamed.
Store-level records announce each step before it is taken, so :func:`recover`, run when
a store opens, finishes or discards whatever a kill interrupted; nothing acknowledged is
ever lost. Errors are the caller's to translate (``ChromaStore`` wraps every call).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("priomem")

__all__ = ["Batch", "Collections", "mark_all", "rebuild", "rebuild_marked", "recover", "strip"]

#: Store-level records of compaction (see ``_compaction``): deletions happened that it has
#: not made real on disk yet (``PENDING_ID``); records were deleted from a collection
#: (kind ``COMPACT_KIND``, id ``compact:<collection>``); a rebuild of a collection started
#: (kind ``REBUILD_KIND``, id ``rebuild:<collection>``). Each is written before the step
#: it announces, so a kill at any point leaves enough to finish the work.
PENDING_ID = "compaction:pending"
COMPACT_KIND = "compact"
REBUILD_KIND = "rebuild"
#: In the metadata of a rebuild's copy: the collection it replaces; and once it is whole.
REBUILD_OF_KEY = "pm_rebuild_of"
REBUILD_DONE_KEY = "pm_rebuild_whole"
REBUILD_SUFFIX = "-rebuild"


@dataclass(frozen=True, slots=True)
class Collections:
    """A Chroma client, the name of the store's record collection, and what Chroma raises
    for a collection that does not exist."""

    client: Any
    meta_name: str
    missing: tuple[type[BaseException], ...]

    def get(self, name: str) -> Any | None:
        try:
            return self.client.get_collection(name, embedding_function=None)
        except self.missing:
            return None

    def meta(self) -> Any:
        return self.client.get_or_create_collection(self.meta_name, embedding_function=None)


def strip(meta: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in meta.items() if k not in (REBUILD_OF_KEY, REBUILD_DONE_KEY)}


Batch = tuple[list[str], Any, list[str], list[dict[str, Any]]]


def _live_batches(old: Any, step: int) -> Iterator[Batch]:
    ids = old.get(include=[])["ids"]
    for start in range(0, len(ids), step):
        got = old.get(ids=ids[start : start + step], include=["embeddings", "documents", "metadatas"])
        if got["ids"]:
            yield got["ids"], got["embeddings"], got["documents"], got["metadatas"]


def rebuild(cols: Collections, name: str, step: int, records: Iterable[Batch] | None = None) -> bool:
    """Rebuild collection ``name`` in a fresh collection from its live records (or from
    ``records``: what a repair salvaged from a collection Chroma cannot read).

    Order, each step durable in Chroma before the next: a ``rebuild:`` record; the copy,
    created with ``REBUILD_OF_KEY`` and filled; the copy marked whole; the original
    dropped; the copy renamed to the original's name, its marks removed; the records
    deleted. :func:`recover` finishes whatever a kill interrupted.
    """
    meta_col = cols.meta()
    marks = [REBUILD_KIND + ":" + name, COMPACT_KIND + ":" + name]
    old = cols.get(name)
    if old is None:
        meta_col.delete(ids=marks)
        return False
    meta_col.upsert(ids=marks[:1], embeddings=[[1.0]], documents=[name], metadatas=[{"kind": REBUILD_KIND}])
    meta = strip(old.metadata or {})
    staging = name + REBUILD_SUFFIX
    if cols.get(staging) is not None:
        cols.client.delete_collection(staging)
    copy = cols.client.create_collection(
        staging,
        metadata={**meta, REBUILD_OF_KEY: name},
        configuration=old.configuration,
        embedding_function=None,
    )
    for ids, embeddings, documents, metadatas in records if records is not None else _live_batches(old, step):
        copy.upsert(ids=ids, embeddings=embeddings, documents=documents, metadatas=metadatas)
    copy.modify(metadata={**meta, REBUILD_OF_KEY: name, REBUILD_DONE_KEY: True})
    cols.client.delete_collection(name)
    copy.modify(name=name, metadata=meta)
    meta_col.delete(ids=marks)
    return True


def recover(cols: Collections) -> None:
    """Finish or discard rebuilds a kill interrupted; nothing acknowledged is ever lost.

    A copy whose original still exists is discarded (the original is whole: nothing
    wrote to the copy). A copy whose original is gone was marked whole before the drop,
    so it takes the original's name.
    """
    meta_col = cols.meta()
    started = meta_col.get(where={"kind": REBUILD_KIND}, include=["documents"])
    for record_id, name in zip(started["ids"], started["documents"] or [], strict=True):
        original, staging = cols.get(name), cols.get(name + REBUILD_SUFFIX)
        if staging is not None:
            if original is not None:
                cols.client.delete_collection(staging.name)
            elif (staging.metadata or {}).get(REBUILD_DONE_KEY):
                staging.modify(name=name, metadata=strip(staging.metadata or {}))
                log.warning("finished the rebuild of %s that a crash interrupted", name)
            else:  # cannot happen: the original is dropped only once the copy is whole
                log.error("an incomplete rebuild of %s has no original; kept as %s", name, staging.name)
                continue
        elif original is not None and REBUILD_OF_KEY in (original.metadata or {}):
            original.modify(metadata=strip(original.metadata or {}))  # killed just after the rename
        meta_col.delete(ids=[record_id])


def rebuild_marked(cols: Collections, step: int) -> list[str]:
    """Rebuild every collection records were deleted from; their namespaces."""
    marked = cols.meta().get(where={"kind": COMPACT_KIND}, include=[])["ids"]
    rebuilt = []
    for record_id in marked:
        name = record_id.split(":", 1)[1]
        if rebuild(cols, name, step):
            col = cols.get(name)
            rebuilt.append(str(((col.metadata or {}) if col is not None else {}).get("pm_namespace", name)))
    return rebuilt


def mark_all(cols: Collections, prefix: str) -> None:
    names = [c.name for c in cols.client.list_collections() if c.name.startswith(prefix)]
    names = [n for n in names if not n.endswith(REBUILD_SUFFIX)]
    if names:
        cols.meta().upsert(
            ids=[COMPACT_KIND + ":" + n for n in names],
            embeddings=[[1.0]] * len(names),
            documents=[""] * len(names),
            metadatas=[{"kind": COMPACT_KIND}] * len(names),
        )
