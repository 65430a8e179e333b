"""``make_memory_tools``: remember, recall and forget as LangChain ``StructuredTool`` s.

The tools are built from :data:`priomem.tools.TOOL_SPECS` and run
:class:`priomem.tools.MemoryTools`, the definitions the MCP server uses too, so a model
sees the same names, arguments and results on both surfaces.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from langchain_core.tools import StructuredTool, ToolException
from pydantic import ValidationError

from priomem import MemoryEngine, PriomemError
from priomem.tools import TOOL_SPECS, MemoryTools, ToolSpec, validation_error

__all__ = ["make_memory_tools"]


def _runner(tools: MemoryTools, name: str) -> Callable[..., dict[str, Any]]:
    def run(**arguments: Any) -> dict[str, Any]:
        try:
            return tools.run(name, arguments).model_dump(mode="json")
        except PriomemError as exc:
            raise ToolException(exc.message) from exc

    return run


def _arunner(tools: MemoryTools, name: str) -> Callable[..., Awaitable[dict[str, Any]]]:
    async def arun(**arguments: Any) -> dict[str, Any]:
        try:
            return (await tools.arun(name, arguments)).model_dump(mode="json")
        except PriomemError as exc:
            raise ToolException(exc.message) from exc

    return arun


def _validation_message(name: str) -> Callable[[Any], str]:
    def message(exc: Any) -> str:
        if isinstance(exc, ValidationError):
            return validation_error(exc, name).message
        return str(exc)

    return message


def _tool(tools: MemoryTools, spec: ToolSpec) -> StructuredTool:
    return StructuredTool(
        name=spec.name,
        description=spec.description,
        args_schema=spec.args,
        func=_runner(tools, spec.name),
        coroutine=_arunner(tools, spec.name),
        handle_tool_error=True,
        handle_validation_error=_validation_message(spec.name),
        metadata={
            "read_only": spec.read_only,
            "destructive": spec.destructive,
            "idempotent": spec.idempotent,
        },
    )


def make_memory_tools(
    engine: MemoryEngine,
    *,
    namespace: str | None = None,
    allowed_namespaces: Iterable[str] | None = None,
) -> list[StructuredTool]:
    """The ``remember``, ``recall`` and ``forget`` tools on ``engine``, in that order.

    ``namespace``: where calls that name no namespace go (default: the engine's).
    ``allowed_namespaces``: when given, the only namespaces the model may name.
    Each tool returns the same JSON-ready dict the MCP tool does; a refused call (bad
    arguments, a namespace not allowed) comes back to the model as the error message
    instead of raising::

        tools = make_memory_tools(engine, namespace="user:alice")
        model = chat_model.bind_tools(tools)
        tools[1].invoke({"query": "deadlines", "k": 3})   # {'namespace': ..., 'hits': [...]}
    """
    behaviour = MemoryTools(engine, namespace=namespace, allowed_namespaces=allowed_namespaces)
    return [_tool(behaviour, spec) for spec in TOOL_SPECS.values()]
