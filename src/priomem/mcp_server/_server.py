"""The MCP server: priomem's three tools (:mod:`priomem.tools`) registered on the SDK's ``MCPServer``.

Names, descriptions, argument schemas and result schemas all come from
``priomem.tools.TOOL_SPECS``; behaviour from :class:`priomem.tools.MemoryTools`. This
module only adds what MCP needs: annotations, a namespace policy per caller, and turning
:class:`priomem.PriomemError` into tool errors the model can read.

    >>> server = build_server(EngineHolder.of(engine))              # doctest: +SKIP
    >>> async with mcp.Client(server) as client:                      # doctest: +SKIP
    ...     await client.call_tool("recall", {"query": "ETL deadline"})
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata
from mcp_types import ToolAnnotations
from pydantic import BaseModel, ConfigDict

from priomem import MemoryEngine, PriomemError, StoreError, StoreUnavailableError, __version__
from priomem.serving import EngineHolder, Grant, grant_of_request
from priomem.tools import TOOL_SPECS, MemoryTools, ToolSpec, tool_schemas

__all__ = ["INSTRUCTIONS", "ToolRunner", "build_server", "mcp_tools"]

log = logging.getLogger("priomem.mcp")

INSTRUCTIONS = (
    "Long-term memory that persists across conversations. Call recall before answering anything "
    "that may depend on what the user told you earlier, on decisions or on past events. Call "
    "remember for durable facts, decisions and preferences, choosing the priority by what losing "
    "it would cost (critical, high, medium, low). Call forget when the user asks you to, or when "
    "a memory is wrong; use dry_run first for anything but explicit ids."
)

_TITLES = {"remember": "Remember", "recall": "Recall memories", "forget": "Forget memories"}


class _RawArguments(ArgModelBase):
    """Passes the arguments through as sent: priomem's own models validate them, so every
    client sees the same messages (naming the field) as every other priomem tool user."""

    model_config = ConfigDict(extra="allow", arbitrary_types_allowed=True)

    def model_dump_one_level(self) -> dict[str, Any]:
        return {"arguments": dict(self.model_extra or {})}


def _decode_stringified(spec: ToolSpec, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """Accept lists and objects sent as JSON text ('["etl"]'), as some clients do."""
    fields = spec.args.model_fields
    out = dict(arguments)
    for key, value in arguments.items():
        info = fields.get(key)
        if info is None or info.annotation is str or not isinstance(value, str):
            continue
        if value.strip()[:1] in ("[", "{"):
            try:
                decoded = json.loads(value)
            except ValueError:
                continue
            if isinstance(decoded, list | dict):
                out[key] = decoded
    return out


class ToolRunner:
    """Runs one tool call: picks the caller's namespace policy, waits for the engine, runs.

    ``default``: the policy of callers without a token (stdio, tokenless HTTP).
    ``require_grant``: refuse calls that carry no token grant (HTTP with tokens).
    ``remote``: callers are across a network (HTTP): store failures reach them without
    the server's paths, process ids or Chroma's text (logged instead).
    """

    def __init__(
        self,
        holder: EngineHolder,
        *,
        default: Grant | None = None,
        require_grant: bool = False,
        max_k: int | None = None,
        remote: bool = False,
    ) -> None:
        self.holder = holder
        self.remote = remote
        self.default = default or Grant()
        self.require_grant = require_grant
        self.max_k = max_k
        self._tools: dict[tuple[int, Grant], MemoryTools] = {}
        self._guard = threading.Lock()

    def grant_for(self, ctx: Context[Any, Any] | None) -> Grant:
        """The policy of the caller of this request."""
        request = None
        if ctx is not None:
            try:
                request = ctx.request_context.request
            except ValueError:  # no request context: an in-process call
                request = None
        grant = grant_of_request(request)
        if grant is not None:
            return grant
        if self.require_grant:
            raise ToolError("not authenticated: send 'Authorization: Bearer <token>'.")
        return self.default

    def tools_for(self, engine: MemoryEngine, grant: Grant) -> MemoryTools:
        """The :class:`MemoryTools` of ``grant`` on ``engine`` (built once per grant)."""
        key = (id(engine), grant)
        with self._guard:
            tools = self._tools.get(key)
            if tools is None:
                tools = MemoryTools(
                    engine, namespace=grant.namespace, allowed_namespaces=grant.allowed, max_k=self.max_k
                )
                self._tools[key] = tools
            return tools

    def run(self, name: str, arguments: Mapping[str, Any], grant: Grant) -> BaseModel:
        """Validate, wait for the engine, run (blocking: call it from a worker thread)."""
        spec = TOOL_SPECS[name]
        args = MemoryTools.parse(name, _decode_stringified(spec, arguments))
        engine = self.holder.get()
        handler: Callable[[Any], BaseModel] = getattr(self.tools_for(engine, grant), name)
        try:
            return handler(args)
        except StoreUnavailableError as exc:
            # The store's server is gone (a shared store's keeper killed, say): reconnect,
            # starting a new one, and run the call once more, but only when the request
            # cannot have reached the old server (a refused connection): a timed-out call
            # may have been applied, and is reported rather than repeated.
            if not exc.unsent or not self.holder.reopen(engine):
                raise
            with self._guard:
                self._tools = {k: v for k, v in self._tools.items() if k[0] != id(engine)}
            retry: Callable[[Any], BaseModel] = getattr(self.tools_for(self.holder.get(), grant), name)
            return retry(args)

    async def call(self, name: str, arguments: Mapping[str, Any], ctx: Context[Any, Any] | None) -> BaseModel:
        """Run a call off the event loop; a :class:`priomem.PriomemError` becomes a tool error."""
        grant = self.grant_for(ctx)
        try:
            return await anyio.to_thread.run_sync(self.run, name, arguments, grant)
        except StoreError as exc:
            if not self.remote:
                raise ToolError(exc.message) from None
            # Remote callers learn what failed and what to do, not the server's paths,
            # process ids or Chroma's own text: those go to the server's log.
            log.warning("a tool call failed: %s", exc.message)
            raise ToolError(
                f"the memory store failed ({type(exc).__name__}); try again later, or ask the "
                "server's operator (its log has the details)."
            ) from None
        except PriomemError as exc:
            # Raised on purpose so the SDK shows the model our message (it hides other errors' text).
            raise ToolError(exc.message) from None


def _annotations(spec: ToolSpec) -> ToolAnnotations:
    # All four hints are set explicitly: the spec's defaults (destructive, open world) are
    # wrong for remember, which only adds or reinforces memories.
    return ToolAnnotations(
        title=_TITLES.get(spec.name),
        read_only_hint=spec.read_only,
        destructive_hint=spec.destructive,
        idempotent_hint=spec.idempotent,
        open_world_hint=False,
    )


def _make_handler(runner: ToolRunner, name: str) -> Callable[..., Any]:
    async def handler(ctx: Context[Any, Any], arguments: dict[str, Any]) -> BaseModel:
        return await runner.call(name, arguments, ctx)

    handler.__name__ = name
    return handler


def mcp_tools(runner: ToolRunner) -> list[Tool]:
    """The three tools as SDK ``Tool`` objects, schemas straight from ``priomem.tools``.

    Built directly rather than with ``@server.tool()``: the decorator derives the input
    schema from a Python signature, which would be a second definition of the arguments.
    """
    schemas = {entry["name"]: entry for entry in tool_schemas("json", max_k=runner.max_k)}
    tools = []
    for spec in TOOL_SPECS.values():
        tools.append(
            Tool(
                fn=_make_handler(runner, spec.name),
                name=spec.name,
                title=_TITLES.get(spec.name),
                description=spec.description,
                parameters=schemas[spec.name]["parameters"],
                fn_metadata=FuncMetadata(arg_model=_RawArguments, output_model=spec.result),
                is_async=True,
                context_kwarg="ctx",
                annotations=_annotations(spec),
            )
        )
    return tools


def build_server(
    holder: EngineHolder,
    *,
    default: Grant | None = None,
    require_grant: bool = False,
    max_k: int | None = None,
    log_level: Any = "WARNING",
    remote: bool = False,
) -> MCPServer[Any]:
    """An ``MCPServer`` with remember, recall and forget on the engine of ``holder``.

    The holder starts opening the engine when the server starts serving, and is closed
    when it stops. ``default``, ``require_grant``, ``max_k`` and ``remote``: see
    :class:`ToolRunner`.
    """
    runner = ToolRunner(holder, default=default, require_grant=require_grant, max_k=max_k, remote=remote)

    @asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncIterator[dict[str, Any]]:
        holder.start()
        try:
            yield {}
        finally:
            await anyio.to_thread.run_sync(holder.close)

    return MCPServer(
        name="priomem",
        title="priomem memory",
        version=__version__,
        instructions=INSTRUCTIONS,
        tools=mcp_tools(runner),
        lifespan=lifespan,
        log_level=log_level,
    )
