"""A tool-calling agent that remembers in one conversation and recalls in the next.

The agent gets priomem's ``remember``, ``recall`` and ``forget`` tools (the same tools
the MCP server offers). The chat model is LangChain's scripted fake, so the example runs
offline and always makes the same tool calls; everything else (the tools, the store on
disk, the ranking) is real. With a real model, pass ``model.bind_tools(tools)`` instead.

    python examples/langchain_agent.py
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import BaseTool

from priomem import Embedder, MemoryEngine
from priomem.adapters.langchain import make_memory_tools

SYSTEM = (
    "You have a long-term memory. Recall before answering questions about earlier "
    "conversations; remember facts and preferences worth keeping, with a priority."
)


def run_agent(model: BaseChatModel, tools: Sequence[BaseTool], user_text: str) -> list[BaseMessage]:
    """The classic agent loop: call the model, run the tools it asks for, repeat."""
    by_name = {tool.name: tool for tool in tools}
    messages: list[BaseMessage] = [SystemMessage(SYSTEM), HumanMessage(user_text)]
    while True:
        reply = model.invoke(messages)
        messages.append(reply)
        if not isinstance(reply, AIMessage) or not reply.tool_calls:
            return messages
        for call in reply.tool_calls:
            messages.append(by_name[call["name"]].invoke(call))  # a ToolCall in, a ToolMessage out


def scripted_model() -> GenericFakeChatModel:
    """What a real model would answer in the three turns below, tool calls included."""

    def call(call_id: str, name: str, **args: object) -> dict[str, object]:
        return {"id": call_id, "name": name, "args": args}

    return GenericFakeChatModel(
        messages=iter(
            [
                # conversation 1: two facts worth keeping, at different priorities
                AIMessage(
                    "",
                    tool_calls=[
                        call(
                            "call_1",
                            "remember",
                            content="The nightly ETL must finish by 06:00 UTC (finance SLA).",
                            priority="critical",
                            tags=["etl", "sla"],
                        ),
                        call(
                            "call_2",
                            "remember",
                            content="Alice prefers answers as short bullet points.",
                            priority="high",
                            tags=["prefs"],
                        ),
                    ],
                ),
                AIMessage("Noted: the 06:00 UTC ETL deadline, and bullet points from now on."),
                # conversation 2, another day: recall before answering
                AIMessage(
                    "", tool_calls=[call("call_3", "recall", query="When must the nightly ETL be done?", k=3)]
                ),
                AIMessage("- The nightly ETL must finish by 06:00 UTC (finance SLA)."),
                # still conversation 2: the user withdraws a preference
                AIMessage("", tool_calls=[call("call_4", "forget", tags=["prefs"])]),
                AIMessage("Done: I no longer keep your formatting preference."),
            ]
        )
    )


def show(messages: list[BaseMessage]) -> None:
    """Print a conversation without ids and times, so the output is the same every run."""
    for message in messages:
        if isinstance(message, SystemMessage):
            continue
        if isinstance(message, HumanMessage):
            print(f"  user: {message.content}")
        elif isinstance(message, AIMessage) and message.tool_calls:
            for call in message.tool_calls:
                print(f"  assistant -> {call['name']}({json.dumps(call['args'])})")
        elif isinstance(message, ToolMessage):
            result = json.loads(str(message.content))
            if message.name == "remember":
                print(f"  tool remember: stored as {result['priority']}")
            elif message.name == "recall":
                for hit in result["hits"]:
                    print(f"  tool recall: [{hit['priority']}] {hit['content']}")
            else:
                print(f"  tool forget: {result['count']} memory forgotten")
        else:
            print(f"  assistant: {message.content}")


def main(folder: str, embedder: Embedder | None = None) -> None:
    """Run both conversations on a store in ``folder`` (default embedder: the packaged model)."""
    model = scripted_model()
    with MemoryEngine(folder, embedder=embedder) as engine:
        tools = make_memory_tools(engine, namespace="user:alice")
        print("Conversation 1")
        show(
            run_agent(
                model, tools, "Our nightly ETL must be done by 06:00 UTC. And please keep answers short."
            )
        )

    # Later, in a new process: the same folder, a new engine, a conversation from scratch.
    with MemoryEngine(folder, embedder=embedder) as engine:
        tools = make_memory_tools(engine, namespace="user:alice")
        print("Conversation 2")
        answer = run_agent(model, tools, "When does the ETL have to be finished?")
        show(answer)
        top = json.loads(str(answer[3].content))["hits"][0]
        assert top["priority"] == "critical" and "06:00 UTC" in top["content"], top
        show(run_agent(model, tools, "Forget how I like my answers formatted."))
        left = [m.content for m in engine.list(namespace="user:alice")]
        assert left == ["The nightly ETL must finish by 06:00 UTC (finance SLA)."], left
        print(f"Memories left for user:alice: {len(left)}")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="priomem-example-") as tmp:
        main(tmp)
