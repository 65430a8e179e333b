"""A small shared namespace kept whole in memory (vectors and metadata): reads served from
it answer what Chroma would, and change as the records do (``ChromaStore._vectors``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chromadb.api.models.Collection import Collection

from priomem import HashEmbedder, MemoryEngine, Settings
from priomem._kept import ROWS_AT

NOTES = [
    "the billing export failed at 02:00 on db-07",
    "disk usage on db-07 reached 91 percent",
    "the orders ETL finished late because of a lock",
    "SLA: the finance dashboard refreshes by 06:00 UTC",
    "rotated the API keys of the payments service",
    "the reconciliation job read raw.refunds and wrote mart.refunds",
]


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Calls that read records from the namespaces' collections, by method."""
    seen: Counter[str] = Counter()
    for name in ("get", "query"):
        original = getattr(Collection, name)

        def counted(
            col: Collection, *args: Any, _name: str = name, _orig: Any = original, **kwargs: Any
        ) -> Any:
            if col.name.startswith(("pmshared-", "pmns-")):
                seen[_name] += 1
            return _orig(col, *args, **kwargs)

        monkeypatch.setattr(Collection, name, counted)
    yield seen


def _engine(path: Path) -> MemoryEngine:
    return MemoryEngine(path, embedder=HashEmbedder(64), settings=Settings(compact_on_close=False))


def _results(engine: MemoryEngine, ns: str) -> list[Any]:
    out: list[Any] = []
    for query in ("db-07 disk", "billing export", "refunds reconciliation", "SLA finance"):
        out.append(
            [
                (h.memory.id, round(h.score, 6))
                for h in engine.recall(query, namespace=ns, k=3, record_access=False)
            ]
        )
        out.append(
            [h.memory.id for h in engine.recall(query, namespace=ns, k=3, tags=["ops"], record_access=False)]
        )
        out.append(
            [
                h.memory.id
                for h in engine.recall(query, namespace=ns, k=3, min_priority="high", record_access=False)
            ]
        )
    out.append(sorted(m.id for m in engine.list(namespace=ns, tags=["ops"], limit=50)))
    return out


def test_a_recall_in_a_kept_namespace_reads_nothing_and_finds_what_chroma_would(
    tmp_path: Path, reads: Counter[str]
) -> None:
    with _engine(tmp_path / "s") as engine:
        for ns in ("t1", "t2"):
            engine.remember_many(
                {"content": n, "tags": ["ops"] if i % 2 else [], "priority": ["low", "high"][i % 2]}
                | {"namespace": ns}
                for i, n in enumerate(NOTES)
            )
        store = engine._store
        store._vector_cache.clear()
        # Nothing kept: every read asks Chroma, as before.
        store._compactable = False
        cold = _results(engine, "t1")
        store._compactable = True
        engine.recall("warm it", namespace="t1")
        reads.clear()
        kept = _results(engine, "t1")
        assert kept == cold
        assert reads == Counter(), reads
        assert [m.content for m in engine.list(namespace="t2", limit=50)]  # another namespace still reads


def test_what_is_kept_changes_with_writes_uses_and_deletes(tmp_path: Path) -> None:
    with _engine(tmp_path / "s") as engine:
        first = engine.remember_many({"content": n, "namespace": "t"} for n in NOTES)
        engine.recall("db-07", namespace="t")  # kept now
        engine._access.flush()  # the uses recall counted, written (and applied to what is kept)
        raw = engine._store._client.get_collection(engine._store._place("t", create=False).col.name)
        stored = {m["pm_hash"]: m for m in raw.get(include=["metadatas"])["metadatas"]}
        assert {m.id: m.access_count for m in engine.list(namespace="t", limit=50)} == {
            m.id: stored[m.content_hash].get("pm_access", 0) for m in engine.list(namespace="t", limit=50)
        }
        added = engine.remember("a new note about db-07 failover", namespace="t")
        assert engine.recall("db-07 failover", namespace="t", k=1)[0].memory.id == added.id
        engine.forget([added.id], namespace="t")
        assert added.id not in {h.memory.id for h in engine.recall("db-07 failover", namespace="t", k=10)}
        engine.set_priority(first[2].id, "critical", namespace="t")
        assert engine.get(first[2].id, namespace="t").priority.name == "CRITICAL"  # type: ignore[union-attr]


def test_a_namespace_past_rows_at_keeps_its_vectors_only(tmp_path: Path, reads: Counter[str]) -> None:
    with _engine(tmp_path / "s") as engine:
        engine.remember_many(
            {"content": f"note {i} about host-{i}", "namespace": "big"} for i in range(ROWS_AT + 5)
        )
        engine.recall("host-3", namespace="big")
        kept, _ = engine._store._vector_cache.get("big")
        assert kept is not None and kept.metas is None and len(kept.ids) == ROWS_AT + 5
        reads.clear()
        assert engine.recall("host-3", namespace="big", k=1)[0].memory.content == "note 3 about host-3"
        assert reads["get"] >= 1  # its records are read from Chroma


def test_uses_of_many_namespaces_are_written_one_call_a_shared_collection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _engine(tmp_path / "s") as engine:
        names = [f"tenant-{i}" for i in range(40)]
        engine.remember_many(
            {"content": f"note {j} of {ns}", "namespace": ns} for ns in names for j in range(3)
        )
        engine._access._interval = 3600.0  # no flush in the background meanwhile
        hits = {ns: engine.recall("note", namespace=ns, k=2) for ns in names}
        calls: list[int] = []
        original = Collection.update

        def counted(col: Collection, *args: Any, **kwargs: Any) -> Any:
            calls.append(len(kwargs["ids"]))
            return original(col, *args, **kwargs)

        monkeypatch.setattr(Collection, "update", counted)
        engine._access.flush()
        shared = {engine._store._place(ns, create=False).col.name for ns in names}  # type: ignore[union-attr]
        assert len(calls) == len(shared) < len(names) and sum(calls) == 80
        for ns, found in hits.items():
            for hit in found:
                stored = engine.get(hit.memory.id, namespace=ns)
                assert stored is not None and stored.access_count == hit.memory.access_count + 1
