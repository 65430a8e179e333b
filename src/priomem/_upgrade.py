"""Bringing a namespace written by an older priomem to the current record layout.

Layout 1 stored plain terms (``pm_terms``) and linked every memory to the ones written
just before it (``pm_prev``/``pm_prev2``), thread or not. Layout 2 keys terms by
namespace (cheap look-ups whatever else the store holds, :mod:`priomem._lexical`) and
links only turns of a thread (:mod:`priomem._context`). Layout 3: every record has
``pm_expires``, so that where clauses on it select what the liveness rule
(:func:`priomem._records.is_live`) calls live. Upgrading rewrites, through
Chroma's public ``update``, each record's terms and drops its old links, then marks the
collection. Every step can be repeated, so a process killed half-way leaves a namespace
whose records are all readable and recalled by meaning (records not yet rewritten are only
missing from word look-ups), and the next process that opens it finishes the upgrade.
"""

from __future__ import annotations

import logging
from typing import Any

from priomem._context import PREV_KEYS
from priomem._lexical import keyed, term_key, unkeyed
from priomem._records import NEVER, Key, fitted_terms
from priomem._store import LAYOUT, ChromaStore

__all__ = ["PAGE", "upgrade_namespace"]

log = logging.getLogger("priomem")

#: Records read and rewritten per step.
PAGE = 1000


def upgrade_namespace(store: ChromaStore, namespace: str) -> int:
    """Bring ``namespace`` to the current layout; returns how many records were rewritten."""
    layout = store.layout(namespace)
    if layout is None or layout >= LAYOUT:
        return 0
    log.warning("upgrading namespace %r to record layout %d (once)", namespace, LAYOUT)
    key = term_key(namespace)
    rewritten = 0
    offset = 0
    while True:
        rows = store.get(namespace, limit=PAGE, offset=offset, documents=False)
        if not rows:
            break
        offset += len(rows)
        ids: list[str] = []
        metas: list[dict[str, Any]] = []
        for row in rows:
            change: dict[str, Any] = {}
            stored = row.metadata.get(Key.TERMS) or []
            if stored and not all(str(t).startswith(key) for t in stored):
                change[Key.TERMS] = fitted_terms(keyed(key, sorted(unkeyed(stored))))
            if not row.metadata.get(Key.THREAD):
                change.update({k: None for k in PREV_KEYS if k in row.metadata})
            if Key.EXPIRES not in row.metadata:
                # Never expires (the liveness rule, priomem._records.is_live), said in the
                # key so that where clauses on it select the record too.
                change[Key.EXPIRES] = NEVER
            if change:
                ids.append(row.id)
                metas.append(change)
        store.update_metadata(namespace, ids, metas)
        rewritten += len(ids)
    store.set_layout(namespace, LAYOUT)
    log.warning("namespace %r upgraded: %d records rewritten", namespace, rewritten)
    return rewritten
