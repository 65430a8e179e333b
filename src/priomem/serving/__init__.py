"""What both of priomem's servers share: who may call, where they may listen, and the
engine they serve.

``priomem.mcp_server`` (MCP over stdio and HTTP) and ``priomem.ui`` (the memory browser)
both import this package; neither imports the other, except where the MCP server mounts
the browser (``priomem.mcp_server._http``). This package imports only the engine
(``priomem``) and, for the header limits, uvicorn and h11 (``_limits``, imported by name).

- :mod:`~priomem.serving._auth`: bearer tokens, :class:`Grant`, the ASGI middleware.
- :mod:`~priomem.serving._net`: loopback checks, ``Host`` names, binding a port.
- :mod:`~priomem.serving._holder`: :class:`EngineHolder`, the engine opened in the background.
- :mod:`~priomem.serving._limits`: header size and time limits for uvicorn.
"""

from __future__ import annotations

from priomem.serving._auth import (
    SCOPE_KEY,
    BearerAuth,
    Grant,
    bearer_grant,
    digest,
    grant_of_request,
    load_tokens,
    token_grant,
)
from priomem.serving._holder import EngineHolder, Opener
from priomem.serving._net import (
    LOOPBACK_NAMES,
    WILDCARDS,
    bind,
    host_name,
    is_loopback,
    refuse_open_bind,
    url_host,
)

__all__ = [
    "LOOPBACK_NAMES",
    "SCOPE_KEY",
    "WILDCARDS",
    "BearerAuth",
    "EngineHolder",
    "Grant",
    "Opener",
    "bearer_grant",
    "bind",
    "digest",
    "grant_of_request",
    "host_name",
    "is_loopback",
    "load_tokens",
    "refuse_open_bind",
    "token_grant",
    "url_host",
]
