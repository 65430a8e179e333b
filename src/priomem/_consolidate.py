"""Consolidation without an LLM: group near-duplicate memories and merge each group. Pure.

Grouping is leader clustering in a fixed order (created_at, then id): each memory joins
the group whose leader it is most similar to, if that similarity reaches
``min_similarity``, else it leads a new group. Deterministic for a given input.

The merged text keeps the information: the group's most central text (highest mean
similarity to the others), then the sentences of the others that it does not already
say, up to a size cap.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from priomem._models import Memory
from priomem._records import new_id
from priomem._validation import MAX_REFS, content_hash, within_a_value

__all__ = ["MAX_MERGED_CHARS", "Consolidation", "group", "merge_text", "merged_memory"]

MAX_MERGED_CHARS = 2000
#: Rounding allowance on a similarity (float32 sums of 384 products differ by ~1e-7).
SIMILARITY_TOLERANCE = 1e-6


@dataclass(frozen=True, slots=True)
class Consolidation:
    """One merge: the new memory and the ids it replaced."""

    memory: Memory
    merged_ids: tuple[str, ...]


_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")
_WORD = re.compile(r"\w+", re.UNICODE)


def group(vectors: np.ndarray, min_similarity: float) -> list[list[int]]:
    """Indices of ``vectors`` (rows already in the grouping order) in groups of 1 or more."""
    vectors = np.asarray(vectors, dtype=np.float32)
    leaders = np.empty((len(vectors), vectors.shape[1] if vectors.ndim == 2 else 0), dtype=np.float32)
    count = 0
    groups: list[list[int]] = []
    for index in range(len(vectors)):
        best = -1
        if count:
            # Ties go to the latest leader, as a scan keeping ">=" comparisons would.
            sims = leaders[:count] @ vectors[index]
            top = float(sims.max())
            # A hair of tolerance: identical vectors reach 1.0 whatever the rounding of the sum.
            if top >= min_similarity - SIMILARITY_TOLERANCE:
                best = int(np.flatnonzero(sims == top)[-1])
        if best < 0:
            leaders[count] = vectors[index]
            count += 1
            groups.append([index])
        else:
            groups[best].append(index)
    return groups


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def merge_text(texts: Sequence[str], vectors: np.ndarray, cap: int = MAX_MERGED_CHARS) -> str:
    """The most central text plus the distinct details of the others, at most ``cap`` characters."""
    if len(texts) == 1:
        return texts[0][:cap]
    sims = vectors @ vectors.T
    central = int(np.argmax(sims.sum(axis=1)))
    merged = texts[central]
    known = _words(merged)
    details: list[str] = []
    for index, text in enumerate(texts):
        if index == central:
            continue
        for sentence in (s.strip() for s in _SENTENCE.split(text)):
            words = _words(sentence)
            if not words or not (words - known):
                continue  # says nothing the merged text does not already say
            details.append(sentence)
            known |= words
    for detail in details:
        candidate = f"{merged} | {detail}"
        if len(candidate) > cap:
            break
        merged = candidate
    return merged[:cap]


def merged_memory(members: Sequence[Memory], content: str, *, now: datetime, max_tags: int) -> Memory:
    """The memory that replaces ``members``: a new id, the highest priority, the union of tags
    and refs (less refs to the members), merged metadata, summed accesses, the latest time,
    the longest lifetime, and ``consolidated_from`` naming the members."""
    ids = {m.id for m in members}
    tags: list[str] = []
    refs: list[str] = []
    metadata: dict[str, Any] = {}
    for m in members:
        tags += [t for t in m.tags if t not in tags]
        refs += [r for r in m.refs if r not in refs and r not in ids]
        metadata.update(m.metadata)
    created = max(m.created_at for m in members)
    accessed = [m.last_accessed_at for m in members if m.last_accessed_at]
    expiries = [m.expires_at for m in members]
    ttls = [m.ttl for m in members]
    return Memory(
        id=new_id(created),
        content=content,
        priority=max(m.priority for m in members),
        namespace=members[0].namespace,
        tags=within_a_value(tags[:max_tags]),
        metadata=metadata,
        created_at=created,
        stored_at=now,
        last_accessed_at=max(accessed) if accessed else None,
        access_count=sum(m.access_count for m in members),
        expires_at=None if any(e is None for e in expiries) else max(e for e in expiries if e is not None),
        refs=within_a_value(refs[:MAX_REFS]),
        consolidated_from=tuple(m.id for m in members),
        content_hash=content_hash(content),
        ttl=None if any(t is None for t in ttls) else max(t for t in ttls if t is not None),
    )
