"""``PriomemRetriever``: a LangChain retriever over a :class:`~priomem.MemoryEngine`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field, field_validator

from priomem import InvalidInputError, MemoryEngine, Priority, RecallHit

__all__ = ["PriomemRetriever", "hit_to_document"]

#: The arguments ``invoke``/``ainvoke`` accept to override a field for one call.
OVERRIDES = ("k", "namespace", "tags", "min_priority", "since", "until")


def hit_to_document(hit: RecallHit) -> Document:
    """A recalled memory as a ``Document``: its content, its id, and metadata.

    Metadata: ``id``, ``namespace``, ``priority`` (name), ``score`` and ``score_parts``
    (similarity, lexical, relevance, priority, recency, access), ``tags``,
    ``created_at`` and ``expires_at`` (ISO 8601 or None), and the memory's own
    ``metadata``.
    """
    memory = hit.memory
    return Document(
        id=memory.id,
        page_content=memory.content,
        metadata={
            "id": memory.id,
            "namespace": memory.namespace,
            "priority": memory.priority.name,
            "score": round(hit.score, 6),
            "score_parts": hit.parts.to_dict(),
            "tags": list(memory.tags),
            "created_at": memory.created_at.isoformat(),
            "expires_at": memory.expires_at.isoformat() if memory.expires_at else None,
            "metadata": dict(memory.metadata),
        },
    )


class PriomemRetriever(BaseRetriever):
    """Retrieve memories ranked by meaning, words, priority and recency.

    Every field can be overridden for one call by passing it to ``invoke``::

        retriever = PriomemRetriever(engine=engine, k=4, namespace="user:alice")
        docs = retriever.invoke("when must the ETL finish?", k=2, min_priority="high")
        docs[0].metadata["priority"]          # 'CRITICAL'

    ``tags`` filters memories (each must carry every tag); LangChain also attaches a
    retriever's ``tags`` to its traces. ``since``/``until`` take datetimes, ISO strings
    or relative forms such as ``"48h"``. ``ainvoke`` runs on the engine's async API.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    engine: MemoryEngine = Field(exclude=True)
    """The engine to recall from."""
    k: int = Field(default=4, ge=1)
    """How many memories to return at most."""
    namespace: str | None = None
    """Whose memory; None is the engine's default namespace."""
    tags: list[str] | None = None
    """Only memories that carry all of these tags."""
    min_priority: Priority | str | int | None = None
    """Only memories at least this important (a Priority, its name or 1-4)."""
    since: datetime | str | None = None
    """Only memories created since then."""
    until: datetime | str | None = None
    """Only memories created until then."""

    @field_validator("min_priority")
    @classmethod
    def _parse_priority(cls, value: Any) -> Priority | None:
        return None if value is None else Priority.parse(value, field="min_priority")

    def _recall_args(self, overrides: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(overrides) - set(OVERRIDES))
        if unknown:
            raise InvalidInputError(
                f"{unknown[0]}: not an argument of PriomemRetriever; per-call overrides are "
                f"{', '.join(OVERRIDES)}.",
                field=unknown[0],
            )
        args = {name: getattr(self, name) for name in OVERRIDES}
        args.update(overrides)
        return args

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        hits = self.engine.recall(query, **self._recall_args(kwargs))
        return [hit_to_document(hit) for hit in hits]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        hits = await self.engine.arecall(query, **self._recall_args(kwargs))
        return [hit_to_document(hit) for hit in hits]
