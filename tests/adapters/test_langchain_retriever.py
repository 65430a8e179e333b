"""PriomemRetriever: the standard LangChain retriever suite, then its own behaviour."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.runnables import RunnableLambda
from langchain_tests.integration_tests import RetrieversIntegrationTests
from pydantic import ValidationError

from priomem import InvalidInputError, MemoryEngine, SentenceTransformerEmbedder, Settings
from priomem.adapters.langchain import PriomemRetriever

from .conftest import FACTS, seed


class TestPriomemRetrieverStandard(RetrieversIntegrationTests):
    """LangChain's standard retriever suite on the hash embedder and in-memory Chroma."""

    @pytest.fixture(autouse=True)
    def _engine(self, seeded: MemoryEngine) -> None:
        self.engine = seeded

    @property
    def retriever_constructor(self) -> type[PriomemRetriever]:
        return PriomemRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"engine": self.engine, "k": 2}

    @property
    def retriever_query_example(self) -> str:
        return "When must the ETL finish?"


@pytest.fixture(scope="module")
def real_stack(
    chroma_server: str, real_embedder: SentenceTransformerEmbedder
) -> Iterator[tuple[MemoryEngine, str]]:
    """An engine on the real model and a real server, FACTS in a namespace of its own."""
    with MemoryEngine(url=chroma_server, embedder=real_embedder, settings=Settings()) as engine:
        namespace = f"retriever-{uuid.uuid4().hex[:12]}"
        seed(engine, namespace)
        yield engine, namespace


@pytest.mark.integration
class TestPriomemRetrieverStandardRealStack(RetrieversIntegrationTests):
    """The same suite on the real model and a real `chroma run` server."""

    @pytest.fixture(autouse=True)
    def _engine(self, real_stack: tuple[MemoryEngine, str]) -> None:
        self.engine, self.namespace = real_stack

    @property
    def retriever_constructor(self) -> type[PriomemRetriever]:
        return PriomemRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"engine": self.engine, "k": 2, "namespace": self.namespace}

    @property
    def retriever_query_example(self) -> str:
        return "When is the nightly job due?"


# -- behaviour ---------------------------------------------------------------------------


def test_documents_carry_id_and_metadata(seeded: MemoryEngine) -> None:
    docs = PriomemRetriever(engine=seeded, k=3).invoke("When must the ETL finish?")
    top = docs[0]
    assert top.page_content == FACTS[0][0]
    assert top.id == top.metadata["id"]
    assert seeded.get(top.id) is not None
    meta = top.metadata
    assert meta["priority"] == "CRITICAL"
    assert meta["tags"] == ["etl", "sla"]
    assert meta["namespace"] == "default"
    assert datetime.fromisoformat(meta["created_at"]).tzinfo is not None
    assert set(meta["score_parts"]) == {"similarity", "lexical", "relevance", "priority", "recency", "access"}
    assert 0 < meta["score"] <= 1
    scores = [d.metadata["score"] for d in docs]
    assert scores == sorted(scores, reverse=True)


def test_fields_are_defaults_and_invoke_overrides_them(seeded: MemoryEngine) -> None:
    retriever = PriomemRetriever(engine=seeded, k=5, tags=["etl"])
    assert len(retriever.invoke("ETL")) == 3  # only the three ETL memories carry the tag
    assert len(retriever.invoke("ETL", k=1)) == 1
    critical = retriever.invoke("ETL", min_priority="critical")
    assert [d.metadata["priority"] for d in critical] == ["CRITICAL"]
    debug = retriever.invoke("ETL", tags=["debug"])
    assert [d.page_content for d in debug] == [FACTS[3][0]]
    # an override is for that call only
    assert retriever.k == 5 and retriever.tags == ["etl"]
    assert len(retriever.invoke("ETL")) == 3


def test_namespace_field_and_override(engine: MemoryEngine) -> None:
    engine.remember("Bob's deploys happen on Tuesdays", namespace="user:bob")
    engine.remember("Carol's deploys happen on Fridays", namespace="user:carol")
    retriever = PriomemRetriever(engine=engine, namespace="user:bob")
    assert [d.page_content for d in retriever.invoke("deploys")] == ["Bob's deploys happen on Tuesdays"]
    carol = retriever.invoke("deploys", namespace="user:carol")
    assert [d.metadata["namespace"] for d in carol] == ["user:carol"]
    assert retriever.invoke("deploys", namespace="nobody") == []


def test_since_and_until(engine: MemoryEngine) -> None:
    now = datetime.now(UTC)
    engine.remember("Old incident: the ETL failed on a full disk", created_at=now - timedelta(days=30))
    engine.remember("New incident: the ETL failed on a schema change", created_at=now - timedelta(hours=2))
    retriever = PriomemRetriever(engine=engine, since="7d")
    assert [d.page_content for d in retriever.invoke("ETL incident")] == [
        "New incident: the ETL failed on a schema change"
    ]
    old = retriever.invoke("ETL incident", since=None, until=now - timedelta(days=7))
    assert [d.page_content for d in old] == ["Old incident: the ETL failed on a full disk"]


def test_bad_arguments_are_refused_with_the_fix(seeded: MemoryEngine) -> None:
    retriever = PriomemRetriever(engine=seeded)
    with pytest.raises(InvalidInputError, match="per-call overrides are k, namespace"):
        retriever.invoke("ETL", top_k=2)
    with pytest.raises(ValidationError, match="not a priority"):
        PriomemRetriever(engine=seeded, min_priority="urgent")
    with pytest.raises(ValidationError):
        PriomemRetriever(engine=seeded, k=0)
    assert PriomemRetriever(engine=seeded, min_priority=3).min_priority is not None


async def test_ainvoke_uses_the_engines_async_recall(
    seeded: MemoryEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []
    original = seeded.arecall

    async def spy(query: str, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return await original(query, **kwargs)

    monkeypatch.setattr(seeded, "arecall", spy)
    docs = await PriomemRetriever(engine=seeded, k=4).ainvoke("ETL deadline", k=2, min_priority="high")
    assert [d.metadata["priority"] for d in docs] == ["CRITICAL", "HIGH"]
    assert calls and calls[0]["k"] == 2


def test_works_in_a_runnable_chain(seeded: MemoryEngine) -> None:
    def join(docs: list[Document]) -> str:
        return "\n".join(d.page_content for d in docs)

    chain = PriomemRetriever(engine=seeded, k=1) | RunnableLambda(join)
    assert chain.invoke("When must the ETL finish?") == FACTS[0][0]


@pytest.mark.integration
def test_real_model_recalls_by_meaning(
    chroma_client: object, real_embedder: SentenceTransformerEmbedder
) -> None:
    with MemoryEngine(client=chroma_client, embedder=real_embedder, settings=Settings()) as real:
        seed(real, "meaning")
        docs = PriomemRetriever(engine=real, k=2, namespace="meaning").invoke(
            "what colour scheme does the user like?"
        )
    assert docs[0].page_content == FACTS[1][0]
