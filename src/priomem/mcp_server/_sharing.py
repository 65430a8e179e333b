"""Sharing one embedded store between several server processes, safely.

MCP clients each spawn their own stdio server, so two desktop apps on one machine mean two
processes on the same store. An embedded Chroma store must only ever be opened by one
process (two writers corrupt it), so servers never open it directly when sharing is on.
Instead the first one starts a *keeper* process (:mod:`priomem.mcp_server._keeper`) that
takes the store's lock and serves it with ``chroma run`` on a free 127.0.0.1 port; every
server, first and later, connects to that URL.

Coordination uses ``flock`` on files in ``<store>/mcp-share/``, so a crashed process never
leaves a stale lock:

``users.lock``
    every attached server holds a shared lock for as long as it uses the store; the keeper
    polls for an exclusive lock, and getting it means nobody is left, so it stops Chroma
    and exits. Nothing outlives the last server.
``start.lock``
    held while checking for a keeper and starting one, so only one is ever started.
``keeper.lock``
    held by the live keeper for its whole life.
``server.json``
    written by the keeper once Chroma answers: ``{"url": ...}``, or ``{"error": ...}``
    when the store is locked by another program.

A server takes ``users.lock`` *before* looking for a keeper, so a keeper that is shutting
down (holding it exclusively) finishes first and the newcomer then starts a fresh one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from priomem import StoreError, StoreLockedError, StoreUnavailableError

if sys.platform != "win32":  # flock is POSIX; on Windows the server opens stores directly
    import fcntl

#: Whether this platform can share a store (the default of ``--share``).
SHARING_SUPPORTED = sys.platform != "win32"

__all__ = ["SHARING_SUPPORTED", "Lease", "PendingLease", "ShareFiles", "attach", "keeper_alive"]

log = logging.getLogger("priomem.mcp")

SHARE_DIR = "mcp-share"


@dataclass(frozen=True)
class ShareFiles:
    """The coordination files of one store."""

    store: Path

    @property
    def folder(self) -> Path:
        return self.store / SHARE_DIR

    @property
    def users(self) -> Path:
        return self.folder / "users.lock"

    @property
    def start(self) -> Path:
        return self.folder / "start.lock"

    @property
    def keeper(self) -> Path:
        return self.folder / "keeper.lock"

    @property
    def info(self) -> Path:
        return self.folder / "server.json"

    @property
    def log(self) -> Path:
        return self.folder / "keeper.log"

    def read_info(self) -> dict[str, Any] | None:
        """The keeper's ``server.json``, or None while it is not (completely) written."""
        try:
            data = json.loads(self.info.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def write_info(self, data: dict[str, Any]) -> None:
        """Write ``server.json`` atomically, so a reader never sees half of it."""
        tmp = self.info.with_name(f"server.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, self.info)


@dataclass
class Lease:
    """One server's use of a shared store: the URL to connect to, until :meth:`release`."""

    url: str
    _fd: int | None = field(default=None, repr=False)
    keeper: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def release(self) -> None:
        """Stop using the store; the keeper stops Chroma when the last lease is released."""
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the shared flock
            self._fd = None
        if self.keeper is not None:
            self.keeper.poll()  # reap it if it has already finished


def _open_lock_file(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)


def _flock(path: Path, mode: int, timeout: float, waiting_for: str) -> int:
    """An open descriptor holding ``mode`` on ``path``, waiting up to ``timeout`` seconds."""
    fd = _open_lock_file(path)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise StoreUnavailableError(
                    f"gave up after {timeout:.0f}s waiting for {waiting_for} ({path}); "
                    "check for a stuck priomem-mcp process."
                ) from None
            time.sleep(0.05)


def keeper_alive(files: ShareFiles) -> bool:
    """True while a keeper process holds ``keeper.lock``."""
    if not files.keeper.exists():
        return False
    fd = _open_lock_file(files.keeper)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def _spawn_keeper(files: ShareFiles) -> subprocess.Popen[bytes]:
    # The keeper writes its own log (bounded, see _keeper); its output streams go nowhere.
    return subprocess.Popen(
        [sys.executable, "-m", "priomem.mcp_server._keeper", str(files.store)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # Its own session: a client killing our process group must not take the keeper,
        # which other servers may still be using, down with us.
        start_new_session=True,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )


def _wait_for_url(files: ShareFiles, keeper: subprocess.Popen[bytes] | None, deadline: float) -> str:
    while time.monotonic() < deadline:
        info = files.read_info()
        if info is not None and "url" in info:
            return str(info["url"])
        if info is not None and "error" in info:
            message = str(info["error"])
            raise StoreLockedError(message) if info.get("kind") == "locked" else StoreError(message)
        if keeper is not None and keeper.poll() is not None:
            raise StoreError(
                f"the shared store server stopped at start-up (exit status {keeper.returncode}); "
                f"see {files.log}."
            )
        if keeper is None and not keeper_alive(files):
            raise StoreError("the shared store server stopped at start-up; see " + str(files.log))
        time.sleep(0.05)
    raise StoreUnavailableError(f"the shared store server did not start in time; see {files.log}.")


def attach(store: Path, *, timeout: float = 60.0) -> Lease:
    """Use ``store`` through its shared local Chroma server, starting one if none runs.

    Raises :class:`priomem.StoreLockedError` when another program (not a priomem MCP server)
    has the store open embedded, :class:`priomem.StoreError` when the server cannot start.
    """
    if not SHARING_SUPPORTED:
        raise StoreError("sharing a store needs a POSIX system; run priomem-mcp with --no-share.")
    files = ShareFiles(Path(store).expanduser().resolve())
    files.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    deadline = time.monotonic() + timeout
    users = _flock(files.users, fcntl.LOCK_SH, timeout, "a shared store server to stop")
    try:
        start = _flock(files.start, fcntl.LOCK_EX, timeout, "another server starting the store")
        try:
            keeper = None
            if not keeper_alive(files):
                with contextlib.suppress(FileNotFoundError):
                    files.info.unlink()  # left by a keeper that is gone
                log.info("starting the shared store server for %s", files.store)
                keeper = _spawn_keeper(files)
            url = _wait_for_url(files, keeper, deadline)
        finally:
            os.close(start)
    except BaseException:
        os.close(users)
        raise
    log.info("using the shared store server %s for %s", url, files.store)
    return Lease(url=url, _fd=users, keeper=keeper)


@contextlib.contextmanager
def shared(store: Path, *, timeout: float = 60.0) -> Iterator[Lease]:
    """:func:`attach` as a context manager."""
    lease = attach(store, timeout=timeout)
    try:
        yield lease
    finally:
        lease.release()


class PendingLease:
    """:func:`attach` started at once on a daemon thread, so the keeper starts while the
    server is still importing; :meth:`result` waits for it. Only the standard library runs
    on that thread, so nothing can write to the protocol's stdout before it is guarded."""

    def __init__(self, store: Path, *, timeout: float = 60.0) -> None:
        self._lease: Lease | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(store, timeout), name="priomem-share", daemon=True
        )
        self._thread.start()

    def _run(self, store: Path, timeout: float) -> None:
        try:
            self._lease = attach(store, timeout=timeout)
        except BaseException as exc:  # handed to whoever waits for the result
            self._error = exc

    def result(self) -> Lease:
        """The lease, once attached; raises what stopped it."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._lease is not None
        return self._lease
