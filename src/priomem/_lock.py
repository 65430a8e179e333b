"""An inter-process lock file: one process at a time owns an embedded store."""

from __future__ import annotations

import os
from pathlib import Path

from priomem._errors import StoreLockedError

__all__ = ["StoreLock"]

LOCK_NAME = "priomem.lock"


class StoreLock:
    """An exclusive, non-blocking ``flock`` on ``<store>/priomem.lock``.

    The operating system releases it when the process dies, so a crash never leaves a
    stale lock behind. The file holds the owner's pid, for the error message.
    """

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                owner = os.read(fd, 32).decode("ascii", "replace").strip() or "another process"
            finally:
                os.close(fd)
            raise StoreLockedError(
                f"the store at {self.path.parent} is in use by process {owner}. An embedded store "
                "serves one process at a time; to share it, run a Chroma server on it "
                f"('chroma run --path {self.path.parent} --port 8000') and pass --url "
                "http://127.0.0.1:8000 (PRIOMEM_URL) to every process."
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode("ascii"))
        self._fd = fd

    def fileno(self) -> int | None:
        """The locked file's descriptor (a child process given it holds the lock too)."""
        return self._fd

    def release(self) -> None:
        if self._fd is not None:
            import fcntl

            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
