"""``priomem-mcp`` and ``python -m priomem.mcp_server``: parse the configuration once, then serve.

stdout belongs to the protocol: nothing here writes to it, logs go to stderr, and while
the stdio transport serves, the SDK points file descriptor 1 at stderr so that stray
output from libraries cannot corrupt the JSON-RPC stream.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType

__all__ = ["main"]


def _configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s priomem-mcp %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


class _Terminated(Exception):
    """SIGTERM arrived: shut down in order (close the store) and exit 0."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    # stdio: clients send SIGTERM when they are done; this unwinds the event loop so the
    # store is closed. HTTP: uvicorn shuts down gracefully first, then re-raises the signal
    # into this handler, which turns it into a clean exit instead of death by signal.
    raise _Terminated


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server; returns the exit status (2 for a configuration error)."""
    from priomem import PriomemError
    from priomem.mcp_server._config import parse_config

    try:
        config = parse_config(argv)
        config.check_bind()
    except PriomemError as exc:
        sys.stderr.write(f"priomem-mcp: error: {exc}\n")
        return 2
    try:
        from priomem._extras import require

        require("mcp", "mcp", "anyio", "uvicorn", "starlette", what="priomem-mcp")
    except ImportError as exc:
        sys.stderr.write(f"priomem-mcp: error: {exc}\n")
        return 2
    _configure_logging(config.log_level)
    sock = None
    if config.transport != "stdio":
        from priomem.serving import bind

        try:  # before anything starts: a taken port is a clear error, and no keeper is left behind
            sock = bind(config.host, config.port)
        except PriomemError as exc:
            sys.stderr.write(f"priomem-mcp: error: {exc}\n")
            return 2
    from priomem.mcp_server._open import embedder_for, engine_opener, start_sharing

    # The shared store's keeper starts now, in parallel with loading the SDK below.
    pending = start_sharing(config)
    # The SDK loads only now, so --help and configuration errors answer quickly.
    import anyio

    from priomem.mcp_server._http import serve_http
    from priomem.mcp_server._server import build_server, serve_stdio
    from priomem.serving import EngineHolder, Grant

    embedder = embedder_for(config.settings)
    holder = EngineHolder(
        engine_opener(config, embedder, pending), warm_up=getattr(embedder, "warm_up", None)
    )
    local = Grant(
        namespace=config.namespace,
        allowed=frozenset({config.namespace}) if config.lock_namespace else None,
        label="local",
    )
    server = build_server(
        holder,
        default=local,
        require_grant=config.require_tokens,
        max_k=config.max_k,
        remote=config.transport != "stdio",
    )
    signal.signal(signal.SIGTERM, _terminate)
    status = 0
    try:
        if config.transport == "stdio":
            anyio.run(serve_stdio, server)
        else:
            anyio.run(serve_http, server, config, holder, sock)
    except _Terminated:
        status = 0
    except KeyboardInterrupt:
        status = 130
    finally:
        if not holder.close():
            # A thread is still inside Chroma opening the store: finalizing the interpreter
            # under it crashes. Everything acknowledged is on disk (the store survives a
            # kill at any instant), so end here; the process exit releases the store's locks.
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)
    return status


if __name__ == "__main__":
    sys.exit(main())
