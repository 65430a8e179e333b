"""``check``: find namespaces Chroma cannot read, and repair them from what it still holds.

A namespace is probed by counting, reading and searching it. A damaged one (in an embedded
store) is repaired by reading its records back from Chroma's database, read-only
(:mod:`priomem._salvage`), keeping those priomem could have written (a document, priomem's
record fields, every list within priomem's bounds; the record that broke the collection
is not), re-embedding those whose vector only the broken index held, and writing them
into a fresh collection that replaces the broken one (:mod:`priomem._rebuild`, safe to
kill). What could not be recovered is reported by id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from priomem._lexical import MAX_TERMS
from priomem._records import Key, decode
from priomem._salvage import Salvaged
from priomem._store import TEXT_KEY, ChromaStore
from priomem._validation import MAX_METADATA_STR

__all__ = ["NamespaceCheck", "check_namespace"]

#: The longest list priomem ever stores in a record (its lexical terms; tags and refs are
#: shorter): a longer one is what broke the collection.
MAX_LIST = MAX_TERMS


log = logging.getLogger("priomem")


@dataclass(frozen=True, slots=True)
class NamespaceCheck:
    """What :meth:`MemoryEngine.check` found in one namespace.

    ``status``: ``"ok"``; ``"damaged"`` (Chroma cannot read it; ``error`` says why);
    ``"repaired"`` (rebuilt from what Chroma still held: ``recovered`` memories, of which
    ``reembedded`` had to be embedded again, and ``lost``: ids that could not be recovered).
    """

    namespace: str
    status: str
    error: str | None = None
    recovered: int = 0
    reembedded: int = 0
    lost: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "status": self.status,
            "error": self.error,
            "recovered": self.recovered,
            "reembedded": self.reembedded,
            "lost": list(self.lost),
        }


def _text(record: Salvaged) -> str | None:
    text = record.metadata.get(TEXT_KEY)
    return str(text) if text is not None else record.document


def _whole_text(store: ChromaStore, namespace: str, record: Salvaged) -> str:
    if Key.SPILL not in record.metadata:
        return _text(record) or ""
    meta = store.joined(namespace, record.id, {**record.metadata, TEXT_KEY: _text(record) or ""})
    return str(meta.get(TEXT_KEY, ""))


def _fits(record: Salvaged, namespace: str) -> bool:
    text = _text(record)
    # A record that spilled some keys (priomem._spill) may not hold pm_v itself.
    if text is None or not (Key.V in record.metadata or Key.SPILL in record.metadata):
        return False
    for value in record.metadata.values():
        if isinstance(value, list) and len(value) > MAX_LIST:
            return False
        if isinstance(value, str) and len(value) > max(MAX_METADATA_STR, 1 << 16):
            return False
    try:
        decode(record.id, text, dict(record.metadata), namespace)
    except (KeyError, TypeError, ValueError):
        return False
    return True


def check_namespace(
    store: ChromaStore,
    namespace: str,
    *,
    repair: bool,
    embed: Callable[[Sequence[str]], np.ndarray],
    dimension: int,
) -> NamespaceCheck:
    """Probe ``namespace``; repair it if damaged and ``repair`` (embedded stores only).
    ``repair`` also deletes its spill records that no memory names (``_spill``), once
    Chroma can read it."""
    error = store.probe(namespace)
    if error is None:
        return _swept(store, NamespaceCheck(namespace, "ok"), repair)
    if not repair or not store.can_salvage(namespace):
        if repair and store.is_shared(namespace):
            error += (
                " (the namespace is in a shared collection, which check cannot rebuild: export what "
                "can be read and import it into a new store)"
            )
        return NamespaceCheck(namespace, "damaged", error=error)
    records = store.salvage(namespace)
    if not records:  # nothing read back: replacing the collection could only lose data
        return NamespaceCheck(
            namespace, "damaged", error=f"{error} (nothing could be read back; left as it is)"
        )
    kept = [r for r in records.values() if _fits(r, namespace)]
    lost = tuple(sorted(r.id for r in records.values() if not _fits(r, namespace)))
    missing = [i for i, r in enumerate(kept) if r.vector is None or r.vector.shape != (dimension,)]
    matrix = np.zeros((len(kept), dimension), np.float32)
    for i, record in enumerate(kept):
        if record.vector is not None and record.vector.shape == (dimension,):
            matrix[i] = record.vector
    if missing:  # from the whole text (a long one's rest is in its spill records)
        texts = [_whole_text(store, namespace, kept[i]) for i in missing]
        matrix[missing] = embed(texts)
    store.restore(
        namespace,
        [r.id for r in kept],
        matrix,
        [r.document or "" for r in kept],
        [r.metadata for r in kept],
    )
    after = store.probe(namespace)
    if after is not None:
        return NamespaceCheck(namespace, "damaged", error=f"still unreadable after repair: {after}")
    return _swept(
        store,
        NamespaceCheck(namespace, "repaired", recovered=len(kept), reembedded=len(missing), lost=lost),
        repair,
    )


def _swept(store: ChromaStore, found: NamespaceCheck, repair: bool) -> NamespaceCheck:
    """``found``, once a repair deleted the namespace's spill records no memory names."""
    swept = store.sweep_spills(found.namespace) if repair else 0
    if swept:
        log.warning(
            "namespace %r: deleted %d spill records no memory named (left by a write killed mid-way)",
            found.namespace,
            swept,
        )
    return found
