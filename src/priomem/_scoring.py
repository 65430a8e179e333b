"""Ranking: pure functions, no I/O. Every part is in 0..1 and higher is better.

The score of a memory for a query is a weighted mean::

    score = (w_sim·similarity + w_lex·lexical + w_pri·priority + w_rec·recency + w_acc·access)
            / (w_sim + w_lex + w_pri + w_rec + w_acc)

- ``similarity``: cosine similarity of query and memory embeddings, clipped to 0..1. A turn
  of a thread (``remember(..., thread=...)``) is also read in its context (it and the turns
  just before it, :mod:`priomem._recall`), and the higher of the two cosines counts; a
  memory without a thread is judged on its own.
- ``lexical``: share of the query's word evidence (BM25 weight) the memory matches, or a
  turn inherits from the turns just before it, 0..1 (0 for every memory when hybrid
  retrieval is off; the term is then left out). Only *specific* words count (held by at
  most about one memory in six of the namespace, fully from one in 51), and for notes only
  literal ones (codes, numbers, identifiers, names: :func:`priomem._lexical.literal_terms`),
  which the embedding cannot tell from their near misses. So words add evidence where
  meaning alone is blind and never outvote it on ordinary words.
- ``priority``: (priority - 1) / 3, so LOW 0, MEDIUM 1/3, HIGH 2/3, CRITICAL 1.
- ``recency``: 0.5 ** (age / half_life), age counted from ``created_at``.
- ``access``: log(1 + access_count) / log(1 + 32), capped at 1.

With the default weights (1.0, 0.5, 0.08, 0.10, 0.04) relevance dominates: priority moves
a memory by at most 0.08 of fused relevance (similarity + 0.5 x lexical) (CRITICAL over
LOW), recency and access by at most 0.10 and 0.04. So, against an equally recent LOW
memory, a CRITICAL memory wins when the LOW one is up to 0.08 more relevant after fusion
(both used alike), and never when it is more than 0.12 more relevant (0.08 + 0.04 for the
largest possible access difference): inside the 0.05 / 0.15 band the design asks for,
which ``tests/test_recall.py`` checks. Priority breaks near-ties of the *fused* relevance;
since ordinary words carry no evidence for notes, a debug note that repeats the
question's words is a near-tie of the answer, not a clear winner. The lexical weight was
measured on LoCoMo (``benchmarks/locomo.py``): 0.5 beside similarity 1.0 was within a
point of the best R@5 and R@10 of the weights 0.3 to 1.0 tried; on the operational
benchmark (``benchmarks/ops.py``) 0.3 to 0.8 were within a point of each other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from priomem._errors import InvalidInputError
from priomem._models import ScoreParts
from priomem._priority import Priority

__all__ = [
    "Weights",
    "access_part",
    "combine",
    "eviction_key",
    "priority_part",
    "recency_part",
]

_ACCESS_SATURATION = 32


@dataclass(frozen=True, slots=True)
class Weights:
    """Weights of the ranking formula and the recency half-life (in days)."""

    similarity: float = 1.0
    lexical: float = 0.5
    priority: float = 0.08
    recency: float = 0.10
    access: float = 0.04
    half_life_days: float = 30.0

    def __post_init__(self) -> None:
        for name in ("similarity", "lexical", "priority", "recency", "access", "half_life_days"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise InvalidInputError(f"weights.{name}: must be a finite number >= 0, got {value!r}.")
        if self.similarity + self.lexical <= 0:
            raise InvalidInputError(
                "weights: similarity and lexical cannot both be 0; relevance would be lost."
            )
        if self.half_life_days <= 0:
            raise InvalidInputError("weights.half_life_days: must be > 0.")


def priority_part(priority: Priority) -> float:
    """LOW 0, MEDIUM 1/3, HIGH 2/3, CRITICAL 1."""
    return (int(priority) - 1) / 3.0


def recency_part(created_at: datetime, now: datetime, half_life_days: float) -> float:
    """1 for a memory created now, halving every ``half_life_days``; future times count as now."""
    age_days = max((now - created_at).total_seconds(), 0.0) / 86400.0
    return float(0.5 ** (age_days / half_life_days))


def access_part(access_count: int) -> float:
    """Diminishing reward for being recalled often: 0 never, 1 at 32 recalls or more."""
    if access_count <= 0:
        return 0.0
    return min(1.0, math.log1p(access_count) / math.log1p(_ACCESS_SATURATION))


def combine(
    weights: Weights,
    *,
    similarity: float,
    lexical: float,
    priority: Priority,
    created_at: datetime,
    access_count: int,
    now: datetime,
    use_lexical: bool = True,
) -> tuple[float, ScoreParts]:
    """The score (0..1) of one memory and the parts it was made of."""
    sim = min(max(similarity, 0.0), 1.0)
    lex = min(max(lexical, 0.0), 1.0) if use_lexical else 0.0
    w_lex = weights.lexical if use_lexical else 0.0
    pri = priority_part(priority)
    rec = recency_part(created_at, now, weights.half_life_days)
    acc = access_part(access_count)
    rel_weight = weights.similarity + w_lex
    relevance = (weights.similarity * sim + w_lex * lex) / rel_weight
    total = rel_weight + weights.priority + weights.recency + weights.access
    raw = rel_weight * relevance + weights.priority * pri + weights.recency * rec + weights.access * acc
    return raw / total, ScoreParts(
        similarity=sim, lexical=lex, relevance=relevance, priority=pri, recency=rec, access=acc
    )


def eviction_key(
    priority: Priority,
    has_lineage: bool,
    last_used_epoch: float,
    access_count: int,
) -> tuple[int, int, float, int]:
    """Sort key for eviction: the smallest key is evicted first.

    Lowest priority first; within a priority, memories without lineage before those with
    it; then least recently used (last access, or storage time when never recalled); then
    least accessed. CRITICAL memories are never passed to eviction at all.
    """
    return (int(priority), 1 if has_lineage else 0, last_used_epoch, access_count)
