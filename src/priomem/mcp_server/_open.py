"""Which store the server opens, and with which embedding model.

A Chroma URL (``--url``/``PRIOMEM_URL``) is used as given. An embedded store folder is
shared through a local Chroma server (:mod:`priomem.mcp_server._sharing`) unless sharing
is off, in which case it is opened directly and a second process gets a clear
:class:`priomem.StoreLockedError`.
"""

from __future__ import annotations

import contextlib
import logging

from priomem import Embedder, MemoryEngine, Settings
from priomem.mcp_server._config import ServerConfig
from priomem.mcp_server._sharing import Lease, PendingLease, attach
from priomem.serving import Opener

__all__ = ["embedder_for", "engine_opener", "start_sharing"]

log = logging.getLogger("priomem.mcp")


def embedder_for(settings: Settings) -> Embedder:
    """The embedder ``settings`` name, as the engine would choose it (constructed only: the
    model loads later, on the holder's model thread)."""
    from priomem._engine import default_embedder

    return default_embedder(settings)


def start_sharing(config: ServerConfig) -> PendingLease | None:
    """Start attaching to the shared store now, if this server shares one (see the module docstring)."""
    if config.settings.url or not config.share:
        return None
    return PendingLease(config.settings.resolved_path())


def engine_opener(config: ServerConfig, embedder: Embedder, pending: PendingLease | None = None) -> Opener:
    """A function that opens the engine ``config`` describes (called on the opening thread).

    ``pending``: an attachment already under way (:func:`start_sharing`); it serves the
    first opening, later retries attach afresh.
    """
    settings = config.settings
    first: list[PendingLease] = [pending] if pending is not None else []

    def open_engine(stack: contextlib.ExitStack) -> MemoryEngine:
        if settings.url:
            return stack.enter_context(MemoryEngine(url=settings.url, embedder=embedder, settings=settings))
        folder = settings.resolved_path()
        if not config.share:
            return stack.enter_context(MemoryEngine(folder, embedder=embedder, settings=settings))
        lease: Lease = first.pop().result() if first else attach(folder)
        stack.callback(lease.release)
        # The local server has no authentication; a PRIOMEM_CHROMA_TOKEN is for remote servers.
        local = settings.replace(chroma_token=None, url=lease.url)
        return stack.enter_context(MemoryEngine(url=lease.url, embedder=embedder, settings=local))

    return open_engine
