"""The engine, opened in the background so the server answers before the store and model are ready.

Importing chromadb, opening the store and loading the embedding model take seconds; an
MCP client expects ``initialize`` and ``tools/list`` answers at once. :class:`EngineHolder`
starts two daemon threads when the server starts serving: one opens the engine, the other
loads the embedding model. They overlap: opening mostly waits (for the shared store's
keeper process, on the other core) while the model import keeps this process busy.

A tool call waits, in a worker thread and never on the event loop, until the engine is
open; a call that needs vectors then waits for the model, which the embedder loads once
under its own lock.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from priomem import PriomemError, StoreError

if TYPE_CHECKING:
    from priomem import MemoryEngine

__all__ = ["EngineHolder", "Opener"]

log = logging.getLogger("priomem.mcp")

#: Seconds :meth:`EngineHolder.close` waits for an opening still under way.
CLOSE_WAIT = 15.0

#: Opens the engine; anything it registers on the exit stack is released on close.
Opener = Callable[[contextlib.ExitStack], "MemoryEngine"]


class EngineHolder:
    """Opens a :class:`priomem.MemoryEngine` once, in the background, and hands it out.

    ``warm_up``: loads the embedding model (``SentenceTransformerEmbedder.warm_up``), run
    on its own thread alongside opening. A failure to open is kept and raised to each
    caller (as the :class:`priomem.PriomemError` it was); a :class:`priomem.StoreError`
    (store locked or unreachable) is retried on the next call, as its cause may be gone.
    """

    def __init__(self, opener: Opener, *, warm_up: Callable[[], None] | None = None) -> None:
        self._opener = opener
        self._warm_up = warm_up
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._engine: MemoryEngine | None = None
        self._error: BaseException | None = None
        self._stack = contextlib.ExitStack()
        self._threads: list[threading.Thread] = []
        self._started = False
        self._closing = threading.Event()
        self._close_by = 0.0
        self._owns = True
        self._t0 = time.monotonic()

    @classmethod
    def of(cls, engine: MemoryEngine) -> EngineHolder:
        """A holder for an engine the caller owns (and closes): used by tests and embedders."""
        holder = cls(lambda stack: engine)
        holder._engine = engine
        holder._owns = False
        holder._started = True
        holder._ready.set()
        return holder

    def start(self) -> None:
        """Begin opening (and loading the model) on daemon threads; idempotent."""
        with self._lock:
            if self._started:
                return
            self._started = True
            self._t0 = time.monotonic()
            jobs = [("priomem-open", self._open_in_background)]
            if self._warm_up is not None:
                jobs.append(("priomem-model", self._load_model))
            for name, target in jobs:
                thread = threading.Thread(target=target, name=name, daemon=True)
                self._threads.append(thread)
                thread.start()

    def _open_in_background(self) -> None:
        try:
            engine = self._open()
        except BaseException as exc:  # kept for the callers; never kills the server
            self._error = exc
            log.warning("could not open the memory store: %s", exc)
        else:
            log.info("memory store open at %s after %.2fs", engine.location, time.monotonic() - self._t0)
        finally:
            self._ready.set()

    def _load_model(self) -> None:
        assert self._warm_up is not None
        try:
            self._warm_up()
        except PriomemError as exc:  # the first call that needs vectors reports it
            log.warning("could not load the embedding model: %s", exc)
        else:
            log.info("embedding model loaded after %.2fs", time.monotonic() - self._t0)

    def _open(self) -> MemoryEngine:
        with self._lock:
            if self._closing.is_set():
                raise StoreError("the server is shutting down; try again after it restarts.")
            if self._engine is not None:
                return self._engine
            try:
                engine = self._opener(self._stack)
            except BaseException:
                self._stack.close()
                self._stack = contextlib.ExitStack()
                raise
            if self._closing.is_set():  # closed while opening: release it at once
                engine.close()
                self._stack.close()
                raise StoreError("the server is shutting down; try again after it restarts.")
            self._engine = engine
            self._error = None
            return engine

    def get(self, timeout: float | None = 120.0) -> MemoryEngine:
        """The engine, waiting for it to open; raises the error that stopped it opening."""
        self.start()
        if not self._ready.wait(timeout):
            raise StoreError(
                f"the memory store did not open within {timeout:.0f}s; check the server log (stderr)."
            )
        if self._engine is not None:
            return self._engine
        error = self._error
        if isinstance(error, StoreError):
            return self._open()  # the store may have been released since; try once more
        if isinstance(error, PriomemError):
            raise error
        raise StoreError(f"the memory store could not be opened: {error}; check the server log (stderr).")

    def reopen(self, failed: MemoryEngine) -> bool:
        """Replace ``failed``, an engine whose store stopped answering, with a fresh one.

        For a shared store this attaches anew, so a keeper (or its Chroma) that died is
        replaced by a new one. Returns whether a caller should retry on :meth:`get`'s
        engine: True when it is a new engine (also when another thread reopened first).
        """
        if not self._owns:
            return False
        with self._lock:
            if self._engine is not failed:
                return self._engine is not None
            self._engine = None
            try:
                failed.close(compact=False)  # quick: the store is gone, callers wait
            except Exception as exc:  # the store is gone: closing it may fail too
                log.info("closing the engine that lost its store: %s", exc)
            self._stack.close()
            self._stack = contextlib.ExitStack()
        log.warning("the memory store stopped answering; reconnecting")
        try:
            self._open()
        except PriomemError as exc:
            log.warning("reconnecting to the memory store failed: %s", exc)
            self._error = exc
            return False
        return True

    @property
    def ready(self) -> bool:
        """True once the engine is open."""
        return self._engine is not None

    def close(self, wait: float = CLOSE_WAIT) -> bool:
        """Close the engine (if this holder opened it) and release what opening took.

        An opening still under way is given up to ``wait`` seconds to finish (counted from the
        first call); it then sees the holder closing and closes what it opened. Returns False when it is still under
        way after that: its thread is inside Chroma's native code, and the process should
        end with :func:`os._exit` rather than finalize the interpreter under it (Chroma's
        threads then touch freed memory: exit status -11). Idempotent.
        """
        if not self._closing.is_set():
            self._close_by = time.monotonic() + wait
            self._closing.set()
        if not self._lock.acquire(timeout=max(0.0, self._close_by - time.monotonic())):
            log.warning("the memory store is still opening after %.0fs; not waiting for it", wait)
            return False
        try:
            engine, self._engine = self._engine, None
            if engine is not None and self._owns:
                engine.close()
            self._stack.close()
        finally:
            self._lock.release()
        return True
