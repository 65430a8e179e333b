"""The keeper: one process per shared store that serves it with ``chroma run`` while servers use it.

Started by :func:`priomem.mcp_server._sharing.attach` as
``python -m priomem.mcp_server._keeper STORE``; see that module for the protocol. The
keeper holds the store's priomem lock (so no other program opens it embedded meanwhile),
runs Chroma on a free 127.0.0.1 port, and stops it when no server holds ``users.lock``
any more. Chroma is started with a parent-death signal on Linux, so even a killed keeper
leaves nothing behind. Before serving, the keeper finishes any rebuild a killed compaction
left half-way (Chroma would serve the half-built state). What the servers delete is made
real on disk by the next embedded use of the store (its close compacts) or by
``priomem purge`` on the stopped store.

Its log (``keeper.log`` beside the share files) holds the keeper's messages and Chroma's
output, bounded: past ``LOG_LIMIT`` bytes it moves to ``keeper.log.1`` (replacing it).
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from logging.handlers import RotatingFileHandler
from pathlib import Path
from types import FrameType
from typing import IO

from priomem.mcp_server._sharing import ShareFiles

log = logging.getLogger("priomem.mcp.keeper")

POLL_SECONDS = 0.25
START_TIMEOUT = 60.0
LOG_LIMIT = 1 << 20


def _pump(stream: IO[bytes]) -> None:
    """Copy Chroma's output into the keeper's (bounded) log, line by line."""
    chroma_log = logging.getLogger("priomem.mcp.keeper.chroma")
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", "replace").rstrip()
        if line:
            chroma_log.info("%s", line)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _chroma_command() -> str:
    beside = Path(sys.executable).parent / "chroma"
    found = str(beside) if beside.exists() else shutil.which("chroma")
    if not found:
        raise RuntimeError("the 'chroma' command (installed with chromadb) is missing; reinstall priomem")
    return found


def _die_with_parent() -> None:  # runs in the child between fork and exec
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _start_chroma(store: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Chroma serving ``store`` on a free loopback port; retried if the port was taken meanwhile."""
    command = _chroma_command()
    last = "no attempt"
    for _attempt in range(3):
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen(
            [command, "run", "--path", str(store), "--host", "127.0.0.1", "--port", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        assert proc.stdout is not None
        threading.Thread(target=_pump, args=(proc.stdout,), daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(url + "/api/v2/heartbeat", timeout=2) as response:
                    if response.status == 200:
                        return proc, url
            except OSError:
                time.sleep(0.05)
        last = f"exit status {proc.poll()}" if proc.poll() is not None else "no answer in time"
        _stop(proc)
    raise RuntimeError(f"chroma run did not start ({last})")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _no_users_left(users_fd: int) -> bool:
    try:
        fcntl.flock(users_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _on_term(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def serve(store: Path) -> int:
    """Run the keeper for ``store`` until no server uses it; the exit status is for the log."""
    from priomem import StoreLockedError
    from priomem._lock import StoreLock  # the one module that knows the store's lock file

    files = ShareFiles(store)
    keeper_fd = os.open(files.keeper, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(keeper_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        log.info("another keeper serves %s", store)
        os.close(keeper_fd)
        return 0
    users_fd = os.open(files.users, os.O_RDWR | os.O_CREAT, 0o600)
    store_lock = StoreLock(store)
    chroma: subprocess.Popen[bytes] | None = None
    served = False
    try:
        try:
            store_lock.acquire()
        except StoreLockedError as exc:
            files.write_info({"error": str(exc), "kind": "locked"})
            return 1
        try:
            _recover(store)
            chroma, url = _start_chroma(store)
        except RuntimeError as exc:
            files.write_info({"error": f"could not serve the store at {store}: {exc}; see {files.log}."})
            return 1
        files.write_info({"url": url, "keeper_pid": os.getpid(), "chroma_pid": chroma.pid})
        served = True
        log.info("serving %s at %s", store, url)
        while True:
            time.sleep(POLL_SECONDS)
            if chroma.poll() is not None:
                log.error("chroma run exited with status %s", chroma.returncode)
                return 1
            if _no_users_left(users_fd):
                log.info("no server uses %s any more; stopping", store)
                return 0
    finally:
        if chroma is not None:
            _stop(chroma)
        if served:
            with contextlib.suppress(FileNotFoundError):
                files.info.unlink()
        store_lock.release()
        # keeper.lock goes before users.lock: a server that was waiting for users.lock
        # must then find no keeper and start a fresh one, not wait for this one's URL.
        os.close(keeper_fd)
        os.close(users_fd)


def _recover(store: Path) -> None:
    from priomem import PriomemError
    from priomem._folders import recover_folder

    try:
        recover_folder(store)
    except PriomemError as exc:
        raise RuntimeError(f"could not recover the store before serving it: {exc}") from exc


class _PrivateLog(RotatingFileHandler):
    """A rotating log whose files, the rotated ones included, only their owner can read."""

    def _open(self) -> io.TextIOWrapper:  # type: ignore[override]
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        return io.TextIOWrapper(io.FileIO(fd, "a"), encoding=self.encoding, line_buffering=False)


def _log_to(path: Path) -> logging.Handler:
    return _PrivateLog(path, maxBytes=LOG_LIMIT, backupCount=1, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m priomem.mcp_server._keeper STORE``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m priomem.mcp_server._keeper STORE\n")
        return 2
    level = os.environ.get("PRIOMEM_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=level if level in logging.getLevelNamesMapping() else "INFO",
        format="%(asctime)s keeper[%(process)d] %(levelname)s %(message)s",
        handlers=[_log_to(ShareFiles(Path(args[0])).log)],
    )
    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGINT, _on_term)
    # A client's terminal hang-up must not stop a store other servers still use.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    return serve(Path(args[0]))


if __name__ == "__main__":
    sys.exit(main())
