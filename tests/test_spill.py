"""Records within Chroma Cloud's quotas: what does not fit on a memory's record is kept
beside it and joined back on every read (``priomem._spill``, issue 17)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings

from priomem import HashEmbedder, InvalidInputError, MemoryEngine, Settings
from priomem._consolidate import merged_memory
from priomem._records import Key, value_size
from priomem._spill import MAX_KEY_BYTES, MAX_KEYS, MAX_VALUE, PINNED, SPILL_COLLECTION, fit, join
from priomem._timeparse import utcnow

from .reliability._residue import files_holding

LAYOUTS = ["shared", "own"]
#: Text of 100,000 characters, 1-4 bytes each, with words to find at its start and end.
LONG = (
    "ledger reconciliation opens " + ("Zürich 東京 データ 🙂 refunds " * 4000)[:99_000] + " closing-marker-qx"
)
WIDE = {f"key_{i:02d}_{'x' * 50}": f"value {i} " + "é" * 8000 for i in range(64)}


def _raw(store: Path) -> Any:
    return chromadb.PersistentClient(str(store), settings=ChromaSettings(anonymized_telemetry=False))


def _records_within_quotas(client: Any) -> int:
    """Every record of every collection within Chroma Cloud's quotas; how many spill records."""
    spill = 0
    for col in client.list_collections():
        got = col.get(include=["metadatas", "documents"])
        for meta, doc in zip(got["metadatas"], got["documents"], strict=True):
            meta = meta or {}
            assert len(meta) <= MAX_KEYS, (col.name, sorted(meta))
            assert all(len(k.encode()) <= MAX_KEY_BYTES for k in meta), (col.name, sorted(meta))
            assert all(value_size(v) <= MAX_VALUE for v in meta.values()), col.name
            assert len((doc or "").encode()) <= 16384
        spill += len(got["ids"]) if col.name == SPILL_COLLECTION else 0
    return spill


def test_a_record_that_fits_is_left_as_it_is() -> None:
    meta = {Key.TEXT: "short", Key.PRIORITY: 3, "m.owner": "ops"}
    assert fit(meta) == (meta, {})


def test_fit_spills_what_does_not_fit_and_join_puts_it_back() -> None:
    meta: dict[str, Any] = {Key.TEXT: LONG, Key.PRIORITY: 4, Key.TAGS: ["a"], Key.V: 5, Key.LEN: 9}
    meta.update({"m." + k: v for k, v in WIDE.items()})
    meta["m.subject"] = "user-7"
    main, spilled = fit(meta)
    assert len(main) + 1 + 1 <= MAX_KEYS  # with the pointer and pm_renewed's reserved key
    assert all(len(k.encode()) <= MAX_KEY_BYTES and value_size(v) <= MAX_VALUE for k, v in main.items())
    assert {Key.PRIORITY, Key.TAGS, "m.subject"} <= set(main) <= PINNED | set(meta)
    assert LONG.startswith(main[Key.TEXT]) and len(main[Key.TEXT].encode()) <= MAX_VALUE
    assert join(main, spilled) == meta


def test_a_text_is_cut_between_characters() -> None:
    for text in ("a" * 4095 + "🙂" * 3, "é" * 3000, "東" * 2000):
        main, spilled = fit({Key.TEXT: text})
        assert main[Key.TEXT] + spilled[Key.TEXT] == text
        assert len(main[Key.TEXT].encode()) <= MAX_VALUE


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_memory_past_every_quota_reads_back_whole_everywhere(tmp_path: Path, layout: str) -> None:
    store = tmp_path / "s"
    settings = Settings(namespace_layout=layout)
    with MemoryEngine(store, embedder=HashEmbedder(64), settings=settings) as engine:
        made = engine.remember(LONG, metadata=WIDE, tags=["finance"], namespace="t", priority="high")
        small = engine.remember("an ordinary note about refunds", namespace="t")
        assert engine.get(made.id, namespace="t") == made
        assert {m.id: m for m in engine.list(namespace="t")}[made.id] == made
        hits = engine.recall("closing-marker-qx", namespace="t", k=2)
        assert hits[0].memory == made
        assert engine.recall("refunds", namespace="t", tags=["finance"])[0].memory.content == LONG
        # A change that rewrites the record (its priority) keeps it whole, spills anew and
        # leaves no spill records of the old version.
        changed = engine.set_priority(made.id, "critical", namespace="t")
        stored = engine.get(made.id, namespace="t")
        assert stored is not None and changed.content == stored.content == LONG
        assert stored.priority.name == "CRITICAL" and stored.metadata == made.metadata == WIDE
        spilled = _records_within_quotas(_raw(store))
        again = engine.remember(LONG, metadata=WIDE, tags=["finance"], namespace="t", priority="critical")
        assert again.id == made.id and engine.get(made.id, namespace="t").content == LONG  # type: ignore[union-attr]
        assert _records_within_quotas(_raw(store)) == spilled > 0
        assert engine.get(small.id, namespace="t").content == small.content  # type: ignore[union-attr]
        assert engine.forget([made.id], namespace="t") == 1
        assert _records_within_quotas(_raw(store)) == 0
        assert engine.get(small.id, namespace="t").content == small.content  # type: ignore[union-attr]
    # Compaction made the forgetting real: nothing of the spilled text is on disk.
    assert files_holding(store, ["closing-marker-qx", "value 7 "]) == {}


def test_forget_by_filter_and_dropping_a_namespace_delete_what_was_spilled(chroma_client: Any) -> None:
    with MemoryEngine(client=chroma_client, embedder=HashEmbedder(64), settings=Settings()) as engine:
        for n in range(3):
            engine.remember(LONG + f" copy {n}", tags=["big"], namespace="a")
            engine.remember(LONG + f" copy {n}", namespace="b")
        client = engine._store._client
        spill = client.get_collection(SPILL_COLLECTION)
        assert spill.count() > 0
        before = spill.count()
        engine.forget(tags=["big"], namespace="a")
        assert 0 < spill.count() < before
        engine.erase(namespace="b")
        assert spill.count() == 0


def test_a_write_that_fails_leaves_no_spill_records(
    monkeypatch: pytest.MonkeyPatch, chroma_client: Any
) -> None:
    from chromadb.api.models.Collection import Collection

    with MemoryEngine(client=chroma_client, embedder=HashEmbedder(64), settings=Settings()) as engine:
        engine.remember("warm up the namespace", namespace="f")
        upsert = Collection.upsert

        def failing(col: Collection, *args: Any, **kwargs: Any) -> Any:
            if col.name.startswith(("pmshared-", "pmns-")):  # the memory's own record
                raise RuntimeError("disk full")
            return upsert(col, *args, **kwargs)

        monkeypatch.setattr(Collection, "upsert", failing)
        with pytest.raises(Exception, match="disk full"):
            engine.remember(LONG, namespace="f")
        monkeypatch.setattr(Collection, "upsert", upsert)
        assert engine._store._client.get_collection(SPILL_COLLECTION).count() == 0
        assert [m.content for m in engine.list(namespace="f")] == ["warm up the namespace"]


def test_a_batch_across_namespaces_with_long_memories_stores_them_whole(chroma_client: Any) -> None:
    # Every fifth item is long: its records are written at once, the others held and sent together.
    items = [
        {"content": (LONG[:20_000] if i % 5 == 0 else f"note {i}") + f" #{i}", "namespace": f"n{i % 20}"}
        for i in range(40)
    ]
    with MemoryEngine(client=chroma_client, embedder=HashEmbedder(64), settings=Settings()) as engine:
        made = engine.remember_many(items)
        for item, memory in zip(items, made, strict=True):
            assert engine.get(memory.id, namespace=item["namespace"]).content == item["content"]  # type: ignore[union-attr]
        assert _records_within_quotas(engine._store._client) == 8  # one spill record each


def test_export_and_import_carry_long_memories_whole(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    with MemoryEngine(tmp_path / "a", embedder=HashEmbedder(64), settings=Settings()) as engine:
        made = engine.remember(LONG, metadata=WIDE, namespace="x")
        engine.export(out)
    with MemoryEngine(tmp_path / "b", embedder=HashEmbedder(64), settings=Settings()) as engine:
        engine.import_(out)
        assert engine.get(made.id, namespace="x") == made
    assert json.loads(out.read_text().splitlines()[-1])["content"] == LONG


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tags", [f"tag-{i:02d}-" + "t" * 56 for i in range(64)]),
        ("reads", [f"raw.table_{i:02d}_" + "r" * 200 for i in range(20)]),
    ],
)
def test_a_list_too_large_for_one_stored_value_is_refused(
    field: str, value: list[str], chroma_client: Any
) -> None:
    with MemoryEngine(client=chroma_client, embedder=HashEmbedder(64), settings=Settings()) as engine:
        with pytest.raises(InvalidInputError, match="a stored list can hold; name fewer or shorter"):
            engine.remember("a note", **{field: value})  # type: ignore[arg-type]
        assert engine.list() == []


def test_a_read_that_races_a_rewrite_reads_the_new_version(tmp_path: Path) -> None:
    with MemoryEngine(tmp_path / "s", embedder=HashEmbedder(64), settings=Settings()) as engine:
        made = engine.remember(LONG, metadata=WIDE, namespace="t")
        store = engine._store
        place = store._place("t", create=False)
        assert place is not None
        (cid,) = place.chroma_ids([made.id])
        before = dict(place.col.get(ids=[cid], include=["metadatas"])["metadatas"][0])
        place.record_id(cid, before)
        engine.set_priority(made.id, "high", namespace="t")  # its old spill records are deleted
        metas = [dict(before)]

        def reread(_: int) -> dict[str, Any]:
            fresh = dict(place.col.get(ids=[cid], include=["metadatas"])["metadatas"][0])
            place.record_id(cid, fresh)
            return fresh

        store._spill_in("t", [made.id], metas, reread)
        assert metas[0][Key.TEXT] == LONG and metas[0][Key.PRIORITY] == 3


def test_writing_over_a_long_memory_leaves_none_of_its_old_spill_records(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    store = tmp_path / "s"
    with MemoryEngine(store, embedder=HashEmbedder(64), settings=Settings()) as engine:
        made = engine.remember(LONG, namespace="t")
        engine.export(out)
    redacted = [json.loads(line) for line in out.read_text().splitlines()]
    for record in redacted:
        if record.get("id") == made.id:
            record["content"] = "redacted"
    out.write_text("".join(json.dumps(r) + "\n" for r in redacted))
    with MemoryEngine(store, embedder=HashEmbedder(64), settings=Settings()) as engine:
        engine.import_(out)
        assert engine.get(made.id, namespace="t").content == "redacted"  # type: ignore[union-attr]
        assert _records_within_quotas(engine._store._client) == 0
    assert files_holding(store, ["closing-marker-qx"]) == {}


def test_check_repair_deletes_spill_records_a_killed_write_left(tmp_path: Path) -> None:
    with MemoryEngine(tmp_path / "s", embedder=HashEmbedder(64), settings=Settings()) as engine:
        kept = engine.remember(LONG, namespace="t")
        # A kill after the spill records of a memory, before its record: only those are written.
        engine._store._spill_out("t", ["01NEVERWRITTEN0000000000AB"], [{Key.TEXT: LONG + " lost"}])
        spill = engine._store._client.get_collection(SPILL_COLLECTION)
        before = spill.count()
        engine.check(repair=True)
        assert 0 < spill.count() < before
        assert engine.get(kept.id, namespace="t").content == LONG  # type: ignore[union-attr]


def test_a_record_keeps_room_for_the_keys_a_move_or_reinforcement_adds() -> None:
    meta: dict[str, Any] = {Key.TEXT: "x", **{f"m.k{i:02d}": i for i in range(40)}}
    main, _ = fit(meta)
    assert len(main) + 3 + 1 <= MAX_KEYS  # pm_renewed, pm_ns, pm_id and the pointer
    long_subject = {Key.TEXT: "x", "m.subject": "é" * 8000}
    main, spilled = fit(long_subject)
    assert "m.subject" in spilled and join(main, spilled) == long_subject


def test_reinforcing_past_a_stored_list_is_refused_and_consolidation_trims(chroma_client: Any) -> None:
    tags = [f"t{i:02d}-" + "x" * 59 for i in range(64)]  # 64 characters each: 4,350 bytes together
    with MemoryEngine(client=chroma_client, embedder=HashEmbedder(64), settings=Settings()) as engine:
        first = engine.remember("the same note", tags=tags[:40])
        with pytest.raises(InvalidInputError, match="reinforcing memory"):
            engine.remember("the same note", tags=tags[40:])
        assert engine.list()[0].tags == first.tags
        other = engine.remember("another note", tags=tags[40:])
        merged = merged_memory([first, other], "both notes", now=utcnow(), max_tags=64)
        assert value_size(list(merged.tags)) <= MAX_VALUE and merged.tags == tuple(tags[: len(merged.tags)])
