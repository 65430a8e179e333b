"""PriomemStore as the ``store=`` of a compiled LangGraph agent."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import InjectedStore, ToolNode, tools_condition
from langgraph.store.base import BaseStore

from priomem import MemoryEngine, SentenceTransformerEmbedder, Settings
from priomem.adapters.langgraph import PriomemStore


@tool
def save_memory(fact: str, config: RunnableConfig, store: Annotated[BaseStore, InjectedStore()]) -> str:
    """Save a fact about the user for later conversations."""
    user = config["configurable"]["user_id"]
    key = uuid.uuid5(uuid.NAMESPACE_URL, fact).hex
    store.put(("memories", user), key, {"fact": fact})
    return f"saved {key}"


def build(
    store: BaseStore, replies: list[AIMessage], prompts: list[list[BaseMessage]]
) -> CompiledStateGraph[Any]:
    """A tool-calling agent whose model is scripted and whose memory is ``store``."""
    model = GenericFakeChatModel(messages=iter(replies))

    def agent(state: MessagesState, config: RunnableConfig, *, store: BaseStore) -> dict[str, Any]:
        user = config["configurable"]["user_id"]
        question = str(state["messages"][-1].content)
        facts = store.search(("memories", user), query=question, limit=3)
        system = SystemMessage("Known about the user:\n" + "\n".join(f"- {i.value['fact']}" for i in facts))
        prompts.append([system, *state["messages"]])
        return {"messages": [model.invoke([system, *state["messages"]])]}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", agent)
    builder.add_node("tools", ToolNode([save_memory]))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition)
    builder.add_edge("tools", "agent")
    builder.add_edge("agent", END)
    return builder.compile(store=store)


def script() -> list[AIMessage]:
    call = {"name": "save_memory", "args": {"fact": "prefers dark mode in every app"}, "id": "call-1"}
    return [
        AIMessage(content="", tool_calls=[call]),
        AIMessage(content="Saved: dark mode."),
        AIMessage(content="You prefer dark mode."),
    ]


def converse(graph: CompiledStateGraph[Any], text: str, user: str) -> str:
    config: RunnableConfig = {"configurable": {"user_id": user, "thread_id": uuid.uuid4().hex}}
    state = graph.invoke({"messages": [("user", text)]}, config)
    return str(state["messages"][-1].content)


def test_an_agent_remembers_across_conversations(store: PriomemStore) -> None:
    prompts: list[list[BaseMessage]] = []
    graph = build(store, script(), prompts)
    assert converse(graph, "Remember that I like dark mode", "alice") == "Saved: dark mode."
    (item,) = store.search(("memories", "alice"))
    assert item.value == {"fact": "prefers dark mode in every app"}

    assert converse(graph, "Which theme do I like? dark or light mode?", "alice") == "You prefer dark mode."
    assert "- prefers dark mode in every app" in str(prompts[-1][0].content)
    assert store.list_namespaces(prefix=("memories",)) == [("memories", "alice")]


async def test_the_async_graph_uses_the_async_store(store: PriomemStore) -> None:
    prompts: list[list[BaseMessage]] = []
    graph = build(store, script(), prompts)
    config: RunnableConfig = {"configurable": {"user_id": "bob", "thread_id": "t1"}}
    await graph.ainvoke({"messages": [("user", "Remember that I like dark mode")]}, config)
    assert await store.aget(
        ("memories", "bob"), uuid.uuid5(uuid.NAMESPACE_URL, "prefers dark mode in every app").hex
    )
    config = {"configurable": {"user_id": "bob", "thread_id": "t2"}}
    state = await graph.ainvoke({"messages": [("user", "dark or light mode?")]}, config)
    assert state["messages"][-1].content == "You prefer dark mode."
    assert "dark mode" in str(prompts[-1][0].content)


@pytest.fixture(scope="module")
def real_store(chroma_server: str, real_embedder: SentenceTransformerEmbedder) -> Iterator[PriomemStore]:
    """A store on the real model and a real `chroma run` server, under a prefix of its own."""
    with MemoryEngine(url=chroma_server, embedder=real_embedder, settings=Settings()) as engine:
        yield PriomemStore(engine=engine, prefix=f"agent{uuid.uuid4().hex[:8]}")


@pytest.mark.integration
def test_semantic_search_on_the_real_stack(real_store: PriomemStore) -> None:
    facts = {
        "theme": "prefers dark mode in every app",
        "food": "is vegetarian and loves spicy Thai curries",
        "work": "works night shifts at the hospital",
        "pet": "has a grey cat called Miso",
    }
    for key, fact in facts.items():
        real_store.put(("memories", "carol"), key, {"fact": fact})
    assert (
        real_store.search(("memories", "carol"), query="what should I cook for dinner?", limit=1)[0].key
        == "food"
    )
    assert real_store.search(("memories", "carol"), query="animals at home", limit=1)[0].key == "pet"
    assert real_store.get(("memories", "carol"), "work").value == {"fact": facts["work"]}  # type: ignore[union-attr]
    graph_prompts: list[list[BaseMessage]] = []
    graph = build(real_store, script()[2:], graph_prompts)
    assert converse(graph, "Which colour scheme should my editor use?", "carol") == "You prefer dark mode."
    assert "- prefers dark mode in every app" in str(graph_prompts[0][0].content).split("\n")[1]
