"""The MCP server: priomem's three tools (:mod:`priomem.tools`) on the SDK's low-level ``Server``.

Names, descriptions, argument schemas and result schemas all come from
``priomem.tools.TOOL_SPECS``; behaviour from :class:`priomem.tools.MemoryTools`. The
low-level ``Server`` is the SDK's public way to serve schemas of one's own (``MCPServer``
would derive them from Python signatures, a second definition of the arguments). This
module adds what MCP needs: annotations, a namespace policy per caller, results as
structured content plus its JSON text, and :class:`priomem.PriomemError` turned into
tool errors the model can read.

    >>> server = build_server(EngineHolder.of(engine))              # doctest: +SKIP
    >>> async with mcp.Client(server) as client:                      # doctest: +SKIP
    ...     await client.call_tool("recall", {"query": "ETL deadline"})
    >>> anyio.run(serve_stdio, server)                                # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
import mcp_types as types
import pydantic_core
from mcp.server import Server, ServerRequestContext
from mcp.server.stdio import stdio_server
from pydantic import BaseModel

from priomem import MemoryEngine, PriomemError, StoreError, StoreUnavailableError, __version__
from priomem.serving import EngineHolder, Grant, grant_of_request
from priomem.tools import TOOL_SPECS, MemoryTools, ToolSpec, tool_schemas

__all__ = ["INSTRUCTIONS", "ToolError", "ToolRunner", "build_server", "mcp_tools", "serve_stdio"]

log = logging.getLogger("priomem.mcp")

INSTRUCTIONS = (
    "Long-term memory that persists across conversations. Call recall before answering anything "
    "that may depend on what the user told you earlier, on decisions or on past events. Call "
    "remember for durable facts, decisions and preferences, choosing the priority by what losing "
    "it would cost (critical, high, medium, low). Call forget when the user asks you to, or when "
    "a memory is wrong; use dry_run first for anything but explicit ids."
)

_TITLES = {"remember": "Remember", "recall": "Recall memories", "forget": "Forget memories"}


class ToolError(Exception):
    """A call that failed in a way the model should read: its text is the tool error's."""


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

    def grant_for(self, ctx: ServerRequestContext[Any, Any] | None) -> Grant:
        """The policy of the caller of this request (its HTTP request's token, if any)."""
        grant = grant_of_request(ctx.request if ctx is not None else None)
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
        args = MemoryTools.parse(name, _decode_stringified(spec, arguments), max_k=self.max_k)
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

    async def call(
        self, name: str, arguments: Mapping[str, Any], ctx: ServerRequestContext[Any, Any] | None
    ) -> BaseModel:
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


def _annotations(spec: ToolSpec) -> types.ToolAnnotations:
    # All four hints are set explicitly: the spec's defaults (destructive, open world) are
    # wrong for remember, which only adds or reinforces memories.
    return types.ToolAnnotations(
        title=_TITLES.get(spec.name),
        read_only_hint=spec.read_only,
        destructive_hint=spec.destructive,
        idempotent_hint=spec.idempotent,
        open_world_hint=False,
    )


def mcp_tools(max_k: int | None = None) -> list[types.Tool]:
    """The three tools as MCP ``Tool`` definitions, schemas straight from ``priomem.tools``."""
    schemas = {entry["name"]: entry for entry in tool_schemas("json", max_k=max_k)}
    return [
        types.Tool(
            name=spec.name,
            title=_TITLES.get(spec.name),
            description=spec.description,
            input_schema=schemas[spec.name]["parameters"],
            output_schema=spec.result.model_json_schema(),
            annotations=_annotations(spec),
        )
        for spec in TOOL_SPECS.values()
    ]


def _result(result: BaseModel) -> types.CallToolResult:
    """Structured content, and the same as indented JSON text for clients that show text."""
    text = pydantic_core.to_json(result, fallback=str, indent=2).decode()
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)],
        structured_content=result.model_dump(mode="json", by_alias=True),
    )


def _error(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=True)


def build_server(
    holder: EngineHolder,
    *,
    default: Grant | None = None,
    require_grant: bool = False,
    max_k: int | None = None,
    remote: bool = False,
    log_level: Any = None,
) -> Server[Any]:
    """An MCP ``Server`` with remember, recall and forget on the engine of ``holder``.

    The holder starts opening the engine when the server starts serving, and is closed
    when it stops. ``default``, ``require_grant``, ``max_k`` and ``remote``: see
    :class:`ToolRunner`. Serve it with :func:`serve_stdio`, with its
    ``streamable_http_app()`` (see ``priomem.mcp_server._http``), or in-process with
    ``mcp.Client(server)``. ``log_level`` is accepted for callers of earlier versions and
    not used: logging is the application's to configure (``priomem-mcp`` logs to stderr).

    Since 0.1 on ``MCPServer`` this returns the SDK's low-level ``Server``: what was
    ``server.run()`` is ``anyio.run(serve_stdio, server)``.
    """
    del log_level
    runner = ToolRunner(holder, default=default, require_grant=require_grant, max_k=max_k, remote=remote)
    tools = mcp_tools(max_k)
    schemas = {tool.name: tool.input_schema for tool in tools}

    @asynccontextmanager
    async def lifespan(_: Server[Any]) -> AsyncIterator[dict[str, Any]]:
        holder.start()
        try:
            yield {}
        finally:
            await anyio.to_thread.run_sync(holder.close)

    async def list_tools(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    # No resources or prompts, said as empty lists (clients such as the Inspector ask).
    async def list_resources(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        return types.ListResourcesResult(resources=[])

    async def list_resource_templates(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(resource_templates=[])

    async def list_prompts(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        return types.ListPromptsResult(prompts=[])

    async def call_tool(
        ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        name = params.name
        if name not in TOOL_SPECS:
            return _error(f"Unknown tool: {name}")
        try:
            return _result(await runner.call(name, params.arguments or {}, ctx))
        except ToolError as exc:
            log.info("tool %r failed: %r", name, str(exc))
            return _error(f"Error executing tool {name}: {exc}")
        except Exception:
            # A crash: its text stays in the server's log, not with the caller.
            log.exception("tool %r raised an unexpected exception", name)
            return _error(f"Error executing tool {name}")

    return Server(
        "priomem",
        version=__version__,
        title="priomem memory",
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        get_tool_input_schema=schemas.get,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_resource_templates,
        on_list_prompts=list_prompts,
    )


async def serve_stdio(server: Server[Any]) -> None:
    """Serve ``server`` on this process's stdin and stdout until the client closes them."""
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())
