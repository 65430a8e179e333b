"""The records priomem returns: :class:`Memory`, :class:`RecallHit` and friends."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from priomem._priority import Priority

__all__ = ["SCHEMA_VERSION", "ForgetReport", "Memory", "MetadataValue", "RecallHit", "ScoreParts"]

#: Version of the stored record layout; raised when the layout changes.
SCHEMA_VERSION = 2

MetadataValue = str | int | float | bool


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True, slots=True)
class Memory:
    """One remembered thing. Immutable: the engine returns new records on change.

    ``ttl`` is the memory's own lifetime when one was given (else its priority's
    retention applies); ``expires_at`` is when it expires (None: never).
    ``consolidated_from`` lists the ids of the memories merged into this one.
    ``reads`` and ``writes`` are its lineage: the datasets, tables or jobs (URIs or dotted
    names) the work it describes read and wrote; ``MemoryEngine.lineage`` walks them.
    ``thread`` names the conversation (or session) the memory is a turn of: memories of
    one thread are read in each other's context by recall; others are judged alone.

    Times are timezone-aware UTC. ``created_at`` is when the remembered thing happened
    (given by the caller, or the time it was stored); ``stored_at`` is when priomem
    stored it, and retention counts from it.
    """

    id: str
    content: str
    priority: Priority
    namespace: str
    tags: tuple[str, ...]
    metadata: Mapping[str, MetadataValue]
    created_at: datetime
    stored_at: datetime
    last_accessed_at: datetime | None
    access_count: int
    expires_at: datetime | None
    refs: tuple[str, ...] = ()
    consolidated_from: tuple[str, ...] = ()
    content_hash: str = ""
    ttl: timedelta | None = None
    schema_version: int = SCHEMA_VERSION
    thread: str | None = None
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()

    @property
    def has_lineage(self) -> bool:
        """Whether the memory records lineage: datasets, related memories or a lineage field."""
        return bool(self.reads or self.writes or self.refs) or "lineage" in self.metadata

    def __post_init__(self) -> None:
        if not isinstance(self.metadata, MappingProxyType):
            object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    def is_expired(self, now: datetime) -> bool:
        """True when the memory's retention has run out at ``now``."""
        return self.expires_at is not None and self.expires_at <= now

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (times as ISO 8601, priority by name)."""
        return {
            "id": self.id,
            "content": self.content,
            "priority": self.priority.name,
            "namespace": self.namespace,
            "tags": list(self.tags),
            "metadata": dict(self.metadata),
            "created_at": _iso(self.created_at),
            "stored_at": _iso(self.stored_at),
            "last_accessed_at": _iso(self.last_accessed_at),
            "access_count": self.access_count,
            "expires_at": _iso(self.expires_at),
            "refs": list(self.refs),
            "consolidated_from": list(self.consolidated_from),
            "content_hash": self.content_hash,
            "ttl_seconds": None if self.ttl is None else self.ttl.total_seconds(),
            "schema_version": self.schema_version,
            "thread": self.thread,
            "reads": list(self.reads),
            "writes": list(self.writes),
        }


@dataclass(frozen=True, slots=True)
class ScoreParts:
    """What a recall score was made of; each part is in 0..1, higher is better.

    ``similarity`` is the cosine similarity of query and memory (clipped at 0),
    ``lexical`` the normalised word-match evidence, ``relevance`` their fusion,
    and ``priority``, ``recency`` and ``access`` the boosts the ranking formula adds
    (see :mod:`priomem._scoring`).
    """

    similarity: float
    lexical: float
    relevance: float
    priority: float
    recency: float
    access: float

    def to_dict(self) -> dict[str, float]:
        return {k: round(v, 6) for k, v in asdict(self).items()}


@dataclass(frozen=True, slots=True)
class RecallHit:
    """A recalled memory, its score (0..1, higher is better) and the parts of it."""

    memory: Memory
    score: float
    parts: ScoreParts = field(default_factory=lambda: ScoreParts(0.0, 0.0, 0.0, 0.0, 0.0, 0.0))

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.memory.to_dict(),
            "score": round(self.score, 6),
            "parts": self.parts.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class ForgetReport:
    """What a forget did (or, with ``dry_run``, would do): the ids it selected."""

    ids: tuple[str, ...]
    dry_run: bool

    @property
    def count(self) -> int:
        return len(self.ids)
