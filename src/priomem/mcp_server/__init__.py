"""priomem's MCP server: ``remember``, ``recall`` and ``forget`` for every MCP client.

Run it with ``priomem-mcp`` (stdio) or ``priomem-mcp --transport http`` (streamable HTTP
at ``/mcp``); see the README, "Use with MCP clients". In Python, serve an engine you already have::

    import anyio
    from priomem.mcp_server import EngineHolder, build_server, serve_stdio
    server = build_server(EngineHolder.of(engine))   # the SDK's low-level Server
    anyio.run(serve_stdio, server)                   # stdio; or server.streamable_http_app()

Importing this package is cheap: the MCP SDK, chromadb and the embedding model load only
when a name below is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from priomem._lazy import lazy_exports

if TYPE_CHECKING:
    from priomem.mcp_server.__main__ import main
    from priomem.mcp_server._config import ServerConfig, parse_config
    from priomem.mcp_server._http import build_http_app
    from priomem.mcp_server._server import ToolRunner, build_server, serve_stdio
    from priomem.serving import EngineHolder, Grant, load_tokens

__all__ = [
    "EngineHolder",
    "Grant",
    "ServerConfig",
    "ToolRunner",
    "build_http_app",
    "build_server",
    "load_tokens",
    "main",
    "parse_config",
    "serve_stdio",
]

_WHERE = {
    "EngineHolder": "priomem.serving",
    "Grant": "priomem.serving",
    "ServerConfig": "_config",
    "ToolRunner": "_server",
    "build_http_app": "_http",
    "build_server": "_server",
    "load_tokens": "priomem.serving",
    "main": "__main__",
    "parse_config": "_config",
    "serve_stdio": "_server",
}


# EngineHolder, Grant and load_tokens live in priomem.serving (shared with the browser).
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
