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
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from priomem._progress import progress_log
from priomem._records import Key

log = logging.getLogger("priomem")

__all__ = ["WRITE_BATCH", "Batch", "Collections", "mark_all", "rebuild", "rebuild_marked", "recover", "strip"]

#: Store-level records of compaction (see ``_compaction``): deletions happened that it has
#: not made real on disk yet (``PENDING_ID``); records were deleted from a collection
#: (kind ``COMPACT_KIND``, id ``compact:<collection>``); a rebuild of a collection started
#: (kind ``REBUILD_KIND``, id ``rebuild:<collection>``). Each is written before the step
#: it announces, so a kill at any point leaves enough to finish the work.
PENDING_ID = "compaction:pending"
COMPACT_KIND = "compact"
REBUILD_KIND = "rebuild"
#: In the metadata of a rebuild's copy: the collection it replaces; and once it is whole.
REBUILD_OF_KEY = Key.REBUILD_OF
REBUILD_DONE_KEY = Key.REBUILD_WHOLE
REBUILD_SUFFIX = "-rebuild"
#: Most records priomem writes or deletes in one call: Chroma Cloud's limit (embedded
#: Chroma takes about 5,000; the cost of a call is in its records, not in the call).
WRITE_BATCH = 300


#: ids, embeddings, documents (None where the text is in the metadata), metadatas.
Batch = tuple[list[str], Any, list[Any], list[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class Collections:
    """A Chroma client, the name of the store's record collection, what Chroma raises for
    a collection that does not exist, and how a rebuild brings records up to date."""

    client: Any
    meta_name: str
    missing: tuple[type[BaseException], ...]
    #: Applied to every batch a rebuild writes (the store's record layout may move on).
    convert: Callable[[Batch], Batch] | None = None

    def get(self, name: str) -> Any | None:
        try:
            return self.client.get_collection(name, embedding_function=None)
        except self.missing:
            return None

    def meta(self) -> Any | None:
        """The store's record collection; None in a folder priomem never opened (it is
        never created here: opening the store creates it with the model it records)."""
        return self.get(self.meta_name)


def strip(meta: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in meta.items() if k not in (REBUILD_OF_KEY, REBUILD_DONE_KEY)}


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
    if meta_col is None:  # not a priomem store: it has no rebuild records to keep
        raise ValueError(f"{name} is not in a priomem store (no {cols.meta_name} collection)")
    if old is None:
        meta_col.delete(ids=marks)
        return False
    meta_col.upsert(
        ids=marks[:1],
        embeddings=[[1.0]],
        documents=[name],
        metadatas=[{"kind": REBUILD_KIND, "original_id": str(old.id)}],
    )
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
    for batch in records if records is not None else _live_batches(old, step):
        ids, embeddings, documents, metadatas = cols.convert(batch) if cols.convert else batch
        copy.upsert(ids=ids, embeddings=embeddings, documents=documents, metadatas=metadatas)
    copy.modify(metadata={**meta, REBUILD_OF_KEY: name, REBUILD_DONE_KEY: True})
    cols.client.delete_collection(name)
    copy.modify(name=name, metadata=meta)
    meta_col.delete(ids=marks)
    return True


def recover(cols: Collections) -> None:
    """Finish or discard rebuilds a kill interrupted; nothing acknowledged is ever lost.

    A copy whose original still exists (the same collection, by id) is discarded: the
    original is whole and nothing wrote to the copy. A copy whose original is gone was
    marked whole before the drop, so it takes the original's name; if a new collection
    has taken that name meanwhile, the copy's records are merged into it.
    """
    meta_col = cols.meta()
    if meta_col is None:
        return
    started = meta_col.get(where={"kind": REBUILD_KIND}, include=["documents", "metadatas"])
    metas = started["metadatas"] or [{}] * len(started["ids"])
    for record_id, name, mark in zip(started["ids"], started["documents"] or [], metas, strict=True):
        original, staging = cols.get(name), cols.get(name + REBUILD_SUFFIX)
        same = original is not None and str(original.id) == str((mark or {}).get("original_id"))
        if staging is not None:
            if same:  # the original was never dropped: it is whole, the copy is not needed
                cols.client.delete_collection(staging.name)
            elif original is not None:
                # The original was dropped and a new, empty collection took its name (a
                # write after a failed rename): it holds newer writes, the copy the rest.
                _merge(staging, original)
                cols.client.delete_collection(staging.name)
                log.warning("merged an interrupted rebuild of %s into the collection written since", name)
            elif (staging.metadata or {}).get(REBUILD_DONE_KEY):
                staging.modify(name=name, metadata=strip(staging.metadata or {}))
                log.warning("finished the rebuild of %s that a crash interrupted", name)
            else:  # cannot happen: the original is dropped only once the copy is whole
                log.error("an incomplete rebuild of %s has no original; kept as %s", name, staging.name)
                continue
        elif original is not None and REBUILD_OF_KEY in (original.metadata or {}):
            original.modify(metadata=strip(original.metadata or {}))  # killed just after the rename
        meta_col.delete(ids=[record_id])


def _merge(source: Any, target: Any, step: int = WRITE_BATCH) -> None:
    """Copy into ``target`` the records of ``source`` it does not hold (``target``'s win)."""
    for ids, embeddings, documents, metadatas in _live_batches(source, step):
        present = set(target.get(ids=ids, include=[])["ids"])
        keep = [i for i, rid in enumerate(ids) if rid not in present]
        if keep:
            target.upsert(
                ids=[ids[i] for i in keep],
                embeddings=[embeddings[i] for i in keep],
                documents=[documents[i] for i in keep],
                metadatas=[metadatas[i] for i in keep],
            )


def rebuild_marked(cols: Collections, step: int, label: Callable[[str], str] | None = None) -> list[str]:
    """Rebuild every collection records were deleted from; their namespaces (a shared
    collection's name). ``label(name)``: how progress names a shared collection."""
    meta_col = cols.meta()
    if meta_col is None:
        return []
    marked = meta_col.get(where={"kind": COMPACT_KIND}, include=[])["ids"]
    rebuilt = []
    for number, record_id in enumerate(marked, 1):
        name = record_id.split(":", 1)[1]
        # A namespace of 10,000 memories takes about 15 s: say what is going on.
        before = cols.get(name)
        meta = (before.metadata or {}) if before is not None else {}
        if Key.NAMESPACE in meta:
            shown = f"namespace {meta[Key.NAMESPACE]}"
        else:
            shown = label(name) if label is not None else f"shared collection {name}"
        progress_log.info("compacting: rebuilding %d of %d (%s)", number, len(marked), shown)
        if rebuild(cols, name, step):
            col = cols.get(name)
            rebuilt.append(str(((col.metadata or {}) if col is not None else {}).get(Key.NAMESPACE, name)))
    return rebuilt


def mark_all(cols: Collections, prefix: str) -> None:
    names = [c.name for c in cols.client.list_collections() if c.name.startswith(prefix)]
    names = [n for n in names if not n.endswith(REBUILD_SUFFIX)]
    meta_col = cols.meta()
    if meta_col is None:
        return
    for start in range(0, len(names), WRITE_BATCH):
        part = names[start : start + WRITE_BATCH]
        meta_col.upsert(
            ids=[COMPACT_KIND + ":" + n for n in part],
            embeddings=[[1.0]] * len(part),
            documents=[""] * len(part),
            metadatas=[{"kind": COMPACT_KIND}] * len(part),
        )
