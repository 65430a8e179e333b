"""The snippets of the README's LangChain section run as written."""

from __future__ import annotations

import ast
import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, ToolMessage
from langgraph.graph import START, MessagesState, StateGraph

from priomem import HashEmbedder, Priority

README = Path(__file__).resolve().parents[2] / "README.md"


class ToolCallingFake(GenericFakeChatModel):
    """The scripted fake, accepting ``bind_tools`` the way a real chat model does."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> ToolCallingFake:  # type: ignore[override]
        return self


class Encoding:
    """Stands in for a tokenizer such as tiktoken's."""

    def encode(self, text: str) -> list[str]:
        return text.split()


def section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## LangChain and LangGraph")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def snippets() -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", section(), flags=re.S)
    assert len(blocks) == 4, "one snippet per surface: retriever, memory, tools, store"
    return blocks


def test_each_snippet_is_about_ten_lines() -> None:
    for block in snippets():
        assert 5 <= len(block.strip().splitlines()) <= 14


def test_the_snippets_run_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    builder = StateGraph(MessagesState)
    builder.add_node("noop", lambda state: {"messages": []})
    builder.add_edge(START, "noop")
    call = {"id": "c1", "name": "remember", "args": {"content": "I prefer metric units.", "priority": "high"}}
    namespace: dict[str, Any] = {
        "_embedder": HashEmbedder(64),
        "encoding": Encoding(),
        "chat_model": ToolCallingFake(messages=iter([AIMessage("", tool_calls=[call])])),
        "builder": builder,
    }
    code = "\n".join(snippets())
    # The first snippet opens ./memory with the default model; the fast embedder stands in.
    code = code.replace('MemoryEngine("./memory")', 'MemoryEngine("./memory", embedder=_embedder)', 1)
    compiled = compile(code, str(README), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)

    async def run() -> None:
        result = eval(compiled, namespace)
        if asyncio.iscoroutine(result):
            await result

    asyncio.run(run())
    engine = namespace["engine"]
    try:
        assert isinstance(namespace["result"], ToolMessage)
        (kept,) = engine.list(namespace="user:alice")
        assert (
            kept.content == "I prefer metric units." and kept.priority is Priority.HIGH
        )  # clear() ran before
        assert namespace["store"].get(("users", "alice"), "prefs").value == {
            "theme": "dark",
            "units": "metric",
        }
        assert namespace["graph"] is not None
    finally:
        engine.close()
