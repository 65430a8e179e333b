"""make_memory_tools: the MCP tools' names, arguments and results as LangChain tools."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.messages import ToolMessage
from langchain_core.tools import StructuredTool

from priomem import MemoryEngine, Priority
from priomem.adapters.langchain import make_memory_tools
from priomem.tools import TOOL_SPECS, MemoryTools, tool_schemas


def call(tool: StructuredTool, args: dict[str, Any], call_id: str = "call-1") -> ToolMessage:
    """Invoke ``tool`` the way an agent does: with a model's tool call."""
    message = tool.invoke({"type": "tool_call", "name": tool.name, "args": args, "id": call_id})
    assert isinstance(message, ToolMessage)
    return message


def test_names_descriptions_and_schemas_are_the_shared_definitions(engine: MemoryEngine) -> None:
    tools = make_memory_tools(engine)
    assert [t.name for t in tools] == ["remember", "recall", "forget"]
    shared = {s["name"]: s for s in tool_schemas("json")}
    for tool in tools:
        spec = TOOL_SPECS[tool.name]
        assert tool.description == spec.description
        assert tool.args_schema is spec.args
        schema = tool.tool_call_schema.model_json_schema()  # type: ignore[union-attr]
        assert schema["properties"] == shared[tool.name]["parameters"]["properties"]
        assert schema.get("required", []) == shared[tool.name]["parameters"].get("required", [])
    assert tools[2].metadata == {"read_only": False, "destructive": True, "idempotent": True}


def test_remember_recall_forget_round_trip_through_tool_calls(engine: MemoryEngine) -> None:
    remember, recall, forget = make_memory_tools(engine, namespace="user:alice")
    stored = json.loads(
        call(
            remember, {"content": "Alice's SLA: reports by 09:00", "priority": "CRITICAL", "tags": ["sla"]}
        ).content
    )
    assert stored["namespace"] == "user:alice" and stored["priority"] == "critical"
    assert stored["reinforced"] is False
    assert engine.get(stored["id"], namespace="user:alice") is not None

    again = json.loads(call(remember, {"content": "Alice's SLA: reports by 09:00"}).content)
    assert again["id"] == stored["id"] and again["reinforced"] is True

    found = json.loads(call(recall, {"query": "when are reports due?", "k": 3}).content)
    assert found["namespace"] == "user:alice"
    assert [h["id"] for h in found["hits"]] == [stored["id"]]
    assert found["hits"][0]["priority"] == "critical" and found["hits"][0]["tags"] == ["sla"]

    dry = json.loads(call(forget, {"ids": [stored["id"]], "dry_run": True}).content)
    assert dry == {"namespace": "user:alice", "count": 1, "ids": [stored["id"]], "dry_run": True}
    assert engine.get(stored["id"], namespace="user:alice") is not None
    gone = json.loads(call(forget, {"tags": ["sla"]}).content)
    assert gone["count"] == 1
    assert engine.get(stored["id"], namespace="user:alice") is None


def test_results_are_the_mcp_results(engine: MemoryEngine) -> None:
    """Same arguments, same dict as the shared behaviour the MCP server runs."""
    engine.remember("The warehouse closes at 18:00", priority="high", namespace="ops")
    (_, recall, forget) = make_memory_tools(engine, namespace="ops")
    shared = MemoryTools(engine, namespace="ops")
    args = {"query": "warehouse hours", "k": 2, "max_tokens": 300}
    via_langchain = recall.invoke(args)
    assert via_langchain == shared.dispatch("recall", args)
    assert via_langchain["hits"][0]["content"] == "The warehouse closes at 18:00"
    dry = {"max_priority": "high", "dry_run": True}
    assert forget.invoke(dry) == shared.dispatch("forget", dry)


def test_errors_come_back_to_the_model_as_messages(engine: MemoryEngine) -> None:
    remember, recall, forget = make_memory_tools(engine, allowed_namespaces=["team"])
    refused = call(forget, {})
    assert refused.status == "error"
    assert refused.content == MemoryTools(engine).dispatch("forget", {})["error"]
    assert "nothing was deleted" in refused.content

    other = call(remember, {"content": "x", "namespace": "elsewhere"})
    assert other.status == "error" and "'elsewhere' is not allowed here" in other.content
    assert engine.list(namespace="elsewhere") == []

    unknown = call(recall, {"query": "x", "limit": 3})
    assert unknown.status == "error"
    assert unknown.content.startswith("limit: unknown argument; recall takes query, k,")

    bad_priority = call(remember, {"content": "x", "priority": "urgent"})
    assert bad_priority.status == "error" and bad_priority.content.startswith("priority:")
    assert engine.list(namespace="team") == []

    # with no tool call id, a direct invoke returns the message as the result
    assert "nothing was deleted" in forget.invoke({})


def test_priorities_accept_any_case_and_numbers(engine: MemoryEngine) -> None:
    remember = make_memory_tools(engine)[0]
    assert remember.invoke({"content": "a", "priority": "High"})["priority"] == "high"
    assert remember.invoke({"content": "b", "priority": 4})["priority"] == "critical"
    assert {m.content: m.priority for m in engine.list()} == {"a": Priority.HIGH, "b": Priority.CRITICAL}


async def test_async_tools(engine: MemoryEngine) -> None:
    remember, recall, forget = make_memory_tools(engine, namespace="async")
    stored = await remember.ainvoke({"content": "The VPN certificate expires in March", "ttl": "30d"})
    assert stored["expires_at"] is not None
    found = await recall.ainvoke({"query": "VPN certificate"})
    assert [h["id"] for h in found["hits"]] == [stored["id"]]
    refused = await forget.ainvoke({"type": "tool_call", "name": "forget", "args": {}, "id": "c2"})
    assert refused.status == "error" and "nothing was deleted" in refused.content
    assert (await forget.ainvoke({"ids": [stored["id"]]}))["count"] == 1


@pytest.mark.parametrize("name", list(TOOL_SPECS))
def test_each_tool_is_one_structured_tool_with_sync_and_async(engine: MemoryEngine, name: str) -> None:
    tool = {t.name: t for t in make_memory_tools(engine)}[name]
    assert isinstance(tool, StructuredTool)
    assert tool.func is not None and tool.coroutine is not None
