"""Compaction: rebuilds interrupted at each step recover whole; the store is its owner's alone."""

from __future__ import annotations

import platform
import stat
from pathlib import Path
from typing import Any

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings

from priomem import HashEmbedder, MemoryEngine, Settings
from priomem._layout import shared_name
from priomem._rebuild import COMPACT_KIND, REBUILD_DONE_KEY, REBUILD_KIND, REBUILD_OF_KEY, REBUILD_SUFFIX
from priomem._store import META_COLLECTION, collection_name


def _seed(store: Path, layout: str = "shared") -> dict[str, str]:
    with MemoryEngine(store, embedder=HashEmbedder(), settings=Settings(namespace_layout=layout)) as engine:
        memories = engine.remember_many(
            [{"content": f"note {i} on pipeline p{i % 5}", "namespace": "ops"} for i in range(60)]
        )
        engine.forget([m.id for m in memories[:10]], namespace="ops")
        return {m.id: m.content for m in memories[10:]}


def _interrupt(store: Path, step: str, name: str) -> None:
    """Leave the store as a rebuild of collection ``name`` (holding 'ops') killed just after ``step``."""
    client = chromadb.PersistentClient(str(store), settings=ChromaSettings(anonymized_telemetry=False))
    meta_col = client.get_collection(META_COLLECTION)
    meta_col.upsert(
        ids=[f"{REBUILD_KIND}:{name}", f"{COMPACT_KIND}:{name}"],
        embeddings=[[1.0], [1.0]],
        documents=[name, ""],
        metadatas=[{"kind": REBUILD_KIND}, {"kind": COMPACT_KIND}],
    )
    old = client.get_collection(name)
    meta = dict(old.metadata or {})
    copy = client.create_collection(
        name + REBUILD_SUFFIX,
        metadata={**meta, REBUILD_OF_KEY: name},
        configuration=old.configuration,
        embedding_function=None,
    )
    got = old.get(include=["embeddings", "documents", "metadatas"])
    half = len(got["ids"]) // 2 if step == "copying" else len(got["ids"])
    copy.upsert(
        ids=got["ids"][:half],
        embeddings=got["embeddings"][:half],
        documents=got["documents"][:half],
        metadatas=got["metadatas"][:half],
    )
    if step in ("whole", "dropped", "renamed"):
        copy.modify(metadata={**meta, REBUILD_OF_KEY: name, REBUILD_DONE_KEY: True})
    if step in ("dropped", "renamed"):
        client.delete_collection(name)
    if step == "renamed":
        copy.modify(name=name, metadata={**meta, REBUILD_OF_KEY: name})


@pytest.mark.parametrize("layout", ["shared", "own"])
@pytest.mark.parametrize("step", ["copying", "whole", "dropped", "renamed"])
def test_a_rebuild_killed_after_any_step_recovers_every_memory(
    tmp_path: Path, step: str, layout: str
) -> None:
    store = tmp_path / "store"
    live = _seed(store, layout)
    name = collection_name("ops") if layout == "own" else shared_name("ops")
    _interrupt(store, step, name)
    with MemoryEngine(store, embedder=HashEmbedder(), settings=Settings(namespace_layout=layout)) as engine:
        assert engine.namespaces() == ["ops"]
        assert {m.id: m.content for m in engine.list(namespace="ops", limit=1000)} == live
        hit = engine.recall("note 42 on pipeline p2", namespace="ops", k=1)[0]
        assert hit.memory.content == "note 42 on pipeline p2"
        engine.remember("still writable", namespace="ops")
    client = chromadb.PersistentClient(str(store), settings=ChromaSettings(anonymized_telemetry=False))
    names = sorted(c.name for c in client.list_collections())
    assert names == sorted([META_COLLECTION, name])
    assert REBUILD_OF_KEY not in (client.get_collection(name).metadata or {})
    assert not client.get_collection(META_COLLECTION).get(where={"kind": REBUILD_KIND})["ids"]


def test_the_store_folder_and_files_are_the_owners_alone(tmp_path: Path) -> None:
    store = tmp_path / "private"
    with MemoryEngine(store, embedder=HashEmbedder(), settings=Settings()) as engine:
        assert stat.S_IMODE(store.stat().st_mode) == 0o700
        engine.remember("a private note")
    for path in [store, *store.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path} is {oct(mode)}"


def test_compact_rebuilds_only_namespaces_with_deletions(tmp_path: Path) -> None:
    with MemoryEngine(tmp_path / "s", embedder=HashEmbedder(), settings=Settings()) as engine:
        engine.remember("kept in a", namespace="a")
        gone = engine.remember("gone from b", namespace="b")
        engine.remember("kept in b", namespace="b")
        assert engine.compact() == []  # nothing deleted yet: nothing to rebuild
        engine.forget([gone.id], namespace="b")
        assert engine.compact() == ["b"]
        assert engine.compact() == []
        assert [m.content for m in engine.list(namespace="b")] == ["kept in b"]


_HEAP_PROBE = """
import ctypes, sys
from priomem import _compaction
if sys.argv[1] == "on":
    assert _compaction.clear_heap_garbage()
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
secret = b"Zorblaxquine-secret-memory-text " * 64
found = 0
for _ in range(50):
    block = libc.malloc(len(secret))
    ctypes.memmove(block, secret, len(secret))
    libc.free(block)
    again = libc.malloc(len(secret))  # glibc hands the same block back at once
    found += b"Zorblaxquine" in ctypes.string_at(again, len(secret))
    libc.free(again)
print(found)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_heap_blocks_carry_no_earlier_content_once_cleared() -> None:
    """What keeps deleted text out of HNSW files: Chroma's index buffers are malloc'd and
    written whole, so a block must not come back holding what the process freed."""
    import subprocess
    import sys

    def probe(mode: str) -> int:
        done = subprocess.run(
            [sys.executable, "-c", _HEAP_PROBE, mode], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return int(done.stdout)

    assert probe("off") > 0  # the hazard is real: freed text comes back in a new block
    assert probe("on") == 0


def test_a_compaction_failing_between_drop_and_rename_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rename after the drop fails (a full disk, say) and the process goes on writing."""
    import chromadb.api.models.Collection as collection_module

    from priomem import StoreError

    store = tmp_path / "store"
    settings = Settings(compact_on_close=False)
    with MemoryEngine(store, embedder=HashEmbedder(), settings=settings) as engine:
        old = [engine.remember(f"old memory {i} about the garden", namespace="x") for i in range(5)]
        engine.forget([old[0].id], namespace="x")
    with MemoryEngine(store, embedder=HashEmbedder(), settings=settings) as engine:
        real = collection_module.Collection.modify

        def failing(self: Any, name: Any = None, **kwargs: Any) -> Any:
            if name is not None:
                monkeypatch.setattr(collection_module.Collection, "modify", real)
                raise OSError("disk I/O error")
            return real(self, name=name, **kwargs)

        monkeypatch.setattr(collection_module.Collection, "modify", failing)
        with pytest.raises(StoreError, match="disk I/O error"):
            engine.compact()
        assert {m.content for m in engine.list(namespace="x")} == {m.content for m in old[1:]}
        engine.remember("written after the failure", namespace="x")
        engine.recall("garden", namespace="x")
    with MemoryEngine(store, embedder=HashEmbedder(), settings=settings) as engine:
        contents = {m.content for m in engine.list(namespace="x")}
    assert contents == {m.content for m in old[1:]} | {"written after the failure"}


def test_repair_never_replaces_a_namespace_it_could_not_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from priomem import _rebuild, _store

    store = tmp_path / "store"
    own = Settings(compact_on_close=False, namespace_layout="own")  # check repairs own collections
    with MemoryEngine(store, embedder=HashEmbedder(), settings=own) as engine:
        xs = [engine.remember(f"x memory {i}", namespace="x") for i in range(4)]
        engine.forget([xs[0].id], namespace="x")
        real = _rebuild.rebuild

        def flaky(cols: Any, name: str, step: int, records: Any = None) -> bool:
            raise OSError("database or disk is full")

        monkeypatch.setattr(_store, "rebuild_marked", lambda cols, step, label=None: [flaky(cols, "x", step)])
        with pytest.raises(Exception, match="disk is full"):
            engine.compact()
        monkeypatch.setattr(_rebuild, "rebuild", real)
        assert [c.status for c in engine.check(repair=True)] == ["ok"]  # healthy: left alone
        # A probe failure with nothing to read back is reported, never "repaired" to empty.
        monkeypatch.setattr(engine._store, "probe", lambda ns: "simulated failure")
        monkeypatch.setattr(engine._store, "salvage", lambda ns: {})
        (found,) = engine.check(repair=True)
        assert found.status == "damaged" and "nothing could be read back" in (found.error or "")
    with MemoryEngine(store, embedder=HashEmbedder(), settings=Settings(namespace_layout="own")) as engine:
        assert len(engine.list(namespace="x")) == 3
