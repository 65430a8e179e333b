"""Packing recalled memories into a token budget (used by the LangChain memory and MCP recall).

Pure: no I/O. The token counter is pluggable; the default approximates GPT-style tokens
as one per four characters (rounded up) and needs no download.

What goes in first: every CRITICAL memory, then data-quality alerts, then the others by
relevance weighted by priority and type (:func:`order_for_context`); a CRITICAL memory is
never left out while one of lower priority is in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from priomem._errors import InvalidInputError
from priomem._models import RecallHit
from priomem._priority import Priority

__all__ = [
    "ALERT_TAGS",
    "PRIORITY_WEIGHT",
    "TYPE_WEIGHT",
    "PackResult",
    "approx_tokens",
    "format_hit",
    "order_for_context",
    "pack_hits",
]

TokenCounter = Callable[[str], int]

#: Tags that mark a data-quality alert: forced into the context right after CRITICAL memories.
ALERT_TAGS = frozenset({"data-quality", "data_quality", "dq-alert", "quality-alert"})
#: Weight of a memory's priority in the order after the forced memories (CRITICAL is forced).
PRIORITY_WEIGHT: Mapping[Priority, float] = MappingProxyType(
    {Priority.CRITICAL: 1.0, Priority.HIGH: 1.0, Priority.MEDIUM: 0.8, Priority.LOW: 0.5}
)
#: Weight of a memory's type, named by a tag (the highest of its tags counts; others 1.0).
#: After the brief's classes: incidents and commitments first, debug notes last.
TYPE_WEIGHT: Mapping[str, float] = MappingProxyType(
    {
        "incident": 1.25,
        "sla": 1.2,
        "compliance": 1.2,
        "lineage": 1.2,
        "state": 1.1,
        "allocation": 1.1,
        "quality": 1.1,
        "history": 0.9,
        "trend": 0.9,
        "metric": 0.8,
        "debug": 0.6,
    }
)


def approx_tokens(text: str) -> int:
    """About one token per four characters, rounded up; 0 for empty text."""
    return math.ceil(len(text) / 4) if text else 0


def format_hit(hit: RecallHit) -> str:
    """One memory as a context line: ``- [HIGH 2026-05-01] content``."""
    memory = hit.memory
    return f"- [{memory.priority.name} {memory.created_at.date().isoformat()}] {memory.content}"


def _is_alert(hit: RecallHit) -> bool:
    return not ALERT_TAGS.isdisjoint(hit.memory.tags)


def weight(hit: RecallHit) -> float:
    """The factor on a hit's score in the order after the forced memories."""
    tags = [TYPE_WEIGHT[t] for t in hit.memory.tags if t in TYPE_WEIGHT]
    return PRIORITY_WEIGHT[hit.memory.priority] * (max(tags) if tags else 1.0)


def order_for_context(hits: Sequence[RecallHit]) -> list[RecallHit]:
    """The order memories go into a context: every CRITICAL memory (best score first),
    then data-quality alerts (tags in :data:`ALERT_TAGS`), then the rest by score times
    :func:`weight` (:data:`PRIORITY_WEIGHT` times :data:`TYPE_WEIGHT`)."""

    def rank(hit: RecallHit) -> tuple[int, float, str]:
        if hit.memory.priority is Priority.CRITICAL:
            return (0, -hit.score, hit.memory.id)
        if _is_alert(hit):
            return (1, -hit.score, hit.memory.id)
        return (2, -hit.score * weight(hit), hit.memory.id)

    return sorted(hits, key=rank)


@dataclass(frozen=True, slots=True)
class PackResult:
    """The hits that fit, the text made of them, and its token count."""

    hits: tuple[RecallHit, ...]
    text: str
    tokens: int
    omitted: int
    #: CRITICAL memories that did not fit: when any, nothing of lower priority is in.
    critical_omitted: int = 0


def pack_hits(
    hits: Sequence[RecallHit],
    max_tokens: int,
    *,
    count_tokens: TokenCounter = approx_tokens,
    header: str = "",
    line: Callable[[RecallHit], str] = format_hit,
) -> PackResult:
    """Fit whole memories into ``max_tokens`` (header and newlines included), in the order
    of :func:`order_for_context`.

    A memory that does not fit is skipped, never cut; smaller ones after it may still fit,
    except that no memory below CRITICAL goes in once a CRITICAL one was left out (raise
    the budget: :attr:`PackResult.critical_omitted` says it happened). The header is only
    emitted when at least one memory fits.
    """
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise InvalidInputError(
            f"max_tokens: must be a whole number >= 1, got {max_tokens!r}.", field="max_tokens"
        )
    chosen: list[RecallHit] = []
    lines: list[str] = []
    critical_omitted = 0
    for hit in order_for_context(hits):
        critical = hit.memory.priority is Priority.CRITICAL
        if critical_omitted and not critical:
            break
        candidate = "\n".join(([header] if header else []) + [*lines, line(hit)])
        if count_tokens(candidate) <= max_tokens:
            chosen.append(hit)
            lines.append(line(hit))
        elif critical:
            critical_omitted += 1
    text = "\n".join(([header] if header else []) + lines) if lines else ""
    return PackResult(
        hits=tuple(chosen),
        text=text,
        tokens=count_tokens(text),
        omitted=len(hits) - len(chosen),
        critical_omitted=critical_omitted,
    )
