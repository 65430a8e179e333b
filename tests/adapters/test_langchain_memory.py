"""PriomemMemory: recall packed into a token budget, exchanges saved with a priority."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel, ParrotFakeChatModel
from langchain_core.messages import SystemMessage
from pydantic import ValidationError

from priomem import InvalidInputError, Memory, MemoryEngine, Priority, RecallHit
from priomem._packing import approx_tokens
from priomem.adapters.langchain import PriomemMemory

from .conftest import FACTS

QUESTION = {"input": "What do we know about the ETL?"}


def lines_of(text: str) -> list[str]:
    return text.split("\n- ")[1:] if text else []


@pytest.mark.parametrize("budget", [15, 30, 45, 60, 90, 200])
def test_everything_returned_fits_the_budget_and_no_memory_is_cut(seeded: MemoryEngine, budget: int) -> None:
    memory = PriomemMemory(engine=seeded, max_tokens=budget)
    text = memory.load_memory_variables(QUESTION)["history"]
    assert approx_tokens(text) <= budget
    contents = {content for content, _, _ in FACTS}
    for line in lines_of(text):
        assert line.split("] ", 1)[1] in contents  # whole memories only
    if text:
        assert text.startswith(memory.header + "\n")


def test_a_bigger_budget_holds_more_and_best_first(seeded: MemoryEngine) -> None:
    small = PriomemMemory(engine=seeded, max_tokens=45).load_memory_variables(QUESTION)["history"]
    large = PriomemMemory(engine=seeded, max_tokens=500).load_memory_variables(QUESTION)["history"]
    assert 0 < len(lines_of(small)) < len(lines_of(large)) == len(FACTS)
    # CRITICAL goes first: it is the most relevant ETL memory and outranks the rest
    assert lines_of(large)[0].startswith("[CRITICAL ")
    assert lines_of(small)[0] == lines_of(large)[0]


def test_critical_goes_ahead_of_similar_scores(engine: MemoryEngine) -> None:
    # Equal text apart from one word scores alike; the CRITICAL one must come first.
    engine.remember("Deploy window for payments is Tuesday", priority="medium")
    engine.remember("Deploy window for billing is Tuesday", priority="critical")
    text = PriomemMemory(engine=engine, max_tokens=200).load_memory_variables({"input": "deploy window"})[
        "history"
    ]
    assert [line.split(" ", 1)[0] for line in lines_of(text)] == ["[CRITICAL", "[MEDIUM"]


def hit(content: str, priority: Priority, score: float) -> RecallHit:
    now = datetime.now(UTC)
    memory = Memory(
        id=f"id-{content}",
        content=content,
        priority=priority,
        namespace="default",
        tags=(),
        metadata={},
        created_at=now,
        stored_at=now,
        last_accessed_at=None,
        access_count=0,
        expires_at=None,
    )
    return RecallHit(memory=memory, score=score)


def test_critical_goes_into_the_context_first_whatever_its_score(engine: MemoryEngine) -> None:
    memory = PriomemMemory(engine=engine, max_tokens=200)
    close = memory.pack(
        [hit("medium fact", Priority.MEDIUM, 0.82), hit("critical fact", Priority.CRITICAL, 0.80)]
    )
    assert [h.memory.content for h in close.hits] == ["critical fact", "medium fact"]
    far = memory.pack(
        [hit("medium fact", Priority.MEDIUM, 0.95), hit("critical fact", Priority.CRITICAL, 0.60)]
    )
    assert [h.memory.content for h in far.hits] == ["critical fact", "medium fact"]


def test_the_token_counter_is_pluggable(seeded: MemoryEngine) -> None:
    seen: list[str] = []

    def words(text: str) -> int:
        seen.append(text)
        return len(text.split())

    memory = PriomemMemory(engine=seeded, max_tokens=30, count_tokens=words)
    text = memory.load_memory_variables(QUESTION)["history"]
    assert seen and words(text) <= 30
    assert 0 < len(lines_of(text)) < len(FACTS)
    # the default counter would see the same text as over budget: the counter decided
    assert approx_tokens(text) > 30


def test_nothing_fits_gives_empty_text_and_no_messages(seeded: MemoryEngine) -> None:
    assert PriomemMemory(engine=seeded, max_tokens=5).load_memory_variables(QUESTION) == {"history": ""}
    as_messages = PriomemMemory(engine=seeded, max_tokens=5, return_messages=True)
    assert as_messages.load_memory_variables(QUESTION) == {"history": []}


def test_return_messages_and_memory_key(seeded: MemoryEngine) -> None:
    memory = PriomemMemory(engine=seeded, max_tokens=80, return_messages=True, memory_key="context")
    assert memory.memory_variables == ["context"]
    messages = memory.load_memory_variables({"question": "ETL deadline", "context": "ignored"})["context"]
    assert len(messages) == 1 and isinstance(messages[0], SystemMessage)
    assert approx_tokens(messages[0].content) <= 80
    assert "06:00 UTC" in messages[0].content


def test_the_input_key_must_be_clear(seeded: MemoryEngine) -> None:
    memory = PriomemMemory(engine=seeded)
    with pytest.raises(InvalidInputError, match="set input_key="):
        memory.load_memory_variables({"a": "ETL", "b": "deadline"})
    chosen = PriomemMemory(engine=seeded, input_key="b")
    assert "06:00" in chosen.load_memory_variables({"a": "orders", "b": "ETL deadline SLA"})["history"]
    assert memory.load_memory_variables({"input": "   "}) == {"history": ""}


def test_save_context_uses_the_classifier_and_tags(engine: MemoryEngine) -> None:
    def classify(inputs: dict[str, Any], outputs: dict[str, Any]) -> str:
        return "critical" if "SLA" in inputs["input"] else "low"

    memory = PriomemMemory(engine=engine, namespace="chat", classifier=classify, tags=["chat", "alice"])
    memory.save_context({"input": "Our SLA is 99.9% uptime"}, {"output": "Noted."})
    memory.save_context({"input": "I had coffee"}, {"output": "Nice."})
    stored = {m.content: m for m in engine.list(namespace="chat")}
    sla = stored["Human: Our SLA is 99.9% uptime\nAI: Noted."]
    assert sla.priority is Priority.CRITICAL and sla.tags == ("chat", "alice")
    assert sla.metadata["kind"] == "exchange"
    coffee = stored["Human: I had coffee\nAI: Nice."]
    assert coffee.priority is Priority.LOW and coffee.expires_at is not None  # LOW retention applies


def test_default_priority_is_medium_and_ttl_applies(engine: MemoryEngine) -> None:
    PriomemMemory(engine=engine).save_context({"input": "hi"}, {"output": "hello"})
    PriomemMemory(engine=engine, namespace="t", ttl="1h").save_context({"input": "hi"}, {"output": "hello"})
    (saved,) = engine.list()
    assert saved.priority is Priority.MEDIUM and saved.expires_at is None
    (expiring,) = engine.list(namespace="t")
    assert expiring.expires_at is not None


def test_output_key_must_be_clear(engine: MemoryEngine) -> None:
    memory = PriomemMemory(engine=engine)
    with pytest.raises(InvalidInputError, match="set output_key="):
        memory.save_context({"input": "hi"}, {"text": "a", "other": "b"})
    PriomemMemory(engine=engine, output_key="text").save_context({"input": "hi"}, {"text": "a", "other": "b"})
    assert [m.content for m in engine.list()] == ["Human: hi\nAI: a"]


def test_clear_forgets_only_its_namespace(engine: MemoryEngine) -> None:
    alice = PriomemMemory(engine=engine, namespace="user:alice")
    bob = PriomemMemory(engine=engine, namespace="user:bob")
    alice.save_context({"input": "I like tea"}, {"output": "Tea it is."})
    bob.save_context({"input": "I like coffee"}, {"output": "Coffee it is."})
    alice.clear()
    assert engine.list(namespace="user:alice") == []
    assert [m.content for m in engine.list(namespace="user:bob")] == [
        "Human: I like coffee\nAI: Coffee it is."
    ]
    assert alice.load_memory_variables({"input": "tea"}) == {"history": ""}


async def test_async_methods(engine: MemoryEngine) -> None:
    memory = PriomemMemory(engine=engine, namespace="async", max_tokens=100)
    await memory.asave_context({"input": "The backup runs at 02:00"}, {"output": "Noted."})
    loaded = await memory.aload_memory_variables({"input": "when does the backup run?"})
    assert "The backup runs at 02:00" in loaded["history"]
    await memory.aclear()
    assert engine.list(namespace="async") == []


def test_configuration_is_validated(engine: MemoryEngine) -> None:
    with pytest.raises(ValidationError):
        PriomemMemory(engine=engine, max_tokens=0)
    with pytest.raises(ValidationError, match="not a priority"):
        PriomemMemory(engine=engine, min_priority="urgent")
    assert PriomemMemory(engine=engine, min_priority="high").min_priority is Priority.HIGH


def test_min_priority_filters_recall(seeded: MemoryEngine) -> None:
    text = PriomemMemory(engine=seeded, min_priority="high", max_tokens=500).load_memory_variables(QUESTION)[
        "history"
    ]
    assert [line.split(" ", 1)[0] for line in lines_of(text)] == ["[CRITICAL", "[HIGH"]


@pytest.mark.filterwarnings("ignore:The class `ConversationChain` was deprecated")
def test_in_a_classic_conversation_chain(engine: MemoryEngine) -> None:
    from langchain_classic.chains import ConversationChain

    memory = PriomemMemory(
        engine=engine,
        namespace="chain",
        max_tokens=120,
        classifier=lambda i, o: "critical" if "must" in i["input"] else "medium",
    )
    first = ConversationChain(llm=FakeListChatModel(responses=["Noted."]), memory=memory)
    first.invoke({"input": "Invoices must be sent by the 5th of each month"})
    (saved,) = engine.list(namespace="chain")
    assert saved.priority is Priority.CRITICAL
    # A later conversation: the parrot model answers with the prompt it was given.
    later = ConversationChain(llm=ParrotFakeChatModel(), memory=memory)
    prompt = later.invoke({"input": "When are invoices due?"})["response"]
    assert "- [CRITICAL " in prompt and "Invoices must be sent by the 5th" in prompt
    assert len(engine.list(namespace="chain")) == 2
