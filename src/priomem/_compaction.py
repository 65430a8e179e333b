"""What an embedded store does after Chroma has deleted records, so deletion is real on disk.

Chroma deletes a record from its indexes but keeps copies behind: its write-ahead log
(``embeddings_queue`` in ``chroma.sqlite3``) holds every write until each index has
persisted it; SQLite keeps deleted rows in free pages; an HNSW index only marks a deleted
element, its vector stays in ``data_level0.bin``; and ``delete_collection`` leaves the
collection's segment folder on disk (chroma-core/chroma#5520). priomem removes all of
them with Chroma's own tools, never by editing its files:

1. a namespace with deletions is **rebuilt** (``ChromaStore.rebuild``): its live records
   are copied into a fresh collection through the public API and the old collection is
   dropped, so the new index never held a deleted vector;
2. ``chroma vacuum`` (Chroma's CLI, run on the closed folder) purges the log entries the
   indexes have applied and VACUUMs the database, so no page keeps deleted text;
3. segment folders no collection owns any more (the ones ``delete_collection`` left) are
   removed whole. This is the one file operation priomem does in Chroma's folder: Chroma
   never reads those folders again, and the fix it lacks (chroma-core/chroma#7218) does
   the same. The owned set is read from Chroma's ``segments`` table, read-only.

One more copy is not Chroma's doing: its HNSW library allocates its buffers with ``malloc``
and writes them to disk whole, unused bytes included, so an index file can carry whatever
the process heap held before, deleted memories' text among it. :func:`clear_heap_garbage`
asks glibc (``mallopt(M_PERTURB)``) to fill every block it hands out and every block
freed with a constant byte, so those bytes hold no earlier content; the embedded store
turns it on before Chroma starts, and ``chroma vacuum`` runs with ``MALLOC_PERTURB_``.

Each step is safe to interrupt: a rebuild is recovered on the next open (see
``ChromaStore``), VACUUM is transactional, and a half-removed orphan folder is still an
orphan the next compaction removes.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from priomem._errors import StoreError
from priomem._progress import progress_log

__all__ = ["clear_heap_garbage", "remove_orphan_segments", "restrict_permissions", "vacuum"]

log = logging.getLogger("priomem")

DATABASE = "chroma.sqlite3"
_SEGMENT_FOLDER = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
#: Seconds ``chroma vacuum`` may take (it rewrites the whole database).
VACUUM_TIMEOUT = 1800
#: The byte glibc fills allocated blocks with (its complement fills freed ones).
_PERTURB_BYTE = 0x5A
_M_PERTURB = -6
_heap_cleared = False


def clear_heap_garbage() -> bool:
    """Make glibc's ``malloc`` hand out and free only blocks filled with a constant byte.

    Process-wide and idempotent; returns whether it is in force (False where the C library
    is not glibc, e.g. macOS or musl: there index files may still carry heap bytes).
    """
    global _heap_cleared
    if _heap_cleared:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        if not hasattr(libc, "gnu_get_libc_version"):
            return False
        _heap_cleared = bool(libc.mallopt(_M_PERTURB, _PERTURB_BYTE))
        if _heap_cleared:
            # Off again once the interpreter exits: daemon threads still inside Chroma then
            # (an engine still opening) may touch memory already freed, harmless with
            # stale bytes, a crash with filled ones (seen as exit status -11).
            atexit.register(libc.mallopt, _M_PERTURB, 0)
    except (OSError, AttributeError) as exc:
        log.warning("could not ask the C library to clear freed memory: %s", exc)
    return _heap_cleared


def vacuum(path: Path, keep_fds: tuple[int, ...] = ()) -> None:
    """Run ``chroma vacuum`` on a store folder no Chroma client has open.

    ``keep_fds``: the store lock's descriptor, so that if this process is killed the
    vacuum, which goes on, still holds the store until it ends.
    """
    code = "import sys, chromadb_rust_bindings as b; b.cli(['chroma', *sys.argv[1:]])"
    args = [sys.executable, "-c", code, "vacuum", "--path", str(path), "--force"]
    env = {**os.environ, "MALLOC_PERTURB_": str(_PERTURB_BYTE)}
    progress_log.info("compacting: vacuuming the store's database")
    try:
        done = subprocess.run(
            args,
            capture_output=True,
            text=True,
            timeout=VACUUM_TIMEOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            pass_fds=keep_fds,
        )
    except subprocess.TimeoutExpired as exc:
        raise StoreError(
            f"compacting {path}: 'chroma vacuum' took over {VACUUM_TIMEOUT} s and was stopped; "
            "nothing is lost. Run 'priomem compact' again when the machine is less busy."
        ) from exc
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise StoreError(
            f"compacting {path}: 'chroma vacuum' failed ({detail[0]}); nothing is lost. "
            "Check the free disk space (vacuum needs about the database's size) and run "
            "'priomem compact' again."
        )


def _owned_segments(database: Path) -> set[str] | None:
    try:
        con = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as exc:
        log.warning("could not read %s to find orphaned index folders: %s", database, exc)
        return None
    try:
        return {str(row[0]) for row in con.execute("SELECT id FROM segments")}
    except sqlite3.Error as exc:
        log.warning("could not read Chroma's segment list in %s: %s", database, exc)
        return None
    finally:
        con.close()


def remove_orphan_segments(path: Path) -> int:
    """Remove segment folders no Chroma collection owns; returns how many.

    Call only while no Chroma client has ``path`` open. Leaves everything in place when
    the owned set cannot be read.
    """
    owned = _owned_segments(path / DATABASE)
    if owned is None:
        return 0
    removed = 0
    for entry in path.iterdir():
        if entry.is_dir() and _SEGMENT_FOLDER.fullmatch(entry.name) and entry.name not in owned:
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
    return removed


def restrict_permissions(path: Path) -> None:
    """Make the store readable by its owner only: folders 0700, files 0600."""
    try:
        os.chmod(path, 0o700)
        for root, dirs, files in os.walk(path):
            for name in dirs:
                os.chmod(os.path.join(root, name), 0o700)
            for name in files:
                os.chmod(os.path.join(root, name), 0o600)
    except OSError as exc:  # a folder on a file system without modes, or another owner's file
        log.warning("could not restrict the permissions of %s: %s", path, exc)
