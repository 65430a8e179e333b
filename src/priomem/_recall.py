"""Hybrid recall: dense and lexical (BM25) evidence, each read in its conversational context.

Pipeline of one recall (all in one namespace = one Chroma collection):

1. On the worker threads, while the query is embedded: look up each query term in the
   ``pm_terms`` metadata lists (an exact-match filter Chroma answers from its metadata
   index). A term held by fewer than ``TERM_CAP`` memories is *rare*: the look-up gives
   its document frequency and every memory holding it. A more frequent term is *common*.
2. While Chroma answers the ``DENSE_POOL`` nearest neighbours of the query embedding, a
   worker reads the ``LEXICAL_POOL`` memories with the most rare-term IDF mass.
3. The memories that follow the strongest dense and lexical candidates (whose
   ``pm_prev``, see :mod:`priomem._context`, is one of them) join the candidates: the
   reply to a question that matches.
4. Filters (tags, priority, time window, expiry) apply to every candidate, in Python; a
   selective filter falls back to a filtered Chroma query.
5. BM25 of every candidate (binary term frequency, from the stored terms). A common
   term's document frequency is estimated from its share of the candidates, never below
   ``TERM_CAP``: its weight is small either way, and counting it exactly would cost the
   most. Each candidate is then scored in context, from the candidates among its two
   predecessors: its dense similarity is the higher of its own cosine and that of the
   mean vector of it and those predecessors; its lexical evidence the highest of its own
   BM25 and 0.7 / 0.5 of theirs. :func:`priomem._scoring.combine` adds priority, recency
   and access.

Context is read from the neighbours themselves at query time, so a forgotten memory stops
counting at once. Nothing is cached between calls but query embeddings and, for a minute,
which terms are common (only their weight is estimated from that), so several processes
sharing a Chroma server always see each other's writes and deletions.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
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
#: Candidates with the most rare-term IDF mass read beside the dense pool.
LEXICAL_POOL = 30
#: The strongest dense and lexical candidates whose followers join the candidates.
FOLLOWED = 10
#: A term held by this many memories or more is common: its look-up stops there.
TERM_CAP = 200
#: Seconds a term found common is not looked up again, and how many such terms are kept.
COMMON_TTL = 60.0
COMMON_CACHE = 4096
#: Share of a predecessor's lexical evidence a memory inherits, nearest first.
CONTEXT_DECAY = (0.7, 0.5)


@dataclass(slots=True)
class _Terms:
    """What the term look-ups found: every holder of each rare term, and the common terms."""

    postings: dict[str, list[str]] = field(default_factory=dict)
    common: list[str] = field(default_factory=list)
    doc_count: int = 0

    def rare_weights(self) -> dict[str, float]:
        return {t: _lexical.idf(self.doc_count, len(ids)) for t, ids in self.postings.items() if ids}

    def weights(self, known: Mapping[str, tuple[frozenset[str], int]]) -> dict[str, float]:
        """Rare terms' IDF, and common terms' IDF from their share of the ``known`` memories."""
        weights = self.rare_weights()
        for term in self.common:
            share = sum(term in terms for terms, _ in known.values()) / max(len(known), 1)
            weights[term] = _lexical.idf(self.doc_count, round(max(TERM_CAP, share * self.doc_count)))
        return weights


def _prev_ids(meta: Mapping[str, Any]) -> list[str]:
    return [v for key in PREV_KEYS if isinstance(v := meta.get(key), str) and v]


def _terms(meta: Mapping[str, Any]) -> tuple[frozenset[str], int]:
    terms = meta.get("pm_terms") or ()
    return frozenset(terms), int(meta.get("pm_len", len(terms)) or 0)


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
        self._common: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._common_lock = threading.Lock()

    def _look_up(self, ns: str, terms: list[str]) -> Callable[[], _Terms]:
        """Start the term look-ups on the worker threads; the result waits for them.

        A term found common is not looked up again for ``COMMON_TTL`` seconds: only its
        document frequency would be read, and that is estimated anyway. Rare terms, whose
        holders become candidates, are always looked up afresh.
        """
        store = self._store
        count = self._pool.submit(store.count, ns)
        now = time.monotonic()
        with self._common_lock:
            common = [t for t in terms if self._common.get((ns, t), 0.0) > now]
        found = {
            t: self._pool.submit(store.ids, ns, where={"pm_terms": {"$contains": t}}, limit=TERM_CAP)
            for t in terms
            if t not in common
        }

        def result() -> _Terms:
            out = _Terms(common=list(common), doc_count=count.result())
            for term, future in found.items():
                ids = future.result()
                if len(ids) >= TERM_CAP:
                    out.common.append(term)
                    self._remember_common(ns, term)
                else:
                    out.postings[term] = ids
            return out

        return result

    def _remember_common(self, ns: str, term: str) -> None:
        with self._common_lock:
            self._common[(ns, term)] = time.monotonic() + COMMON_TTL
            self._common.move_to_end((ns, term))
            while len(self._common) > COMMON_CACHE:
                self._common.popitem(last=False)

    def _lexical_rows(self, ns: str, found: _Terms) -> tuple[list[str], Future[list[Row]] | None]:
        """The strongest lexical candidates (by rare-term IDF mass), and a read of them."""
        mass: dict[str, float] = {}
        for term, weight in found.rare_weights().items():
            for rid in found.postings[term]:
                mass[rid] = mass.get(rid, 0.0) + weight
        ranked = sorted(mass, key=lambda r: (-mass[r], r))[:LEXICAL_POOL]
        if not ranked:
            return [], None
        return ranked, self._pool.submit(self._store.get, ns, ids=ranked, embeddings=True)

    def search(self, text: str, k: int, ns: str, flt: Filter, now: datetime) -> list[RecallHit]:
        now_e = epoch(now)
        hybrid = self._settings.hybrid
        terms = _lexical.query_terms(text) if hybrid else []
        looked_up = self._look_up(ns, terms) if hybrid else None
        found = _Terms()
        vector = self._embed_query(text)
        lexical: tuple[list[str], Future[list[Row]] | None] = ([], None)
        if looked_up is not None:
            # Usually the look-ups are done by now: read the lexical candidates while
            # Chroma answers the dense query.
            found = looked_up()
            lexical = self._lexical_rows(ns, found)
        size = max(k, DENSE_POOL)
        dense = self._store.query(ns, vector, size, embeddings=hybrid)
        rows = {r.id: r for r in dense}
        if hybrid and rows:
            # Memories that follow the strongest candidates: a reply to a question asked.
            followed = list(dict.fromkeys(list(rows)[:FOLLOWED] + lexical[0][:FOLLOWED]))
            # Filters are checked afterwards, in Python: a get by ids with a where clause is slow.
            followers = self._store.get(ns, where={PREV_KEYS[0]: {"$in": followed}}, embeddings=True)
            for row in (lexical[1].result() if lexical[1] is not None else []) + followers:
                rows.setdefault(row.id, row)
        live = {rid: r for rid, r in rows.items() if flt.matches(r.metadata, now_e)}
        if len(live) < k and not flt.empty and len(dense) >= size:
            # The filter is selective: ask Chroma for the nearest matching records directly.
            where = flt.where(live_at=now_e)
            for row in self._store.query(ns, vector, size, where=where, embeddings=hybrid):
                rows.setdefault(row.id, row)
                live.setdefault(row.id, row)
        if not live:
            return []
        similarity, lexical_part = self._evidence(vector, live, found) if hybrid else self._dense(live)
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
        vector: np.ndarray, live: Mapping[str, Row], found: _Terms
    ) -> tuple[dict[str, float], dict[str, float]]:
        """Dense and lexical evidence of each live candidate, read in its context: the
        candidates among its two predecessors (a filtered-out memory lends no context)."""
        docs = {rid: _terms(r.metadata) for rid, r in live.items()}
        lexical = _lexical.bm25_scores(found.weights(docs), docs)
        vectors = {rid: r.embedding for rid, r in live.items() if r.embedding is not None}
        similarity: dict[str, float] = {}
        in_context: dict[str, float] = {}
        for rid, row in live.items():
            own = vectors.get(rid)
            if own is None:
                similarity[rid] = 1.0 - (row.distance or 0.0)
                in_context[rid] = lexical[rid]
                continue
            best = float(own @ vector)
            summed = own.astype(np.float32, copy=True)
            lex = lexical[rid]
            for decay, prev in zip(CONTEXT_DECAY, _prev_ids(row.metadata), strict=False):
                neighbour = vectors.get(prev)
                if neighbour is None:
                    continue
                summed += neighbour
                lex = max(lex, decay * lexical[prev])
            norm = float(np.linalg.norm(summed))
            if norm > 0:
                best = max(best, float(summed @ vector) / norm)
            similarity[rid] = best
            in_context[rid] = lex
        return similarity, in_context
