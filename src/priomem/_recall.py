"""Hybrid recall: dense candidates from Chroma fused with lexical (BM25) evidence.

Pipeline of one recall (all in one namespace = one Chroma collection):

1. In a worker thread, while the query is embedded: look up each query term in the
   ``pm_terms`` metadata lists (an exact-match filter Chroma answers from its metadata
   index) to get document frequencies and the memories holding rare terms.
2. Nearest neighbours of the query embedding (a pool of at least 50, or 4 x k).
3. Memories with the most query-term IDF mass that the dense pool missed are fetched
   with their embeddings, so their similarity is exact too.
4. Filters (tags, priority, time window, expiry) apply to the union; a selective filter
   falls back to a filtered Chroma query.
5. BM25 over the candidates, then :func:`priomem._scoring.combine` ranks them.

Nothing is cached between calls except query embeddings, so several processes sharing a
Chroma server always see each other's writes and deletions.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime

import numpy as np

from priomem import _lexical, _scoring
from priomem._filters import Filter
from priomem._models import RecallHit
from priomem._records import decode, epoch
from priomem._settings import Settings
from priomem._store import ChromaStore

__all__ = ["HybridSearcher"]

#: Dense candidates fetched per recall, at least (and 4 x k): the pool that filters and
#: lexical fusion re-rank.
DENSE_POOL = 50
#: Ids one lexical term look-up returns at most; a term in more memories is common anyway.
TERM_CAP = 2000

Lookup = tuple[dict[str, int], dict[str, list[str]], int]


class HybridSearcher:
    """Runs recall queries against a :class:`ChromaStore`."""

    def __init__(
        self,
        store: ChromaStore,
        embed_query: Callable[[str], np.ndarray],
        settings: Settings,
        pool: ThreadPoolExecutor,
    ) -> None:
        self._store = store
        self._embed_query = embed_query
        self._settings = settings
        self._pool = pool

    def _lexical_lookup(self, namespace: str, terms: list[str]) -> Lookup:
        doc_freqs: dict[str, int] = {}
        postings: dict[str, list[str]] = {}
        for term in terms:
            ids = self._store.ids(namespace, where={"pm_terms": {"$contains": term}}, limit=TERM_CAP)
            doc_freqs[term] = len(ids)
            postings[term] = ids
        return doc_freqs, postings, self._store.count(namespace)

    def search(self, text: str, k: int, ns: str, flt: Filter, now: datetime) -> list[RecallHit]:
        now_e = epoch(now)
        terms = _lexical.query_terms(text) if self._settings.hybrid else []
        lexical: Future[Lookup] | None = self._pool.submit(self._lexical_lookup, ns, terms) if terms else None
        vector = self._embed_query(text)
        pool = max(k * 4, DENSE_POOL)
        rows = {r.id: r for r in self._store.query(ns, vector, pool)}
        similarity = {rid: 1.0 - (r.distance or 0.0) for rid, r in rows.items()}
        doc_freqs: dict[str, int] = {}
        doc_count = 0
        if lexical is not None:
            doc_freqs, postings, doc_count = lexical.result()
            # Memories with the most IDF mass of the query's terms; fetch the ones dense missed.
            mass: dict[str, float] = {}
            for term, ids in postings.items():
                weight = _lexical.idf(doc_count, doc_freqs[term])
                for rid in ids:
                    mass[rid] = mass.get(rid, 0.0) + weight
            wanted = [
                rid for rid in sorted(mass, key=mass.__getitem__, reverse=True)[:pool] if rid not in rows
            ]
            for row in self._store.get(ns, ids=wanted, embeddings=True):
                rows[row.id] = row
                similarity[row.id] = (
                    float(np.dot(vector, row.embedding)) if row.embedding is not None else 0.0
                )
        candidates = {rid: r for rid, r in rows.items() if flt.matches(r.metadata, now_e)}
        if len(candidates) < k and not flt.empty and len(rows) >= pool:
            # The filter is selective: ask Chroma for the nearest matching records directly.
            for row in self._store.query(ns, vector, pool, where=flt.where(live_at=now_e)):
                candidates.setdefault(row.id, row)
                similarity.setdefault(row.id, 1.0 - (row.distance or 0.0))
        if not candidates:
            return []
        lex_scores = (
            _lexical.bm25_scores(
                terms, doc_freqs, doc_count, {rid: r.document for rid, r in candidates.items()}
            )
            if terms
            else {}
        )
        weights = self._settings.weights
        hits = []
        for rid, row in candidates.items():
            memory = decode(rid, row.document, row.metadata, ns)
            score, parts = _scoring.combine(
                weights,
                similarity=similarity[rid],
                lexical=lex_scores.get(rid, 0.0),
                priority=memory.priority,
                created_at=memory.created_at,
                access_count=memory.access_count,
                now=now,
                use_lexical=self._settings.hybrid,
            )
            hits.append(RecallHit(memory=memory, score=score, parts=parts))
        hits.sort(key=lambda h: (-h.score, h.memory.id))
        return hits[:k]
