"""Shared collections for small namespaces, an own collection for a large one, and moves
between the two that survive a kill at any instant (``priomem._layout``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import chromadb
import numpy as np
import pytest
from chromadb.config import Settings as ChromaSettings

from priomem import HashEmbedder, Memory, MemoryEngine, Settings, StoreLockedError
from priomem._audit import MAX_DOCUMENT
from priomem._chroma_calls import query_records as _query
from priomem._layout import MOVE_KIND, SHARED_PREFIX, Place, collection_name, entry_id, move_id, shared_name
from priomem._records import MAX_PREDICATES, Key, encode, narrow_where, predicates, split_where
from priomem._store import META_COLLECTION

from ._chroma import ephemeral_client


def _raw(store: Path) -> chromadb.ClientAPI:
    return chromadb.PersistentClient(str(store), settings=ChromaSettings(anonymized_telemetry=False))


def _names(store: Path) -> list[str]:
    return sorted(c.name for c in _raw(store).list_collections())


def _same_bucket(count: int) -> list[str]:
    """``count`` namespace names that share one shared collection."""
    first = "tenant-0"
    out = [first]
    i = 1
    while len(out) < count:
        if shared_name(f"tenant-{i}") == shared_name(first):
            out.append(f"tenant-{i}")
        i += 1
    return out


def _put(engine: MemoryEngine, memory: Memory) -> None:
    """Store ``memory`` as it is (its id included), as an import would."""
    document, meta = encode(memory)
    vector = HashEmbedder(64).embed_documents([memory.content])
    engine._store.upsert(memory.namespace, [memory.id], np.asarray(vector, np.float32), [document], [meta])


def _content(engine: MemoryEngine, ns: str) -> dict[str, str]:
    return {m.id: m.content for m in engine.list(namespace=ns, limit=1000)}


def test_namespaces_in_one_shared_collection_stay_apart() -> None:
    a, b = _same_bucket(2)
    with MemoryEngine(client=ephemeral_client(), embedder=HashEmbedder(64), settings=Settings()) as engine:
        one = engine.remember("the billing export failed at 02:00", namespace=a, tags=["etl"])
        engine.remember("the billing export failed at 02:00", namespace=b, tags=["etl"])
        # The same id in two namespaces of one collection: two records.
        _put(engine, replace(one, namespace=b, content="b's own record under a's id", tags=()))
        assert engine.get(one.id, namespace=a).content == "the billing export failed at 02:00"
        assert engine.get(one.id, namespace=b).content == "b's own record under a's id"
        hits = engine.recall("billing export", namespace=a, k=10)
        assert [h.memory.namespace for h in hits] == [a]
        assert engine.stats(namespace=a)["count"] == 1
        engine.forget(tags=["etl"], namespace=b)
        assert len(_content(engine, a)) == 1
        assert list(_content(engine, b).values()) == ["b's own record under a's id"]
        engine.erase(namespace=b)
        assert engine.namespaces() == [a]
        assert len(_content(engine, a)) == 1


def test_an_id_too_long_for_a_prefix_round_trips() -> None:
    long_id = "x" * 128
    with MemoryEngine(client=ephemeral_client(), embedder=HashEmbedder(64), settings=Settings()) as engine:
        made = engine.remember("a memory with the longest id", namespace="n")
        engine.forget([made.id], namespace="n")
        _put(engine, replace(made, id=long_id))
        assert engine.get(long_id, namespace="n").content == "a memory with the longest id"
        assert [h.memory.id for h in engine.recall("longest id", namespace="n", k=1)] == [long_id]
        assert list(_content(engine, "n")) == [long_id]
        engine.forget([long_id], namespace="n")
        assert _content(engine, "n") == {}
    place = Place(None, "n", shared=True)
    assert len(place.chroma_id(long_id)) <= 128


def test_a_growing_namespace_moves_to_its_own_collection(tmp_path: Path) -> None:
    store = tmp_path / "s"
    settings = Settings(own_collection_at=30)
    with MemoryEngine(store, embedder=HashEmbedder(64), settings=settings) as engine:
        engine.remember("a neighbour in the same shared collection", namespace="other")
        first = engine.remember_many(
            [{"content": f"deploy {i} of service s{i % 7}", "namespace": "big"} for i in range(20)]
        )
        before = [h.memory.id for h in engine.recall("deploy 7 of service s0", namespace="big", k=5)]
        engine.remember_many(
            [{"content": f"deploy {i} of service s{i % 7}", "namespace": "big"} for i in range(20, 40)]
        )
        assert collection_name("big") in [c.name for c in engine._store._client.list_collections()]
        assert not engine._store.is_shared("big") and engine._store.is_shared("other")
        assert len(_content(engine, "big")) == 40
        assert [h.memory.id for h in engine.recall("deploy 7 of service s0", namespace="big", k=5)][
            :1
        ] == before[:1]
        assert engine.get(first[0].id, namespace="big").content == "deploy 0 of service s0"
        assert engine.namespaces() == ["big", "other"]
    # Nothing of "big" is left in its shared collection, and the move left no records behind.
    raw = _raw(store)
    bucket = raw.get_collection(shared_name("big"))
    assert not bucket.get(where={Key.NS: "big"}, include=[])["ids"]
    meta = raw.get_collection(META_COLLECTION)
    assert not meta.get(ids=[entry_id("big"), move_id("big")], include=[])["ids"]
    with MemoryEngine(store, embedder=HashEmbedder(64), settings=settings) as engine:
        assert len(_content(engine, "big")) == 40  # not moved back: 40 is over half the threshold


def _old_store(store: Path, namespaces: int, per: int) -> dict[str, dict[str, str]]:
    """A store as priomem wrote it before shared collections: one collection per namespace."""
    with MemoryEngine(store, embedder=HashEmbedder(64), settings=Settings(namespace_layout="own")) as engine:
        engine.remember("a turn", namespace="ns-0", thread="chat-1")
        for n in range(namespaces):
            engine.remember_many(
                [
                    {"content": f"fact {j} of tenant {n}", "tags": [f"t{j % 3}"], "namespace": f"ns-{n}"}
                    for j in range(per)
                ]
            )
        return {f"ns-{n}": _content(engine, f"ns-{n}") for n in range(namespaces)}


def test_an_old_store_moves_its_small_namespaces_into_shared_collections(tmp_path: Path) -> None:
    store = tmp_path / "s"
    before = _old_store(store, 6, 5)
    assert sum(n.startswith("pmns-") for n in _names(store)) == 6
    with MemoryEngine(store, embedder=HashEmbedder(64), settings=Settings()) as engine:
        assert engine.namespaces() == sorted(before)
        assert {ns: _content(engine, ns) for ns in before} == before
        assert engine._store.has_threads("ns-0")
        hit = engine.recall("fact 3 of tenant 4", namespace="ns-4", k=1)[0]
        assert hit.memory.content == "fact 3 of tenant 4"
        assert sorted(m.content for m in engine.list(namespace="ns-2", tags=["t1"])) == [
            "fact 1 of tenant 2",
            "fact 4 of tenant 2",
        ]
    names = _names(store)
    assert not [n for n in names if n.startswith("pmns-")]
    assert [n for n in names if n.startswith(SHARED_PREFIX)]


def _open_when_free(store: Path, settings: Settings) -> MemoryEngine:
    """Open ``store``, waiting out a ``chroma vacuum`` the killed process had started (its
    compaction on close runs one, which holds the store's lock until it ends)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return MemoryEngine(store, embedder=HashEmbedder(64), settings=settings)
        except StoreLockedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


_MIGRATE = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from priomem import HashEmbedder, Memory, MemoryEngine, Settings
    print("opening", flush=True)
    MemoryEngine(Path(sys.argv[1]), embedder=HashEmbedder(64), settings=Settings()).close()
    print("done", flush=True)
    """
)


def test_the_move_to_shared_collections_survives_sigkill_and_resumes(tmp_path: Path) -> None:
    store = tmp_path / "s"
    before = _old_store(store, 30, 8)
    delays = [0.3, 0.6, 0.9, 1.2, 1.6, 2.0]
    kills = 0
    for delay in delays:
        proc = subprocess.Popen(
            [sys.executable, "-c", _MIGRATE, str(store)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "opening"
        time.sleep(delay)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
        with _open_when_free(store, Settings(namespace_layout="own")) as engine:
            # Opened between kills without moving anything: every memory is where the
            # layout rule says, whatever instant the kill hit.
            assert {ns: _content(engine, ns) for ns in before} == before
    assert kills >= 1
    with _open_when_free(store, Settings()) as engine:
        assert {ns: _content(engine, ns) for ns in before} == before
        assert engine.namespaces() == sorted(before)
    assert not [n for n in _names(store) if n.startswith("pmns-")]
    assert not _raw(store).get_collection(META_COLLECTION).get(where={"kind": MOVE_KIND}, include=[])["ids"]


@pytest.mark.parametrize("step", ["announced", "filling", "filled", "cleared-half"])
def test_a_promotion_killed_after_any_step_recovers(tmp_path: Path, step: str) -> None:
    store = tmp_path / "s"
    with MemoryEngine(store, embedder=HashEmbedder(64), settings=Settings()) as engine:
        live = {
            m.id: m.content
            for m in engine.remember_many([{"content": f"row {i}", "namespace": "p"} for i in range(12)])
        }
    raw = _raw(store)
    meta = raw.get_collection(META_COLLECTION)
    meta.upsert(
        ids=[move_id("p")], embeddings=[[1.0]], documents=["p"], metadatas=[{"kind": MOVE_KIND, "to": "own"}]
    )
    bucket = raw.get_collection(shared_name("p"))
    got = bucket.get(where={Key.NS: "p"}, include=["embeddings", "metadatas"])
    if step != "announced":
        own = raw.create_collection(
            collection_name("p"),
            metadata={
                Key.NAMESPACE: "p",
                Key.MODEL: "hash-64",
                Key.DIM: 64,
                Key.LAYOUT: 3,
                Key.FILLING: True,
            },
            configuration={"hnsw": {"space": "cosine"}},
            embedding_function=None,
        )
        place = Place(bucket, "p", shared=True)
        metas = [dict(m) for m in got["metadatas"]]
        ids = [place.record_id(cid, m) for cid, m in zip(got["ids"], metas, strict=True)]
        half = len(ids) if step != "filling" else len(ids) // 2
        own.upsert(ids=ids[:half], embeddings=np.asarray(got["embeddings"][:half]), metadatas=metas[:half])
        if step in ("filled", "cleared-half"):
            own.modify(
                metadata={
                    Key.NAMESPACE: "p",
                    Key.MODEL: "hash-64",
                    Key.DIM: 64,
                    Key.LAYOUT: 3,
                    Key.FILLING: False,
                }
            )
        if step == "cleared-half":
            bucket.delete(ids=got["ids"][:6])
    del raw
    # A threshold the 12 memories pass half of, so a finished promotion stays.
    with MemoryEngine(store, embedder=HashEmbedder(64), settings=Settings(own_collection_at=20)) as engine:
        assert _content(engine, "p") == live
        assert engine.namespaces() == ["p"]
        assert engine.recall("row 5", namespace="p", k=1)[0].memory.content == "row 5"
    raw = _raw(store)
    assert not raw.get_collection(META_COLLECTION).get(ids=[move_id("p")], include=[])["ids"]
    promoted = step in ("filled", "cleared-half")
    assert (collection_name("p") in _names(store)) == promoted
    left = raw.get_collection(shared_name("p")).get(where={Key.NS: "p"}, include=[])["ids"]
    assert bool(left) == (not promoted)


def test_own_layout_gives_each_namespace_its_collection(tmp_path: Path) -> None:
    store = tmp_path / "s"
    with MemoryEngine(store, embedder=HashEmbedder(64), settings=Settings(namespace_layout="own")) as engine:
        engine.remember("a", namespace="one")
        engine.remember("b", namespace="two")
    names = _names(store)
    assert collection_name("one") in names and collection_name("two") in names
    assert not [n for n in names if n.startswith(SHARED_PREFIX)]


# -- Chroma Cloud's limits (issue 17) ---------------------------------------------------


def test_a_wide_where_clause_is_cut_into_parts_of_at_most_eight_conditions() -> None:
    tags = [{"pm_tags": {"$contains": f"t{i}"}} for i in range(12)]
    where = {"$and": [{"pm_ns": "a"}, {"pm_priority": {"$gte": 2}}, {"$or": tags}]}
    parts = split_where(where)
    assert len(parts) == 2 and all(predicates(p) <= MAX_PREDICATES for p in parts)
    # Together the parts hold every option once, each beside the other conditions.
    options = [o for p in parts for o in p["$and"][2]["$or"]]  # type: ignore[index]
    assert options == tags
    assert all(p["$and"][:2] == where["$and"][:2] for p in parts)  # type: ignore[index]
    assert split_where({"pm_ns": "a"}) == [{"pm_ns": "a"}]
    assert split_where(None) == [None]


@pytest.mark.parametrize("layout", ["shared", "own"])
def test_filters_past_eight_conditions_select_what_they_say(layout: str) -> None:
    settings = Settings(namespace_layout=layout)
    wanted = [f"t{i}" for i in range(12)]
    with MemoryEngine(client=ephemeral_client(), embedder=HashEmbedder(64), settings=settings) as engine:
        for i in range(14):  # notes 10-13 lack the last tag
            tags = wanted if i < 10 else wanted[:-1]
            engine.remember(f"note {i} about the ledger", tags=tags, priority="low" if i % 2 else "high")
        engine.remember_many([{"content": f"filler {j}"} for j in range(60)])
        listed = {m.content for m in engine.list(tags=wanted, limit=100)}
        assert listed == {f"note {i} about the ledger" for i in range(10)}
        assert len(engine.list(tags=wanted, limit=3)) == 3
        hits = engine.recall("ledger", tags=wanted, min_priority="high", since="7d", k=20)
        assert {h.memory.content for h in hits} == {f"note {i} about the ledger" for i in range(0, 10, 2)}
        assert engine.forget(tags=wanted) == 10
        assert len(engine.list(tags=wanted[:-1])) == 4


def test_a_query_whose_conditions_are_checked_here_asks_again_until_enough_pass() -> None:
    col = ephemeral_client().create_collection("wide-query", configuration={"hnsw": {"space": "cosine"}})
    # Record i's vector turns away from the query as i grows; only records 50+ pass v >= 50.
    angles = np.linspace(0.0, 1.5, 100)
    col.add(
        ids=[f"r{i}" for i in range(100)],
        embeddings=np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32),
        metadatas=[{**{f"k{j}": 1 for j in range(8)}, "v": i} for i in range(100)],
    )
    where = {"$and": [*({f"k{j}": 1} for j in range(8)), {"v": {"$gte": 50}}]}
    got = _query(col, np.array([1.0, 0.0], np.float32), 5, where, ["metadatas"])
    assert got["ids"] == [[f"r{i}" for i in range(50, 55)]]


def test_an_audit_record_stays_within_a_chroma_cloud_document() -> None:
    with MemoryEngine(client=ephemeral_client(), embedder=HashEmbedder(64), settings=Settings()) as engine:
        engine.remember_many([{"content": f"row {i}", "tags": ["bulk"]} for i in range(1200)])
        assert engine.forget(tags=["bulk"]) == 1200
        (record,) = [r for r in engine.audit_log() if r.count == 1200]
        assert 400 < len(record.ids) < 1200  # as many ids as fit; the count says how many in all
        stored = engine._store.meta_get([record.id])[record.id]
        assert len(stored.document.encode()) <= MAX_DOCUMENT
        assert json.loads(stored.document)["ids_truncated"] is True


def test_recall_in_a_shared_namespace_emptied_by_forget() -> None:
    with MemoryEngine(client=ephemeral_client(), embedder=HashEmbedder(64), settings=Settings()) as engine:
        made = engine.remember("the only memory", namespace="solo")
        engine.forget([made.id], namespace="solo")
        assert engine.recall("the only memory", namespace="solo") == []
        assert engine.recall("anything", namespace="solo", tags=["x"]) == []


def test_a_state_read_that_raced_a_drop_is_not_kept(tmp_path: Path) -> None:
    with MemoryEngine(tmp_path / "s", embedder=HashEmbedder(64), settings=Settings()) as engine:
        engine.remember("a note", namespace="gone")
        store = engine._store
        store._forget_place("gone")  # nothing kept: the next use reads the state record
        meta = store._meta()
        read = meta.get

        def get_then_drop(*args: object, **kwargs: object) -> object:
            got = read(*args, **kwargs)
            meta.get = read
            store.drop("gone")  # after the read, before what it read is kept
            return got

        meta.get = get_then_drop
        assert store._entry("gone") is not None  # the read saw the record
        assert "gone" not in store._states
        assert not store.is_shared("gone") and store.namespaces() == []


# -- many namespaces in one write --------------------------------------------------------


def _many(count: int, per: int, start: int = 0) -> list[dict[str, object]]:
    return [
        {
            "content": f"fact {j} of tenant {n}",
            "namespace": f"ns-{n}",
            "priority": "high" if j else "critical",
        }
        for n in range(start, start + count)
        for j in range(per)
    ]


def test_one_write_across_many_namespaces_is_sent_in_few_calls(tmp_path: Path) -> None:
    with MemoryEngine(tmp_path / "s", embedder=HashEmbedder(64), settings=Settings()) as engine:
        engine.remember("an older fact", namespace="ns-3")  # one namespace exists already
        calls: list[int] = []
        store = engine._store
        for name in sorted({shared_name(f"ns-{n}") for n in range(40)}):
            col = store._bucket(f"ns-{next(n for n in range(40) if shared_name(f'ns-{n}') == name)}")
            send = col.upsert

            def counted(*args: object, _send: object = send, **kwargs: object) -> object:
                calls.append(len(kwargs["ids"]))  # type: ignore[arg-type]
                return _send(*args, **kwargs)  # type: ignore[operator]

            col.upsert = counted
        made = engine.remember_many(_many(40, 3))
        assert len(made) == 120 and [m.namespace for m in made] == [
            f"ns-{n}" for n in range(40) for _ in range(3)
        ]
        assert len(calls) == len({shared_name(f"ns-{n}") for n in range(40)}) and sum(calls) == 120
        again = engine.remember("fact 1 of tenant 3", namespace="ns-3")  # reinforced, not doubled
        assert again.id == made[10].id and engine.stats(namespace="ns-3")["count"] == 4
    with MemoryEngine(tmp_path / "s", embedder=HashEmbedder(64), settings=Settings()) as engine:
        assert engine.namespaces() == sorted(f"ns-{n}" for n in range(40))
        for n in (0, 17, 39):
            assert sorted(
                m.content for m in engine.list(namespace=f"ns-{n}") if "older" not in m.content
            ) == [f"fact {j} of tenant {n}" for j in range(3)]
            assert engine.recall(f"fact 2 of tenant {n}", namespace=f"ns-{n}", k=1)[0].memory.content == (
                f"fact 2 of tenant {n}"
            )
        # Again, with one more each: three reinforced, one new, in every namespace.
        engine.remember_many(_many(40, 4))
        assert [engine.stats(namespace=f"ns-{n}")["count"] for n in (0, 3, 39)] == [4, 5, 4]


def test_a_write_across_namespaces_that_fails_stores_nothing_of_its_group(tmp_path: Path) -> None:
    with MemoryEngine(tmp_path / "s", embedder=HashEmbedder(64), settings=Settings()) as engine:
        items = _many(10, 2)
        real = engine._core.embed_documents

        def fail_late(texts: list[str]) -> object:
            if any("tenant 6" in t for t in texts):
                raise RuntimeError("the model went away")
            return real(texts)

        engine._core.embed_documents = fail_late  # type: ignore[method-assign]
        with pytest.raises(RuntimeError, match="went away"):
            engine.remember_many(items)
        engine._core.embed_documents = real  # type: ignore[method-assign]
        assert engine.namespaces() == [] and engine.list(namespace="ns-2") == []
        assert len(engine.remember_many(items)) == 20 and len(engine.namespaces()) == 10
    with MemoryEngine(tmp_path / "s", embedder=HashEmbedder(64), settings=Settings()) as engine:
        assert sum(engine.stats(namespace=f"ns-{n}")["count"] for n in range(10)) == 20


def test_threads_and_growth_inside_a_write_across_namespaces(tmp_path: Path) -> None:
    settings = Settings(own_collection_at=20)
    with MemoryEngine(tmp_path / "s", embedder=HashEmbedder(64), settings=settings) as engine:
        items = [
            {"content": f"turn {j} in chat {n}", "namespace": f"chat-{n}", "thread": "t1"}
            for n in range(5)
            for j in range(4)
        ] + [{"content": f"row {j}", "namespace": "big"} for j in range(25)]
        engine.remember_many(items[:20] + [{"content": f"row {j}", "namespace": "grows"} for j in range(24)])
        store = engine._store
        assert all(store.has_threads(f"chat-{n}") and store.is_shared(f"chat-{n}") for n in range(5))
        assert not store.is_shared("grows")  # past own_collection_at: moved once the write was sent
        hits = engine.recall("turn 3 in chat 2", namespace="chat-2", k=1)
        assert hits[0].memory.content == "turn 3 in chat 2"
        assert engine.stats(namespace="grows")["count"] == 24
    with MemoryEngine(tmp_path / "s", embedder=HashEmbedder(64), settings=settings) as engine:
        assert engine._store.has_threads("chat-4") and engine._store.layout("chat-4") == 3


def test_namespaces_are_found_right_once_all_state_records_are_read(tmp_path: Path) -> None:
    settings = Settings(own_collection_at=30)
    store = tmp_path / "s"
    with MemoryEngine(store, embedder=HashEmbedder(64), settings=settings) as engine:
        engine.remember_many(_many(80, 2))
        engine.remember_many([{"content": f"row {j}", "namespace": "big"} for j in range(40)])
    with MemoryEngine(store, embedder=HashEmbedder(64), settings=settings) as engine:
        s = engine._store
        for n in range(70):  # one look-up each, until the store reads them all
            assert engine.recall(f"fact 1 of tenant {n}", namespace=f"ns-{n}", k=1)
        assert s._directory and s._own_names == {"big"}
        reads = s._entry_reads
        assert (
            engine.recall("fact 0 of tenant 75", namespace="ns-75", k=1)[0].memory.content
            == "fact 0 of tenant 75"
        )
        assert engine.recall("row 3", namespace="big", k=1)[0].memory.content == "row 3"
        assert engine.recall("anything", namespace="never-written") == []
        assert s._entry_reads == reads  # answered from memory
        engine.remember("a new one", namespace="fresh")
        s.drop("ns-76")
        engine.remember_many([{"content": f"row {j}", "namespace": "ns-77"} for j in range(30)])
        assert s.is_shared("fresh") and not s.is_shared("ns-77") and s.count("ns-77") == 32
        assert engine.list(namespace="ns-76") == [] and "ns-76" not in engine.namespaces()
        assert [m.content for m in engine.list(namespace="fresh")] == ["a new one"]
    with MemoryEngine(store, embedder=HashEmbedder(64), settings=settings) as engine:
        assert len(engine.namespaces()) == 81 and engine._store.count("ns-77") == 32


def test_writes_across_namespaces_from_several_threads_neither_deadlock_nor_double(tmp_path: Path) -> None:
    import threading

    with MemoryEngine(tmp_path / "s", embedder=HashEmbedder(64), settings=Settings()) as engine:
        errors: list[BaseException] = []

        def run(items: list[dict[str, object]]) -> None:
            try:
                for start in range(0, len(items), 50):
                    engine.remember_many(items[start : start + 50])
            except BaseException as exc:  # reported below
                errors.append(exc)

        forward = _many(30, 3)
        backward = list(reversed(_many(30, 3)))  # the same memories, namespaces in the other order
        singles = [dict(item, content=f"{item['content']} (alone)") for item in _many(30, 1)]
        threads = [threading.Thread(target=run, args=(part,)) for part in (forward, backward, singles)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(t.is_alive() for t in threads) and not errors
        assert [engine.stats(namespace=f"ns-{n}")["count"] for n in range(30)] == [4] * 30


def test_range_conditions_on_a_shared_namespace_are_checked_here_not_by_chroma(tmp_path: Path) -> None:
    with MemoryEngine(tmp_path / "s", embedder=HashEmbedder(64), settings=Settings()) as engine:
        engine.remember_many(
            [
                {"content": f"note {i}", "priority": "high" if i % 2 else "low", "namespace": "t"}
                for i in range(10)
            ]
        )
        col = engine._store._bucket("t")
        sent: list[object] = []
        read = col.get

        def spy(*args: object, **kwargs: object) -> object:
            sent.append(kwargs.get("where"))
            return read(*args, **kwargs)

        col.get = spy
        got = engine.list(namespace="t", since="7d", min_priority="high", limit=20)
        assert sorted(m.content for m in got) == [f"note {i}" for i in range(1, 10, 2)]
        assert sent and not any(op in json.dumps(sent) for op in ('"$gt"', '"$gte"', '"$lt"', '"$lte"'))
    where = {
        "$and": [{"pm_ns": "t"}, {"$and": [{"pm_priority": {"$gte": 3}}, {"pm_tags": {"$contains": "x"}}]}]
    }
    assert narrow_where(where, ranges_here=True) == (
        {"$and": [{"pm_ns": "t"}, {"pm_tags": {"$contains": "x"}}]},
        [{"pm_priority": {"$gte": 3}}],
    )


def test_a_read_meeting_a_write_still_being_applied_is_asked_again() -> None:
    from priomem._chroma_calls import read_again

    answers: list[object] = [RuntimeError("Error executing plan: Internal error: Error finding id")] * 2 + [
        "ok"
    ]

    def call() -> object:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert read_again(call) == "ok" and answers == []
    with pytest.raises(RuntimeError, match="other"):
        read_again(lambda: (_ for _ in ()).throw(RuntimeError("other failure")))
