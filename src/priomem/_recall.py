"""Hybrid recall: dense and lexical (BM25) evidence, each read in its conversational context.

Pipeline of one recall (all in one namespace = one Chroma collection):

1. In a worker thread, while the query is embedded: look up each query term in the
   ``pm_terms`` metadata lists (an exact-match filter Chroma answers from its metadata
   index) to get document frequencies and the memories holding the query's rare terms.
2. The ``DENSE_POOL`` nearest neighbours of the query embedding.
3. One round of reads, two in parallel: the ``LEXICAL_POOL`` memories with the most
   query-term IDF mass that the dense pool missed, plus the context (``pm_prev``,
   ``pm_prev2``, see :mod:`priomem._context`) of the dense pool; and the memories that
   follow any of those candidates (whose ``pm_prev`` is one of them).
4. Filters (tags, priority, time window, expiry) apply to everything read; a selective
   filter falls back to a filtered Chroma query.
5. Each candidate is scored in context: its dense similarity is the higher of its own
   cosine and that of the mean vector of it and its two predecessors; its lexical
   evidence the highest of its own BM25 and 0.7 / 0.5 of its predecessors'. Then
   :func:`priomem._scoring.combine` adds priority, recency and access.

Context reads the neighbours themselves at query time, so a forgotten memory stops
counting at once. Nothing is cached between calls except query embeddings, so several
processes sharing a Chroma server always see each other's writes and deletions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any

import numpy as np

from priomem import _lexical, _scoring
from priomem._context import PREV_KEYS
from priomem._filters import Filter
from priomem._models import RecallHit
from priomem._records import decode, epoch
from priomem._settings import Settings
from priomem._store import ChromaStore, Row

__all__ = ["CONTEXT_DECAY", "DENSE_POOL", "LEXICAL_POOL", "HybridSearcher"]

#: Dense candidates per recall (or k, when larger). Independent of k below it, so the
#: top 5 of a recall are the first 5 of the top 25.
DENSE_POOL = 50
#: Candidates with the most query-term IDF mass added beside the dense pool.
LEXICAL_POOL = 50
#: Ids one lexical term look-up returns at most; a term in more memories is common anyway.
TERM_CAP = 2000
#: Share of a predecessor's lexical evidence a memory inherits, nearest first.
CONTEXT_DECAY = (0.7, 0.5)

Lookup = tuple[dict[str, int], dict[str, list[str]], int]


def _prev_ids(row: Row) -> list[str]:
    return [v for key in PREV_KEYS if isinstance(v := row.metadata.get(key), str) and v]


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

    def _expand(self, ns: str, rows: dict[str, Row], lookup: Lookup, terms: list[str]) -> dict[str, float]:
        """Add lexical candidates, context and followers to ``rows``; returns term weights."""
        doc_freqs, postings, doc_count = lookup
        weights = _lexical.term_weights(terms, doc_freqs, doc_count)
        mass: dict[str, float] = {}
        for term, weight in weights.items():
            for rid in postings[term]:
                mass[rid] = mass.get(rid, 0.0) + weight
        ranked = sorted(mass, key=lambda r: (-mass[r], r))
        lexical_ids = [rid for rid in ranked if rid not in rows][:LEXICAL_POOL]
        base = list(rows) + lexical_ids
        context = {p for row in rows.values() for p in _prev_ids(row)} - set(base)
        wanted = lexical_ids + sorted(context)
        fetched: Future[list[Row]] | None = (
            self._pool.submit(self._store.get, ns, ids=wanted, embeddings=True) if wanted else None
        )
        followers = self._store.get(ns, where={PREV_KEYS[0]: {"$in": base}}, embeddings=True)
        for row in (fetched.result() if fetched is not None else []) + followers:
            rows.setdefault(row.id, row)
        return weights

    def search(self, text: str, k: int, ns: str, flt: Filter, now: datetime) -> list[RecallHit]:
        now_e = epoch(now)
        hybrid = self._settings.hybrid
        terms = _lexical.query_terms(text) if hybrid else []
        lexical: Future[Lookup] | None = self._pool.submit(self._lexical_lookup, ns, terms) if terms else None
        vector = self._embed_query(text)
        size = max(k, DENSE_POOL)
        dense = self._store.query(ns, vector, size, embeddings=hybrid)
        rows = {r.id: r for r in dense}
        weights: dict[str, float] = {}
        if hybrid and rows:
            lookup = lexical.result() if lexical is not None else ({}, {}, 0)
            weights = self._expand(ns, rows, lookup, terms)
        live = {rid: r for rid, r in rows.items() if flt.matches(r.metadata, now_e)}
        if len(live) < k and not flt.empty and len(dense) >= size:
            # The filter is selective: ask Chroma for the nearest matching records directly.
            for row in self._store.query(ns, vector, size, where=flt.where(live_at=now_e), embeddings=hybrid):
                rows.setdefault(row.id, row)
                live.setdefault(row.id, row)
        if not live:
            return []
        similarity, lexical_part = self._evidence(vector, live, weights) if hybrid else self._dense(live)
        scoring = self._settings.weights
        hits = []
        for rid, row in live.items():
            memory = decode(rid, row.document, row.metadata, ns)
            score, parts = _scoring.combine(
                scoring,
                similarity=similarity[rid],
                lexical=lexical_part.get(rid, 0.0),
                priority=memory.priority,
                created_at=memory.created_at,
                access_count=memory.access_count,
                now=now,
                use_lexical=hybrid,
            )
            hits.append(RecallHit(memory=memory, score=score, parts=parts))
        hits.sort(key=lambda h: (-h.score, h.memory.id))
        return hits[:k]

    @staticmethod
    def _dense(live: Mapping[str, Row]) -> tuple[dict[str, float], dict[str, float]]:
        return {rid: 1.0 - (r.distance or 0.0) for rid, r in live.items()}, {}

    @staticmethod
    def _evidence(
        vector: np.ndarray, live: Mapping[str, Row], weights: Mapping[str, float]
    ) -> tuple[dict[str, float], dict[str, float]]:
        """Dense and lexical evidence of each live candidate, read in its context."""
        ids = [rid for rid, r in live.items() if r.embedding is not None]
        index = {rid: i for i, rid in enumerate(ids)}
        matrix = (
            np.stack([live[rid].embedding for rid in ids]).astype(np.float32)  # type: ignore[misc]
            if ids
            else np.zeros((0, vector.shape[0]), np.float32)
        )
        own = matrix @ vector
        lexical = _lexical.bm25_scores(weights, {rid: _terms(r.metadata) for rid, r in live.items()})
        similarity: dict[str, float] = {}
        in_context: dict[str, float] = {}
        for rid, row in live.items():
            i = index.get(rid)
            if i is None:
                similarity[rid] = 1.0 - (row.distance or 0.0)
                in_context[rid] = lexical[rid]
                continue
            best = float(own[i])
            summed = matrix[i].copy()
            lex = lexical[rid]
            for decay, prev in zip(CONTEXT_DECAY, _prev_ids(row), strict=False):
                j = index.get(prev)
                if j is None:
                    continue
                summed += matrix[j]
                lex = max(lex, decay * lexical[prev])
            norm = float(np.linalg.norm(summed))
            if norm > 0:
                best = max(best, float(summed @ vector) / norm)
            similarity[rid] = best
            in_context[rid] = lex
        return similarity, in_context


def _terms(meta: Mapping[str, Any]) -> tuple[frozenset[str], int]:
    terms = meta.get("pm_terms") or ()
    return frozenset(terms), int(meta.get("pm_len", len(terms)) or 0)
