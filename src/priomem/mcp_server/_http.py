"""Streamable HTTP: the ASGI app at ``/mcp`` with its guards, and serving it with uvicorn.

Guards, outermost first: bearer tokens (:class:`~priomem.serving.BearerAuth`,
when tokens are configured); the SDK's request-body limit (413 past
``max_request_bytes``); the SDK's DNS-rebinding protection, always on: the ``Host`` header
must name this server and a browser ``Origin`` must be an allowed one, so a web page
cannot reach a server on the user's machine through a rebound DNS name.
"""

from __future__ import annotations

import logging
import socket
import sys
from typing import Any

from mcp.server import Server
from mcp.server.transport_security import TransportSecuritySettings

from priomem.mcp_server._config import ServerConfig
from priomem.serving import LOOPBACK_NAMES, WILDCARDS, BearerAuth, EngineHolder, is_loopback, url_host

__all__ = ["MCP_PATH", "build_http_app", "security_settings", "serve_http"]

log = logging.getLogger("priomem.mcp")

MCP_PATH = "/mcp"


def security_settings(config: ServerConfig) -> TransportSecuritySettings:
    """Host and Origin allow-lists: loopback names, the bind address, and configured extras."""
    names = list(LOOPBACK_NAMES)
    if not is_loopback(config.host) and config.host not in WILDCARDS:
        names.append(url_host(config.host))
    for extra in config.allowed_hosts:
        names.append(extra)
    # "name:*" admits any port; the bare name admits a Host header without one.
    hosts = [*names, *(f"{name}:*" for name in names if not name.endswith(":*"))]
    origins = [f"{scheme}://{name}:*" for scheme in ("http", "https") for name in LOOPBACK_NAMES]
    origins.extend(config.allowed_origins)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


def build_http_app(server: Server[Any], config: ServerConfig, holder: EngineHolder | None = None) -> Any:
    """The ASGI app serving ``server`` at ``/mcp`` with the guards of the module docstring.

    With ``config.ui`` on and a ``holder``, the memory browser is mounted at ``/ui``; it
    checks the same tokens, Host names and read-only mode itself (and CSRF on actions).
    """
    app: Any = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        max_request_body_size=config.max_request_bytes,
        transport_security=security_settings(config),
        host=config.host,
    )
    if config.ui != "off" and holder is not None:
        from starlette.routing import Mount

        from priomem.ui import build_ui_app

        ui = build_ui_app(
            holder,
            read_only=config.ui == "read-only",
            grants=config.tokens or None,
            allowed_hosts=config.allowed_hosts,
        )
        app.router.routes.append(Mount("/ui", app=ui))
    if config.tokens:
        app = BearerAuth(app, config.tokens, path=MCP_PATH)
    return app


async def serve_http(
    server: Server[Any],
    config: ServerConfig,
    holder: EngineHolder | None = None,
    sock: socket.socket | None = None,
) -> None:
    """Serve until interrupted (uvicorn handles SIGINT and SIGTERM gracefully), on ``sock``
    when given (already bound: see ``priomem.mcp_server._config.bind``)."""
    import uvicorn

    from priomem.serving._limits import uvicorn_limits

    config.check_bind()
    if config.host in WILDCARDS and not config.allowed_hosts:
        log.warning(
            "serving on all interfaces: only requests whose Host header is a loopback name are "
            "accepted until you add the server's name with --allowed-host"
        )
    uv_config = uvicorn.Config(
        build_http_app(server, config, holder),
        host=config.host,
        port=config.port,
        log_level=config.log_level.lower(),
        # uvicorn's own logging config sends access logs to stdout; ours sends all to stderr.
        log_config=None,
        lifespan="on",
        # Header size and header time bounded, whichever parser uvicorn would pick.
        **uvicorn_limits(),
    )
    port = sock.getsockname()[1] if sock is not None else config.port
    host = url_host(config.host)
    # Said whatever the log level: a user who starts a server needs its address.
    sys.stderr.write(f"priomem-mcp: serving MCP at http://{host}:{port}{MCP_PATH}\n")
    if config.ui != "off":
        sys.stderr.write(
            f"priomem-mcp: serving the memory browser at http://{host}:{port}/ui/ ({config.ui})\n"
        )
    sys.stderr.flush()
    await uvicorn.Server(uv_config).serve(sockets=[sock] if sock is not None else None)
