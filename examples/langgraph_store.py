"""``PriomemStore`` as the long-term ``store=`` of a LangGraph agent.

The agent saves facts about a user through a tool that writes to the store, and before
every answer searches the store by meaning for what is relevant. Two conversations run
on different threads; the second knows what the first saved. The chat model is
LangChain's scripted fake, so the example runs offline; the graph and store are real.

    python examples/langgraph_store.py
"""

from __future__ import annotations

import tempfile
import uuid
from typing import Annotated, Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import InjectedStore, ToolNode, tools_condition
from langgraph.store.base import BaseStore

from priomem import Embedder, MemoryEngine
from priomem.adapters.langgraph import PriomemStore


@tool
def save_fact(fact: str, config: RunnableConfig, store: Annotated[BaseStore, InjectedStore()]) -> str:
    """Save a fact about the user for later conversations."""
    user = config["configurable"]["user_id"]
    key = uuid.uuid5(uuid.NAMESPACE_URL, fact).hex  # the same fact twice is one item
    store.put(("facts", user), key, {"fact": fact})
    return "saved"


def build_agent(store: BaseStore, model: GenericFakeChatModel, shown: list[str]) -> CompiledStateGraph[Any]:
    """agent -> tools -> agent ... -> end, compiled with ``store=``."""

    def agent(state: MessagesState, config: RunnableConfig, *, store: BaseStore) -> dict[str, Any]:
        user = config["configurable"]["user_id"]
        question = str(state["messages"][-1].content)
        facts = store.search(("facts", user), query=question, limit=2)
        system = "What you know about the user:\n" + "\n".join(f"- {item.value['fact']}" for item in facts)
        shown.append(system)
        return {"messages": [model.invoke([SystemMessage(system), *state["messages"]])]}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", agent)
    builder.add_node("tools", ToolNode([save_fact]))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition)
    builder.add_edge("tools", "agent")
    builder.add_edge("agent", END)
    return builder.compile(store=store)


def scripted_model() -> GenericFakeChatModel:
    """What a real model (bound to ``[save_fact]``) would answer in the two conversations."""
    facts = ["is vegetarian and loves spicy Thai food", "has a grey cat called Miso"]
    return GenericFakeChatModel(
        messages=iter(
            [
                AIMessage(
                    "",
                    tool_calls=[
                        {"id": f"call_{i}", "name": "save_fact", "args": {"fact": fact}}
                        for i, fact in enumerate(facts)
                    ],
                ),
                AIMessage("Got it, I'll remember both."),
                AIMessage("How about a vegetarian green Thai curry, extra spicy?"),
            ]
        )
    )


def converse(graph: CompiledStateGraph[Any], user: str, text: str) -> str:
    config: RunnableConfig = {"configurable": {"user_id": user, "thread_id": uuid.uuid4().hex}}
    print(f"  {user}: {text}")
    answer = str(graph.invoke({"messages": [("user", text)]}, config)["messages"][-1].content)
    print(f"  assistant: {answer}")
    return answer


def main(folder: str, embedder: Embedder | None = None) -> None:
    """Two conversations and a look at the store in ``folder`` (default: the packaged model)."""
    with MemoryEngine(folder, embedder=embedder) as engine:
        store = PriomemStore(engine=engine)
        shown: list[str] = []
        graph = build_agent(store, scripted_model(), shown)

        print("Conversation 1 (thread A)")
        converse(graph, "alice", "I'm vegetarian and I love spicy Thai food. Also, my cat Miso says hi.")
        print("Conversation 2 (thread B)")
        converse(graph, "alice", "What should I cook for dinner tonight? Something with Thai food?")
        print("  the agent was shown:\n    " + shown[-1].replace("\n", "\n    "))
        assert shown[-1].splitlines()[1] == "- is vegetarian and loves spicy Thai food", shown[-1]

        # The store is an ordinary LangGraph store: TTLs, filters, namespaces.
        store.put(("sessions", "alice"), "cart", {"items": 3, "total": 42.5}, ttl=30)  # minutes
        store.put(("sessions", "bob"), "cart", {"items": 0, "total": 0.0}, ttl=30)
        full = store.search(("sessions",), filter={"items": {"$gt": 0}})
        print(f"  non-empty carts: {[(item.namespace[1], item.value) for item in full]}")
        print(f"  namespaces: {store.list_namespaces()}")
        print(f"  priomem namespaces: {engine.namespaces()}")
        assert [item.namespace for item in full] == [("sessions", "alice")]


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="priomem-example-") as tmp:
        main(tmp)
