"""Packing recalled memories into a token budget (used by the LangChain memory and MCP recall).

Pure: no I/O. The token counter is pluggable; the default approximates GPT-style tokens
as one per four characters (rounded up) and needs no download.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from priomem._errors import InvalidInputError
from priomem._models import RecallHit
from priomem._priority import Priority

__all__ = ["PackResult", "approx_tokens", "format_hit", "order_for_context", "pack_hits"]

TokenCounter = Callable[[str], int]
#: Scores closer than this count as "similar": CRITICAL memories go first among them.
SIMILAR_SCORE = 0.05


def approx_tokens(text: str) -> int:
    """About one token per four characters, rounded up; 0 for empty text."""
    return math.ceil(len(text) / 4) if text else 0


def format_hit(hit: RecallHit) -> str:
    """One memory as a context line: ``- [HIGH 2026-05-01] content``."""
    memory = hit.memory
    return f"- [{memory.priority.name} {memory.created_at.date().isoformat()}] {memory.content}"


def order_for_context(hits: Sequence[RecallHit], similar: float = SIMILAR_SCORE) -> list[RecallHit]:
    """Highest score first, but a CRITICAL memory moves ahead of non-critical ones whose
    score is within ``similar`` of its own."""
    ordered = sorted(hits, key=lambda h: (-h.score, h.memory.id))
    result: list[RecallHit] = []
    for hit in ordered:
        position = len(result)
        if hit.memory.priority is Priority.CRITICAL:
            while (
                position > 0
                and result[position - 1].memory.priority is not Priority.CRITICAL
                and result[position - 1].score - hit.score <= similar
            ):
                position -= 1
        result.insert(position, hit)
    return result


@dataclass(frozen=True, slots=True)
class PackResult:
    """The hits that fit, the text made of them, and its token count."""

    hits: tuple[RecallHit, ...]
    text: str
    tokens: int
    omitted: int


def pack_hits(
    hits: Sequence[RecallHit],
    max_tokens: int,
    *,
    count_tokens: TokenCounter = approx_tokens,
    header: str = "",
    line: Callable[[RecallHit], str] = format_hit,
) -> PackResult:
    """Fit whole memories, best first, into ``max_tokens`` (header and newlines included).

    A memory that does not fit is skipped, never cut; smaller ones after it may still fit.
    The header is only emitted when at least one memory fits.
    """
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise InvalidInputError(
            f"max_tokens: must be a whole number >= 1, got {max_tokens!r}.", field="max_tokens"
        )
    chosen: list[RecallHit] = []
    lines: list[str] = []
    ordered = order_for_context(hits)
    for hit in ordered:
        candidate = "\n".join(([header] if header else []) + [*lines, line(hit)])
        if count_tokens(candidate) <= max_tokens:
            chosen.append(hit)
            lines.append(line(hit))
    text = "\n".join(([header] if header else []) + lines) if lines else ""
    return PackResult(
        hits=tuple(chosen), text=text, tokens=count_tokens(text), omitted=len(ordered) - len(chosen)
    )
