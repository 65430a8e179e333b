"""priomem's three tools for an assistant that does its own function calling (no MCP).

``tool_schemas("openai")`` or ``tool_schemas("anthropic")`` gives the definitions to send
with a chat request; ``MemoryTools.dispatch(name, arguments)`` runs each call the model
makes and returns the JSON to send back. Here the "model" is a script of the calls a model
would make, so the example runs offline in a second:

    python examples/function_calling.py
"""

from __future__ import annotations

import json
import tempfile

from priomem import HashEmbedder, MemoryEngine, Settings
from priomem.tools import MemoryTools, tool_schemas

# What a model would send back: tool name and JSON-encoded arguments (OpenAI style).
SCRIPTED_CALLS = [
    (
        "remember",
        '{"content": "The nightly ETL must finish by 06:00 UTC", "priority": "critical", "tags": ["etl"]}',
    ),
    (
        "remember",
        '{"content": "Debug: orders cache missed twice on Monday", "priority": "low", "tags": ["etl"]}',
    ),
    ("recall", '{"query": "When must the nightly ETL finish?", "k": 1}'),
    ("forget", '{"tags": ["etl"], "max_priority": "low", "dry_run": true}'),
    ("remember", '{"content": ""}'),  # a bad call: the error goes back to the model, nothing raises
]


def main() -> None:
    openai_tools = tool_schemas("openai")  # pass as tools=... to chat.completions.create
    anthropic_tools = tool_schemas("anthropic")  # pass as tools=... to messages.create
    print("OpenAI tools:   ", [t["function"]["name"] for t in openai_tools])
    print("Anthropic tools:", [t["name"] for t in anthropic_tools])

    # The hash embedder keeps the example instant and offline; drop it for the real model.
    with (
        tempfile.TemporaryDirectory() as folder,
        MemoryEngine(folder, embedder=HashEmbedder(384), settings=Settings()) as engine,
    ):
        tools = MemoryTools(engine, namespace="demo-user")
        for name, arguments in SCRIPTED_CALLS:
            result = tools.dispatch(name, arguments)
            # This JSON is what goes back to the model as the tool result.
            print(f"{name}({arguments}) -> {json.dumps(result)}")


if __name__ == "__main__":
    main()
