"""Serving the memory browser with uvicorn: loopback by default, tokens required beyond it."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Mapping, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

from priomem._extras import require
from priomem.serving import WILDCARDS, Grant, bind, is_loopback, refuse_open_bind, url_host

if TYPE_CHECKING:
    import uvicorn

    from priomem import MemoryEngine
    from priomem.serving import EngineHolder

__all__ = ["DEFAULT_PORT", "bind", "check_bind", "make_server", "run_ui"]

log = logging.getLogger("priomem.ui")

DEFAULT_PORT = 8766


class _Stopped(Exception):
    """Ctrl+C or SIGTERM: uvicorn has shut down gracefully; return to the caller."""


def _stop(signum: int, frame: FrameType | None) -> None:
    # uvicorn re-raises the signal that stopped it once it has shut down; turning it into an
    # exception caught below lets run_ui return, so the caller closes the store in order.
    raise _Stopped


def check_bind(host: str, grants: Mapping[str, Grant] | None) -> None:
    """Refuse to serve beyond loopback without tokens: anyone who could reach it could read
    and delete every memory."""
    refuse_open_bind(
        host,
        grants,
        what="the memory browser ",
        flags="--tokens-file FILE",
        see="See and curate memories in a browser",
    )


def make_server(app: Any, *, log_level: str = "warning") -> uvicorn.Server:
    """A uvicorn server for ``app``, logging to stderr (never stdout)."""
    import uvicorn

    from priomem.serving._limits import uvicorn_limits

    config = uvicorn.Config(
        app,
        log_level=log_level.lower(),
        # uvicorn's own logging config writes access logs to stdout; ours sends all to stderr.
        log_config=None,
        lifespan="off",
        # Header size and header time bounded, whichever parser uvicorn would pick.
        **uvicorn_limits(),
    )
    return uvicorn.Server(config)


def run_ui(
    engine: MemoryEngine | EngineHolder,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    read_only: bool = False,
    grants: Mapping[str, Grant] | None = None,
    allowed_hosts: Sequence[str] = (),
    log_level: str = "warning",
    announce: Callable[[str], None] | None = None,
) -> None:
    """Serve the memory browser until Ctrl+C or SIGTERM, then return (the caller closes the engine).

    Loopback only unless ``grants`` (bearer tokens, see
    :func:`priomem.serving.load_tokens`) are given. ``announce`` is called with the URL
    once the port is bound (the CLI prints it).

        >>> with MemoryEngine("./memory") as engine:              # doctest: +SKIP
        ...     run_ui(engine, port=8766, read_only=True)
    """
    # Checked before binding, so a missing extra fails fast, naming it.
    require("ui", "starlette", "uvicorn", what="the memory browser")
    from priomem.ui._app import build_ui_app

    check_bind(host, grants)
    if host in WILDCARDS and not allowed_hosts:
        log.warning(
            "serving on all interfaces: only requests whose Host header is a loopback name are accepted "
            "until you allow the server's name (allowed_hosts / --allowed-host)"
        )
    extra = list(allowed_hosts)
    if host not in WILDCARDS and not is_loopback(host):
        extra.append(url_host(host))
    sock = bind(host, port)
    try:
        app = build_ui_app(engine, read_only=read_only, grants=grants, allowed_hosts=extra)
        server = make_server(app, log_level=log_level)
        real_port = sock.getsockname()[1]
        shown = "127.0.0.1" if host in WILDCARDS else url_host(host)
        address = f"http://{shown}:{real_port}/"
        log.info("serving the memory browser at %s%s", address, " (read-only)" if read_only else "")
        if announce is not None:
            announce(address)
        previous = {}
        if threading.current_thread() is threading.main_thread():
            previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            server.run(sockets=[sock])
        except _Stopped:
            log.info("the memory browser stopped")
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    finally:
        sock.close()
