"""Hybrid recall: dense similarity, specific word evidence, and a thread's context.

Pipeline of one recall (all in one namespace = one Chroma collection):

1. The query's terms; for notes only its *literal* terms count (codes, numbers,
   identifiers, names: :func:`priomem._lexical.literal_terms`), for thread turns all.
   In a namespace of at most ``EAGER_LOOKUPS`` memories, each is looked up on the worker
   threads while the query is embedded: an exact-match filter on the namespace-keyed
   ``pm_terms`` lists. A term held by fewer than ``TERM_CAP`` memories is *rare*: the
   look-up gives its document frequency and every holder. A more frequent one is
   *common*. In a larger namespace a filtered read costs more than the embedding (about
   12 ms at 100,000 memories, whatever it matches), so look-ups wait for the candidates
   and only terms no candidate holds are looked up.
2. Notes, no filter (:meth:`HybridSearcher._search_notes`): Chroma answers the
   ``DENSE_POOL`` nearest ids and similarities only; the holders of rare literal terms
   join them. Each candidate has an upper bound of its score (best priority and access,
   the recency its id gives, the word evidence its terms allow); documents and metadata
   are read best bound first, a few at a time, until no unread bound beats the k-th
   score read: the result is the one reading every candidate would give, at a fraction
   of the cost (Chroma's reads cost about 0.15 ms a record).
3. Thread turns or filters (:meth:`HybridSearcher._search_pool`): the whole dense pool
   is read, with the strongest rare-term holders. Turns of a thread are read in context:
   the turns that follow the strongest candidates join them (the reply to a question
   that matches), and each turn's evidence is the better of its own and that of it read
   with the candidates among its two predecessors. A filter is checked in Python; a
   selective one is answered from all of its matches, or a filtered Chroma query.
4. Word evidence of every candidate: binary-TF BM25 over the stored terms, counting each
   term's IDF only as far as it is specific (:func:`priomem._lexical.specificity`), as a
   share of the query's whole IDF mass. :func:`priomem._scoring.combine` fuses it with
   similarity into relevance, then adds priority, recency and access: priority breaks
   near-ties of the fused relevance.

Context is read from the neighbours themselves at query time, so a forgotten memory stops
counting at once. Cached between calls: query embeddings; for a minute, which terms are
common (only their weight is estimated from that); for ten seconds, each namespace's size
(it weighs words and picks when look-ups run); for two seconds, that a namespace holds
no thread turns (recorded in its collection when its first turn is written; a turn
another process wrote meanwhile is read as a note until then). Several processes sharing
a Chroma server always see each other's writes and deletions.
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
from priomem._records import Key, contains, decode, epoch, id_time, one_of
from priomem._settings import Settings
from priomem._store import ChromaStore, Row

__all__ = ["CONTEXT_DECAY", "DENSE_POOL", "LEXICAL_POOL", "HybridSearcher", "run_soon"]

#: Dense candidates per recall (or k, when larger). Independent of k below it, so the
#: top 5 of a recall are the first 5 of the top 25.
DENSE_POOL = 50
#: Candidates with the most specific rare-term evidence read beside the dense pool.
LEXICAL_POOL = 30
#: A filter matching fewer memories than this (when the dense pool holds too few of them)
#: is answered exactly, from all of its matches.
SELECTIVE = 200
#: The strongest dense and lexical candidates whose followers (in their thread) join.
FOLLOWED = 10
#: A term held by this many memories or more is common: its look-up stops there.
TERM_CAP = 200
#: Above this many memories, a namespace's term look-ups cost more than embedding the query
#: (embedded Chroma's filtered reads grow with the collection: about 12 ms each at 100,000
#: memories, whatever they match), so they wait for the dense candidates and only terms that
#: no candidate holds are looked up: those are the ones whose holders the dense pool missed.
EAGER_LOOKUPS = 20_000
#: Seconds a namespace found without thread turns is trusted to have none (another process
#: may write its first turn meanwhile; until then its turns are read as notes).
THREADS_TTL = 2.0
#: Seconds a namespace's size is trusted (it only weighs words, through their IDF).
COUNT_TTL = 10.0
#: Seconds a term found common is not looked up again, and how many such terms are kept.
COMMON_TTL = 60.0
COMMON_CACHE = 4096
#: Share of a predecessor's lexical evidence a turn inherits, nearest first.
CONTEXT_DECAY = (0.7, 0.5)


@dataclass(slots=True)
class _Terms:
    """What the term look-ups found: every holder of each rare term, and the common terms."""

    postings: dict[str, list[str]] = field(default_factory=dict)
    common: list[str] = field(default_factory=list)
    doc_count: int = 0
    literal: frozenset[str] = frozenset()
    #: Terms not looked up because candidates hold them: IDF from their share of those.
    estimated: list[str] = field(default_factory=list)

    def merge(self, other: _Terms) -> None:
        self.postings.update(other.postings)
        self.common += [t for t in other.common if t not in self.common]
        self.doc_count = other.doc_count or self.doc_count

    def rare_idf(self) -> dict[str, float]:
        return {t: _lexical.idf(self.doc_count, len(ids)) for t, ids in self.postings.items() if ids}

    def idfs(self, known: Mapping[str, tuple[frozenset[str], int]]) -> dict[str, float]:
        """Rare terms' IDF, and common terms' IDF from their share of the ``known`` memories."""
        out = self.rare_idf()
        for term in self.common:
            share = sum(term in terms for terms, _ in known.values()) / max(len(known), 1)
            out[term] = _lexical.idf(self.doc_count, round(max(TERM_CAP, share * self.doc_count)))
        for term in self.estimated:
            # The candidates are the query's nearest memories, not a sample: their share
            # would overstate how common the term is. Its holders among them are a floor.
            holders = sum(term in terms for terms, _ in known.values())
            if holders:
                out[term] = _lexical.idf(self.doc_count, holders)
        return out


@dataclass(frozen=True, slots=True)
class _Query:
    """One recall as the search strategies see it: the query vector, how many hits, the
    namespace and filter, the time, the terms found so far and those still to look up."""

    vector: np.ndarray
    k: int
    ns: str
    flt: Filter
    now: datetime
    found: _Terms
    later: list[str]


def run_soon(pool: ThreadPoolExecutor, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
    """``pool.submit``, or the call made at once when the pool takes no more work (the
    interpreter is exiting: an ``atexit`` handler may still remember and recall)."""
    try:
        return pool.submit(fn, *args, **kwargs)
    except RuntimeError:
        done: Future[Any] = Future()
        try:
            done.set_result(fn(*args, **kwargs))
        except Exception as exc:
            done.set_exception(exc)
        return done


def _specific(idfs: Mapping[str, float], literal: frozenset[str] | None = None) -> dict[str, float]:
    """Word evidence of each query term: its IDF as far as it is specific; with ``literal``,
    only the literal terms' (:func:`priomem._lexical.literal_terms`)."""
    return {
        t: w * _lexical.specificity(w) if literal is None or t in literal else 0.0 for t, w in idfs.items()
    }


def _prev_ids(meta: Mapping[str, Any]) -> list[str]:
    return [v for key in PREV_KEYS if isinstance(v := meta.get(key), str) and v]


def _terms(meta: Mapping[str, Any]) -> tuple[frozenset[str], int]:
    stored = meta.get(Key.TERMS) or ()
    return _lexical.unkeyed(stored), int(meta.get(Key.LEN, len(stored)) or 0)


def _in_thread(row: Row) -> bool:
    # Links written by older versions between memories without a thread are ignored.
    return bool(row.metadata.get(Key.THREAD))


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
        self.settings = settings
        self._pool = pool
        self._common: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._common_lock = threading.Lock()
        #: Namespaces whose recalls met thread turns: their first query reads vectors too.
        self._threaded: set[str] = set()
        #: When a namespace that held no thread turns is to be asked again.
        self._thread_checks: dict[str, float] = {}
        #: Namespace sizes, with when they stop being trusted (they only weigh words).
        self._sizes: dict[str, tuple[float, int]] = {}

    def _look_up(self, ns: str, terms: list[str]) -> Callable[[], _Terms]:
        """Start the term look-ups on the worker threads; the result waits for them.

        A term found common is not looked up again for ``COMMON_TTL`` seconds: only its
        document frequency would be read, and that is estimated anyway. Rare terms, whose
        holders become candidates, are always looked up afresh.
        """
        store = self._store
        key = _lexical.term_key(ns)
        count = self._count(ns)
        now = time.monotonic()
        with self._common_lock:
            common = [t for t in terms if self._common.get((ns, t), 0.0) > now]
        found = {
            t: run_soon(self._pool, store.ids, ns, where=contains(Key.TERMS, key + t), limit=TERM_CAP)
            for t in terms
            if t not in common
        }

        def result() -> _Terms:
            out = _Terms(common=list(common), doc_count=count())
            for term, future in found.items():
                ids = future.result()
                if len(ids) >= TERM_CAP:
                    out.common.append(term)
                    self._remember_common(ns, term)
                else:
                    out.postings[term] = ids
            return out

        return result

    def _count(self, ns: str) -> Callable[[], int]:
        """The namespace's size: trusted for ``COUNT_TTL`` seconds, else read on a worker."""
        cached = self._sizes.get(ns)
        if cached is not None and cached[0] > time.monotonic():
            return lambda: cached[1]
        future = run_soon(self._pool, self._store.count, ns)

        def result() -> int:
            size = int(future.result())
            self._sizes[ns] = (time.monotonic() + COUNT_TTL, size)
            return size

        return result

    def _eager(self, ns: str) -> bool:
        """Whether term look-ups start with the query embedding: in a namespace of at most
        ``EAGER_LOOKUPS`` memories (its size read now when not known)."""
        return self._count(ns)() <= EAGER_LOOKUPS

    def _deferred(self, ns: str, found: _Terms, wanted: list[str], rows: Mapping[str, Row]) -> None:
        """In a large namespace: look up the wanted terms no candidate holds; the others'
        IDF is estimated from the candidates."""
        present: set[str] = set()
        for row in rows.values():
            present |= _terms(row.metadata)[0]
        absent = [t for t in wanted if t not in present]
        found.estimated += [t for t in wanted if t in present and t not in found.estimated]
        found.merge(self._look_up(ns, absent)() if absent else _Terms(doc_count=self._count(ns)()))

    def _remember_common(self, ns: str, term: str) -> None:
        with self._common_lock:
            self._common[(ns, term)] = time.monotonic() + COMMON_TTL
            self._common.move_to_end((ns, term))
            while len(self._common) > COMMON_CACHE:
                self._common.popitem(last=False)

    def _lexical_rows(self, ns: str, found: _Terms) -> tuple[list[str], Future[list[Row]] | None]:
        """The strongest lexical candidates (by specific rare-term evidence), and a read of
        them with their vectors (their similarity is computed here)."""
        mass: dict[str, float] = {}
        for term, weight in _specific(found.rare_idf()).items():
            if weight <= 0:
                continue
            for rid in found.postings[term]:
                mass[rid] = mass.get(rid, 0.0) + weight
        ranked = sorted(mass, key=lambda r: (-mass[r], r))[:LEXICAL_POOL]
        if not ranked:
            return [], None
        return ranked, run_soon(self._pool, self._store.get, ns, ids=ranked, embeddings=True)

    def _has_threads(self, ns: str) -> bool:
        """Whether the namespace holds thread turns: as its collection says, read again at
        most every ``THREADS_TTL`` seconds while it says no."""
        if ns in self._threaded:
            return True
        now = time.monotonic()
        if self._thread_checks.get(ns, 0.0) > now:
            return False
        if self._store.has_threads(ns):
            self._threaded.add(ns)
            return True
        self._thread_checks[ns] = now + THREADS_TTL
        return False

    def search(self, text: str, k: int, ns: str, flt: Filter, now: datetime) -> list[RecallHit]:
        hybrid = self.settings.hybrid
        threaded = self._has_threads(ns)
        terms = _lexical.query_terms(text) if hybrid else []
        literal = _lexical.literal_terms(text) if hybrid else frozenset()
        # Notes take word evidence from literal terms only; only a namespace with thread
        # turns needs every term's holders.
        wanted = terms if threaded else [t for t in terms if t in literal]
        eager = bool(wanted) and self._eager(ns)
        looked_up = self._look_up(ns, wanted) if eager else None
        vector = self._embed_query(text)
        found = looked_up() if looked_up is not None else _Terms()
        found.literal = literal
        later = [] if eager else wanted
        query = _Query(vector, k, ns, flt, now, found, later)
        hits = self._search_pool(query) if threaded or not flt.empty else self._search_notes(query)
        if hits is None:  # the namespace holds thread turns: read them in their context
            self._threaded.add(ns)
            return self.search(text, k, ns, flt, now)
        return hits

    def _search_notes(self, q: _Query) -> list[RecallHit] | None:
        """Recall without filters in a namespace of notes: the dense pool's ids and
        similarities first, then documents and metadata only for the candidates that can
        still make the top k. None when a candidate turns out to be a thread turn.

        Each candidate has an upper bound of its score (:meth:`_bounds`). Candidates are
        read best bound first, a few at a time, until none left unread has a bound above
        the k-th best score read so far: the result is the one reading every candidate
        would give.
        """
        vector, k, ns, flt, now, found, later = q.vector, q.k, q.ns, q.flt, q.now, q.found, q.later
        now_e = epoch(now)
        size = max(k, DENSE_POOL)
        near = self._store.nearest(ns, vector, size)
        if not near:
            return []
        sims = dict(near)
        floor = near[-1][1] if len(near) >= size else -1.0
        rows: dict[str, Row] = {}
        live: dict[str, Row] = {}
        tried: set[str] = set()
        hits: list[RecallHit] = []
        batch = max(k + 3, 8)
        deferred = not later
        norm = self._norm()
        while True:
            bounds = self._bounds(sims, floor, found, now)
            kth = hits[k - 1].score * norm if len(hits) >= k else float("-inf")
            unread = sorted(
                (r for r in bounds if r not in tried and bounds[r] >= kth), key=lambda r: (-bounds[r], r)
            )
            if not unread:
                if deferred:
                    break
                # In a large namespace: look up the literal terms no candidate read holds;
                # their holders become candidates.
                self._deferred(ns, found, later, rows)
                deferred = True
                hits = self._score(vector, live, found, ns, now) if live else []
                continue
            # The first read takes the best few; later ones all that can still enter.
            chosen = unread if rows else unread[:batch]
            tried.update(chosen)  # a memory forgotten meanwhile is read once, found gone
            if not self._hydrate(ns, chosen, sims, rows):
                return None
            live = {rid: r for rid, r in rows.items() if flt.matches(r.metadata, now_e)}
            hits = self._score(vector, live, found, ns, now) if live else []
        return hits[:k]

    def _norm(self) -> float:
        """The sum of the weights :func:`priomem._scoring.combine` divides by."""
        w = self.settings.weights
        lexical = w.lexical if self.settings.hybrid else 0.0
        return w.similarity + lexical + w.priority + w.recency + w.access

    def _bounds(
        self, sims: Mapping[str, float], floor: float, found: _Terms, now: datetime
    ) -> dict[str, float]:
        """An upper bound of each candidate's unnormalised score: its similarity (below the
        dense pool's last one, for a memory only its words found), the most word evidence
        the terms it is known to hold (and any term not looked up) allow, CRITICAL
        priority, the most access, and the recency its id's creation time gives."""
        w = self.settings.weights
        w_lex = w.lexical if self.settings.hybrid else 0.0
        rare = found.rare_idf()
        weights = _specific(rare, found.literal)
        total = sum(rare.values())
        held: dict[str, float] = {}
        for term, weight in weights.items():
            for rid in found.postings.get(term, ()) if weight > 0 else ():
                held[rid] = held.get(rid, 0.0) + weight
        # The strongest holders of rare words that the dense pool missed.
        outside = sorted((r for r in held if r not in sims), key=lambda r: (-held[r], r))[:LEXICAL_POOL]
        n = max(found.doc_count, 1)
        unknown = sum(
            _specific({t: _lexical.idf(n, TERM_CAP if t in found.common else 1)}, found.literal)[t]
            for t in {*found.common, *found.estimated}
        )
        out: dict[str, float] = {}
        for rid in [*sims, *outside]:
            mass = held.get(rid, 0.0) + unknown
            lex = (
                0.0 if mass <= 0 else 1.0 if total <= 0 else min(1.0, mass * _lexical.MAX_SATURATION / total)
            )
            made = id_time(rid)
            recency = 1.0 if made is None else _scoring.recency_part(made, now, w.half_life_days)
            out[rid] = (
                w.similarity * max(sims.get(rid, floor), 0.0)
                + w_lex * lex
                + w.priority
                + w.recency * recency
                + w.access
            )
        return out

    def _hydrate(self, ns: str, ids: list[str], sims: Mapping[str, float], rows: dict[str, Row]) -> bool:
        """Read ``ids`` into ``rows`` (vectors only for those the dense pool did not rank);
        False when one of them is a thread turn."""
        vectors = [rid for rid in ids if rid not in sims]
        for batch, embeddings in ((vectors, True), ([rid for rid in ids if rid in sims], False)):
            for row in self._store.get(ns, ids=batch, embeddings=embeddings) if batch else []:
                if _in_thread(row):
                    return False
                if row.id in sims:
                    row.distance = 1.0 - sims[row.id]
                rows[row.id] = row
        return True

    def _search_pool(self, q: _Query) -> list[RecallHit] | None:
        """Recall that reads the whole dense pool: with filters, or among thread turns.
        None when thread turns are met in a namespace not known to hold them."""
        vector, k, ns, flt, now, found, later = q.vector, q.k, q.ns, q.flt, q.now, q.found, q.later
        now_e = epoch(now)
        vectors = ns in self._threaded
        lexical = self._lexical_rows(ns, found) if not later else ([], None)
        size = max(k, DENSE_POOL)
        dense = self._store.query(ns, vector, size, embeddings=vectors)
        rows = {r.id: r for r in dense}
        if later:
            self._deferred(ns, found, later, rows)
            lexical = self._lexical_rows(ns, found)
        for row in lexical[1].result() if lexical[1] is not None else []:
            rows.setdefault(row.id, row)
        if any(_in_thread(r) for r in rows.values()):
            if not vectors:  # turns met first here: search again, every term looked up
                return None
            self._add_context(ns, rows, [*list(rows)[:FOLLOWED], *lexical[0][:FOLLOWED]])
        live = {rid: r for rid, r in rows.items() if flt.matches(r.metadata, now_e)}
        if len(live) < k and not flt.empty and len(dense) >= size:
            # The filter is selective. When few memories match, read them all and rank them
            # exactly (Chroma's filtered HNSW search can miss the only match: 1 in 30 runs of
            # tests/test_engine.py's case); else ask for the nearest live matching ones.
            where = flt.where()
            matching = self._store.get(ns, where=where, limit=SELECTIVE, embeddings=True)
            if len(matching) >= SELECTIVE:
                live_where = flt.where(live_at=now_e)
                matching = self._store.query(ns, vector, size, where=live_where, embeddings=vectors)
            for row in matching:
                rows.setdefault(row.id, row)
                if flt.matches(row.metadata, now_e):
                    live.setdefault(row.id, row)
        return self._score(vector, live, found, ns, now)[:k] if live else []

    def _score(
        self, vector: np.ndarray, live: Mapping[str, Row], found: _Terms, ns: str, now: datetime
    ) -> list[RecallHit]:
        """Every live candidate scored (:func:`priomem._scoring.combine`), best first."""
        hybrid = self.settings.hybrid
        if hybrid:
            similarity, lexical_part = self._evidence(vector, live, found)
        else:
            similarity, lexical_part = self._context_dense(vector, live), {}
        hits = []
        for rid, row in live.items():
            memory = decode(rid, row.document, row.metadata, ns)
            score, parts = _scoring.combine(
                self.settings.weights,
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
        return hits

    def _add_context(self, ns: str, rows: dict[str, Row], strongest: list[str]) -> None:
        """Read what thread turns need: their vectors, and the turns that follow the strongest."""
        self._threaded.add(ns)
        followed = [rid for rid in dict.fromkeys(strongest) if rid in rows and _in_thread(rows[rid])]
        # Filters are checked afterwards, in Python: a get by ids with a where clause is slow.
        followers = (
            run_soon(self._pool, self._store.get, ns, where=one_of(PREV_KEYS[0], followed), embeddings=True)
            if followed
            else None
        )
        missing = [rid for rid, r in rows.items() if r.embedding is None and _in_thread(r)]
        if missing:
            got = {
                r.id: r.embedding for r in self._store.get(ns, ids=missing, embeddings=True, documents=False)
            }
            for rid in missing:
                rows[rid].embedding = got.get(rid)
        for row in followers.result() if followers is not None else []:
            rows.setdefault(row.id, row)

    @staticmethod
    def _in_context(
        vector: np.ndarray, live: Mapping[str, Row], own_lexical: Mapping[str, float]
    ) -> tuple[dict[str, float], dict[str, float]]:
        """Each live candidate's similarity and lexical evidence, a thread turn's read in its
        context: the candidates among its two predecessors (a filtered-out one lends none)."""
        similarity: dict[str, float] = {}
        lexical: dict[str, float] = {}
        for rid, row in live.items():
            emb = row.embedding
            best = (
                1.0 - row.distance
                if row.distance is not None
                else (float(emb @ vector) if emb is not None else 0.0)
            )
            lex = own_lexical.get(rid, 0.0)
            if emb is not None and _in_thread(row):
                summed = emb.astype(np.float32, copy=True)
                linked = False
                for decay, prev in zip(CONTEXT_DECAY, _prev_ids(row.metadata), strict=False):
                    neighbour = live.get(prev)
                    if neighbour is None or neighbour.embedding is None:
                        continue
                    linked = True
                    summed += neighbour.embedding
                    lex = max(lex, decay * own_lexical.get(prev, 0.0))
                norm = float(np.linalg.norm(summed))
                if linked and norm > 0:
                    best = max(best, float(summed @ vector) / norm)
            similarity[rid] = best
            lexical[rid] = lex
        return similarity, lexical

    def _context_dense(self, vector: np.ndarray, live: Mapping[str, Row]) -> dict[str, float]:
        return self._in_context(vector, live, {})[0]

    def _evidence(
        self, vector: np.ndarray, live: Mapping[str, Row], found: _Terms
    ) -> tuple[dict[str, float], dict[str, float]]:
        """Dense and specific word evidence of each live candidate, thread turns in context."""
        docs = {rid: _terms(r.metadata) for rid, r in live.items()}
        idfs = found.idfs(docs)
        total = sum(idfs.values())
        # Turns of a conversation lean on their context and say little on their own: every
        # specific word counts. A note is a self-contained statement whose meaning the
        # embedding reads, synonyms included: only literal terms (codes, numbers, names),
        # which it cannot tell from their near misses, add word evidence.
        turns = {rid: d for rid, d in docs.items() if _in_thread(live[rid])}
        notes = {rid: d for rid, d in docs.items() if rid not in turns}
        mean = max(sum(max(n, 1) for _, n in docs.values()) / max(len(docs), 1), 1.0)
        own = _lexical.bm25_scores(_specific(idfs, found.literal), notes, total=total, avg_len=mean)
        if turns:
            own.update(_lexical.bm25_scores(_specific(idfs), turns, total=total, avg_len=mean))
        return self._in_context(vector, live, own)
