"""MemoryEngine behaviour with the hash embedder on in-memory Chroma."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from priomem import (
    HashEmbedder,
    InvalidInputError,
    MemoryEngine,
    ModelMismatchError,
    Priority,
    Settings,
    StoreLockedError,
    WrongTypeError,
)
from priomem._timeparse import utcnow


def digest(engine: MemoryEngine) -> list[tuple[str, str, str]]:
    """Every record of every namespace, for before/after comparisons."""
    out = []
    for ns in engine.namespaces():
        for m in engine.list(namespace=ns, limit=1000):
            out.append((ns, m.id, repr(m.to_dict())))
    return sorted(out)


def test_remember_returns_the_stored_memory(engine: MemoryEngine) -> None:
    m = engine.remember(
        "  Orders SLA is 06:00 UTC ",
        priority="critical",
        tags=["sla", "orders"],
        metadata={"team": "finance", "n": 3},
        refs=["01ABC"],
    )
    assert m.content == "Orders SLA is 06:00 UTC"
    assert m.priority is Priority.CRITICAL and m.tags == ("sla", "orders") and m.refs == ("01ABC",)
    assert dict(m.metadata) == {"team": "finance", "n": 3}
    assert m.created_at.tzinfo is not None and m.expires_at is None and m.access_count == 0
    got = engine.get(m.id)
    assert got == m


def test_memory_is_immutable(engine: MemoryEngine) -> None:
    m = engine.remember("x marks the spot")
    with pytest.raises(AttributeError):
        m.content = "changed"  # type: ignore[misc]
    with pytest.raises(TypeError):
        m.metadata["k"] = 1  # type: ignore[index]


def test_dedup_reinforces_instead_of_copying(engine: MemoryEngine) -> None:
    first = engine.remember("The  nightly ETL\tfailed", priority="low", tags=["etl"], metadata={"a": 1})
    again = engine.remember("the nightly ETL failed")  # case differs: a different memory
    assert again.id != first.id
    second = engine.remember(
        "The nightly ETL failed  ", priority="high", tags=["incident"], metadata={"b": 2}
    )
    assert second.id == first.id
    assert second.priority is Priority.HIGH and second.tags == ("etl", "incident")
    assert dict(second.metadata) == {"a": 1, "b": 2} and second.access_count == 1
    assert second.expires_at is None  # HIGH keeps it; LOW's 30 days no longer apply
    lower = engine.remember("The nightly ETL failed", priority="low")
    assert lower.priority is Priority.HIGH  # the higher priority is kept
    assert len(engine.list()) == 2


def test_remember_many_batches_and_dedups_within_the_batch(engine: MemoryEngine) -> None:
    out = engine.remember_many(
        [
            {"content": "alpha"},
            {"content": "beta", "priority": "high", "namespace": "other"},
            {"content": "alpha ", "tags": ["t"]},
        ]
    )
    assert len(out) == 3 and out[0].id == out[2].id and out[2].tags == ("t",)
    assert out[1].namespace == "other"
    assert len(engine.list()) == 1 and len(engine.list(namespace="other")) == 1


def test_remember_many_validates_everything_first(engine: MemoryEngine) -> None:
    engine.remember("kept")
    before = digest(engine)
    with pytest.raises(InvalidInputError, match=r"items\[1\]\.priority"):
        engine.remember_many([{"content": "fine"}, {"content": "bad", "priority": "urgent"}])
    with pytest.raises(InvalidInputError, match=r"items\[0\].*unknown keys"):
        engine.remember_many([{"content": "x", "colour": "red"}])
    with pytest.raises(WrongTypeError, match=r"items\[0\]"):
        engine.remember_many(["just a string"])  # type: ignore[list-item]
    assert digest(engine) == before
    assert engine.remember_many([]) == []


def test_namespaces_are_isolated(engine: MemoryEngine) -> None:
    a = engine.remember("shared words here", namespace="user:alice")
    engine.remember("shared words here", namespace="user:bob")
    assert engine.get(a.id, namespace="user:bob") is None
    hits = engine.recall("shared words", namespace="user:bob")
    assert [h.memory.namespace for h in hits] == ["user:bob"]
    assert engine.forget(ids=[a.id], namespace="user:bob") == 0
    assert engine.get(a.id, namespace="user:alice") is not None
    assert engine.namespaces() == ["user:alice", "user:bob"]


@pytest.mark.parametrize("bad", ["", "a b", "x/y", "../etc", "ns$", "n" * 129, "аlice", "ns\x00"])
def test_bad_namespaces_are_refused(engine: MemoryEngine, bad: str) -> None:
    with pytest.raises(InvalidInputError, match="namespace"):
        engine.remember("x", namespace=bad)


def test_recall_filters_by_tags_priority_and_time(engine: MemoryEngine) -> None:
    now = utcnow()
    engine.remember(
        "pipeline orders failed",
        tags=["orders", "incident"],
        priority="high",
        created_at=now - timedelta(hours=5),
    )
    engine.remember(
        "pipeline orders slow", tags=["orders"], priority="low", created_at=now - timedelta(days=5)
    )
    engine.remember(
        "pipeline billing failed", tags=["billing"], priority="critical", created_at=now - timedelta(hours=1)
    )
    contents = lambda hits: {h.memory.content for h in hits}  # noqa: E731
    assert contents(engine.recall("pipeline", k=10, tags=["orders"])) == {
        "pipeline orders failed",
        "pipeline orders slow",
    }
    assert contents(engine.recall("pipeline", k=10, tags=["orders", "incident"])) == {
        "pipeline orders failed"
    }
    assert contents(engine.recall("pipeline", k=10, min_priority="high")) == {
        "pipeline orders failed",
        "pipeline billing failed",
    }
    assert contents(engine.recall("pipeline", k=10, since="48h")) == {
        "pipeline orders failed",
        "pipeline billing failed",
    }
    assert contents(engine.recall("pipeline", k=10, until=now - timedelta(days=1))) == {
        "pipeline orders slow"
    }
    assert contents(engine.recall("pipeline", k=10, since="2h", min_priority=Priority.CRITICAL)) == {
        "pipeline billing failed"
    }
    assert engine.recall("pipeline", tags=["nope"]) == []


def test_selective_filters_still_find_matches_beyond_the_dense_pool(engine: MemoryEngine) -> None:
    engine.remember_many([{"content": f"routine metric reading number {i}"} for i in range(120)])
    engine.remember("completely unrelated compliance record", priority="critical", tags=["rare"])
    hits = engine.recall("routine metric reading", k=3, tags=["rare"])
    assert [h.memory.content for h in hits] == ["completely unrelated compliance record"]


def test_recall_on_empty_or_missing_namespace_is_empty(engine: MemoryEngine) -> None:
    assert engine.recall("anything") == []
    assert engine.recall("anything", namespace="never-used") == []


def test_recall_scores_are_ordered_and_explained(engine: MemoryEngine) -> None:
    engine.remember_many(
        [{"content": t} for t in ["red apples", "green apples and pears", "blue whales swim"]]
    )
    hits = engine.recall("apples", k=3)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(0.0 <= h.score <= 1.0 for h in hits)
    assert hits[0].memory.content in {"red apples", "green apples and pears"}
    # Three memories hold no rare words: meaning alone ranks them, and the parts say so.
    assert hits[0].parts.similarity > hits[-1].parts.similarity and hits[0].parts.lexical == 0
    assert hits[-1].memory.content == "blue whales swim"


@pytest.mark.parametrize("k", [0, -1, 1001, True, 2.5, "5"])
def test_k_out_of_range_is_a_clear_error(engine: MemoryEngine, k: object) -> None:
    with pytest.raises((InvalidInputError, WrongTypeError), match=r"^k:"):
        engine.recall("x", k=k)  # type: ignore[arg-type]


def test_recall_updates_access_bookkeeping(engine: MemoryEngine) -> None:
    m = engine.remember("remember to water the plants")
    engine.recall("water plants")
    engine.recall("water plants")
    engine._access.flush()  # recall defers the write; flushing makes it visible now
    got = engine.get(m.id)
    assert got is not None and got.access_count == 2 and got.last_accessed_at is not None


def test_ttl_counts_from_storage_and_expired_memories_vanish(engine: MemoryEngine) -> None:
    old = datetime(2020, 1, 1, tzinfo=UTC)
    imported = engine.remember("history from 2020", priority="low", created_at=old)
    assert imported.expires_at is not None and imported.expires_at > utcnow() + timedelta(days=29)
    assert engine.get(imported.id) is not None  # importing old history does not expire it on arrival
    short = engine.remember("temporary metric", ttl=0.2)
    assert engine.get(short.id) is not None
    import time

    time.sleep(0.3)
    assert engine.get(short.id) is None
    assert all(h.memory.id != short.id for h in engine.recall("temporary metric", k=10))
    assert short.id not in {m.id for m in engine.list()}
    assert engine.stats("default")["expired"] == 1
    assert engine.sweep() == 1
    assert engine.stats("default")["expired"] == 0
    assert engine.get(imported.id) is not None


def test_expired_duplicate_is_replaced_by_a_fresh_memory(engine: MemoryEngine) -> None:
    import time

    first = engine.remember("flaky test note", ttl=0.1)
    time.sleep(0.2)
    second = engine.remember("flaky test note")
    assert second.id != first.id and second.expires_at is None


def test_list_is_newest_first_and_pages(engine: MemoryEngine) -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    engine.remember_many(
        [{"content": f"event {i}", "created_at": base + timedelta(hours=i)} for i in range(30)]
    )
    page1 = engine.list(limit=10)
    page2 = engine.list(limit=10, offset=10)
    assert [m.content for m in page1] == [f"event {i}" for i in range(29, 19, -1)]
    assert [m.content for m in page2] == [f"event {i}" for i in range(19, 9, -1)]
    assert [m.content for m in engine.list(since=base + timedelta(hours=27))] == [
        "event 29",
        "event 28",
        "event 27",
    ]
    with pytest.raises(InvalidInputError, match="limit"):
        engine.list(limit=1001)
    with pytest.raises(InvalidInputError, match="offset"):
        engine.list(offset=-1)


def test_forget_by_ids_and_filters(engine: MemoryEngine) -> None:
    now = utcnow()
    a = engine.remember("debug a", priority="low", tags=["debug"], created_at=now - timedelta(days=10))
    b = engine.remember("debug b", priority="low", tags=["debug"])
    c = engine.remember("sla c", priority="critical", tags=["debug"], created_at=now - timedelta(days=10))
    assert engine.forget([]) == 0
    assert engine.forget(tags=["debug"], dry_run=True) == 3 and len(engine.list()) == 3
    assert engine.forget(tags=["debug"], max_priority="medium", before="7d") == 1
    assert engine.get(a.id) is None and engine.get(b.id) and engine.get(c.id)
    assert engine.forget([b.id, "01NOTTHERE"]) == 1
    report = engine.forget_report([c.id], dry_run=True)
    assert report.ids == (c.id,) and report.dry_run and engine.get(c.id)


def test_forget_without_selector_is_refused(engine: MemoryEngine) -> None:
    engine.remember("precious")
    with pytest.raises(InvalidInputError, match="everything=True"):
        engine.forget()
    assert len(engine.list()) == 1
    engine.remember("other ns", namespace="keep")
    assert engine.forget(everything=True) == 1
    assert engine.list() == [] and len(engine.list(namespace="keep")) == 1


def test_stats(engine: MemoryEngine) -> None:
    engine.remember("a", priority="low")
    engine.remember("bb", priority="critical", namespace="x")
    stats = engine.stats()
    assert stats["count"] == 2 and stats["by_priority"]["LOW"] == 1 and stats["by_priority"]["CRITICAL"] == 1
    assert stats["namespaces"]["x"]["bytes"] == 2 and stats["namespaces"]["default"]["oldest"]


def test_bad_input_leaves_the_store_unchanged(engine: MemoryEngine) -> None:
    engine.remember("baseline", tags=["t"])
    before = digest(engine)
    bad_calls = [
        lambda: engine.remember(""),
        lambda: engine.remember("   \n"),
        lambda: engine.remember("x" * 100_001),
        lambda: engine.remember("bad \ud800 surrogate"),
        lambda: engine.remember("nul \x00 byte"),
        lambda: engine.remember("bell \x07"),
        lambda: engine.remember(123),  # type: ignore[arg-type]
        lambda: engine.remember("x", priority="urgent"),
        lambda: engine.remember("x", tags="etl"),
        lambda: engine.remember("x", tags=["$or"]),
        lambda: engine.remember("x", tags=[""]),
        lambda: engine.remember("x", metadata={"nested": {"a": 1}}),
        lambda: engine.remember("x", metadata={"n": float("nan")}),
        lambda: engine.remember("x", metadata={"$ne": 1}),
        lambda: engine.remember("x", metadata={"n": None}),
        lambda: engine.remember("x", metadata=[1, 2]),
        lambda: engine.remember("x", ttl="-1d"),
        lambda: engine.remember("x", created_at="2026-02-30"),
        lambda: engine.remember("x", created_at="1969-12-31"),
        lambda: engine.remember("x", refs="notalist"),
        lambda: engine.recall("x", tags=["$or"]),
        lambda: engine.recall("x", since="soon"),
        lambda: engine.recall("x", since="1d", until="3d"),
        lambda: engine.forget(tags=["$ne"]),
        lambda: engine.forget(before="whenever"),
        lambda: engine.forget(ids=[{"$ne": "x"}]),  # type: ignore[list-item]
        lambda: engine.list(min_priority="critical", max_priority="low"),
    ]
    for call in bad_calls:
        with pytest.raises((InvalidInputError, WrongTypeError)) as info:
            call()
        assert info.value.field, info.value.message
    assert digest(engine) == before


def test_every_public_operation_has_an_async_twin_with_its_signature() -> None:
    import inspect

    public = {
        name
        for name, value in vars(MemoryEngine).items()
        if not name.startswith("_") and inspect.isfunction(value) and not inspect.iscoroutinefunction(value)
    }
    assert {"remember", "recall", "forget", "list", "consolidate", "import_"} <= public
    for name in sorted(public):
        twin = getattr(MemoryEngine, "a" + name, None)
        assert twin is not None and inspect.iscoroutinefunction(twin), (
            f"MemoryEngine.{name} has no async twin a{name}"
        )
        assert inspect.signature(twin) == inspect.signature(getattr(MemoryEngine, name)), name
    extra = {n[1:] for n, v in vars(MemoryEngine).items() if inspect.iscoroutinefunction(v)} - public
    assert not extra, f"async methods without a sync original: {extra}"


async def test_async_twins_run_off_the_event_loop(
    engine: MemoryEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    threads: list[int] = []
    embed = engine.embedder.embed_documents

    def spy(texts: Sequence[str]) -> Any:
        threads.append(threading.get_ident())
        return embed(texts)

    monkeypatch.setattr(engine.embedder, "embed_documents", spy)
    await engine.aremember("an async note", priority="high")
    assert threads and threading.get_ident() not in threads  # embedded on a worker thread
    assert (await engine.astats())["count"] == 1
    got = await engine.alist(limit=5)
    assert [m.content for m in got] == ["an async note"]
    assert await engine.anamespaces() == ["default"]
    assert (await engine.aforget_report([got[0].id])).count == 1
    assert await engine.aclose() is None


def test_async_twins_wrap_the_sync_core(engine: MemoryEngine) -> None:
    async def scenario() -> None:
        m = await engine.aremember("async hello", priority="high")
        many = await engine.aremember_many([{"content": "async one"}, {"content": "async two"}])
        hits = await engine.arecall("async hello", k=1)
        assert hits[0].memory.id == m.id and len(many) == 2
        assert (await engine.aget(m.id)) == engine.get(m.id)
        assert await engine.aforget([m.id]) == 1

    asyncio.run(scenario())


def test_threads_share_one_engine(engine: MemoryEngine) -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(15):
                engine.remember(f"thread {n} note {i}", namespace=f"t{n % 3}")
                engine.recall(f"note {i}", namespace=f"t{n % 3}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(engine.stats(f"t{i}")["count"] for i in range(3)) == 6 * 15


def test_memories_survive_a_restart(tmp_path: Path) -> None:
    settings = Settings()
    with MemoryEngine(tmp_path / "store", embedder=HashEmbedder(), settings=settings) as first:
        m = first.remember("persisted across restarts", priority="critical", tags=["p"], metadata={"k": "v"})
        first.recall("persisted")
    with MemoryEngine(tmp_path / "store", embedder=HashEmbedder(), settings=settings) as second:
        got = second.get(m.id)
        assert got is not None and got.content == m.content and got.priority is Priority.CRITICAL
        assert got.access_count == 1  # the deferred access write was flushed on close
        assert second.recall("persisted", k=1)[0].memory.id == m.id


def test_an_embedded_store_serves_one_process(tmp_path: Path) -> None:
    import subprocess
    import sys

    with MemoryEngine(tmp_path / "s", embedder=HashEmbedder(), settings=Settings()):
        code = (
            "from priomem import MemoryEngine, HashEmbedder, StoreLockedError, Settings\n"
            f"try:\n    MemoryEngine({str(tmp_path / 's')!r}, embedder=HashEmbedder(), settings=Settings())\n"
            "except StoreLockedError as e:\n    print('LOCKED', e)\n"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert out.stdout.startswith("LOCKED") and "chroma run" in out.stdout
    with MemoryEngine(tmp_path / "s", embedder=HashEmbedder(), settings=Settings()):
        pass  # released on close


def test_lock_error_in_process(tmp_path: Path) -> None:
    with MemoryEngine(tmp_path / "s", embedder=HashEmbedder(), settings=Settings()):
        pass
    # flock is per open file description: a second engine in the same process is refused too
    with (
        MemoryEngine(tmp_path / "s", embedder=HashEmbedder(), settings=Settings()),
        pytest.raises(StoreLockedError),
    ):
        MemoryEngine(tmp_path / "s", embedder=HashEmbedder(), settings=Settings())


def test_opening_with_another_model_is_refused(tmp_path: Path) -> None:
    with MemoryEngine(tmp_path / "s", embedder=HashEmbedder(64), settings=Settings()) as e:
        e.remember("written with the 64-d hash model")
    with pytest.raises(ModelMismatchError, match="migrate"):
        MemoryEngine(tmp_path / "s", embedder=HashEmbedder(32), settings=Settings())
    with MemoryEngine(tmp_path / "s", embedder=HashEmbedder(64), settings=Settings()) as e:
        assert len(e.list()) == 1  # the refused open changed nothing


def test_only_one_of_path_url_client(chroma_client: object, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="at most one"):
        MemoryEngine(tmp_path, client=chroma_client, embedder=HashEmbedder())


def test_set_priority_keeps_the_id_and_recomputes_retention(engine: MemoryEngine) -> None:
    from priomem import NotFoundError

    m = engine.remember("temporary metric", priority="low")
    assert m.expires_at is not None
    raised = engine.set_priority(m.id, "high")
    assert raised.id == m.id and raised.priority is Priority.HIGH and raised.expires_at is None
    assert engine.get(m.id) == raised
    with pytest.raises(NotFoundError, match="no memory"):
        engine.set_priority("01NOSUCHID", "low")
    with pytest.raises(InvalidInputError, match="priority"):
        engine.set_priority(m.id, "urgent")


def test_recall_can_leave_access_counts_alone(engine: MemoryEngine) -> None:
    m = engine.remember("looked at by a person")
    engine.recall("looked at", record_access=False)
    engine._access.flush()
    got = engine.get(m.id)
    assert got is not None and got.access_count == 0 and got.last_accessed_at is None


def test_reinforcing_cannot_grow_a_memory_past_its_bounds(engine: MemoryEngine) -> None:
    """Each reinforcement merges tags; the merged list stays within max_tags (Chroma breaks a
    collection for good on a metadata list of a few thousand entries)."""
    from priomem import InvalidInputError

    limit = engine.settings.max_tags
    engine.remember("the same fact", tags=[f"t{i}" for i in range(limit)])
    with pytest.raises(InvalidInputError, match="tags"):
        engine.remember("the same fact", tags=["one-more"])
    (only,) = engine.list()
    assert len(only.tags) == limit and engine.recall("the same fact")[0].memory.id == only.id


def test_a_large_write_that_fails_part_way_leaves_nothing_behind(chroma_client: object) -> None:
    from priomem import HashEmbedder
    from priomem._writes import WRITE_STEP

    class Failing(HashEmbedder):
        calls = 0

        def embed_documents(self, texts: Any) -> Any:
            Failing.calls += 1
            if Failing.calls == 3:
                raise RuntimeError("model server timed out")
            return super().embed_documents(texts)

    with MemoryEngine(client=chroma_client, embedder=Failing(64), settings=Settings()) as eng:
        eng.remember("already here")
        Failing.calls = 0
        with pytest.raises(RuntimeError, match="timed out"):
            eng.remember_many([{"content": f"note {i}"} for i in range(3 * WRITE_STEP)])
        assert [m.content for m in eng.list(limit=1000)] == ["already here"]


def test_consolidation_leaves_turns_of_threads_alone(engine: MemoryEngine) -> None:
    engine.remember("Yes, last Saturday, it was amazing!", thread="chat-alice")
    engine.remember("Yes, last Saturday, it was amazing!", thread="chat-bob")
    assert engine.consolidate(window="1h", min_similarity=0.5) == []
    assert sorted(m.thread or "" for m in engine.list()) == ["chat-alice", "chat-bob"]


def test_reimporting_a_thread_links_no_turn_to_itself(engine: MemoryEngine, tmp_path: Path) -> None:
    engine.remember_many([{"content": f"turn {i} here", "thread": "t"} for i in range(4)])
    engine.export(tmp_path / "x.jsonl")
    engine.import_(tmp_path / "x.jsonl")
    rows = engine._store.get("default", documents=False)
    for row in rows:
        assert row.id not in (row.metadata.get("pm_prev"), row.metadata.get("pm_prev2"))
    ids = {r.id for r in rows}
    assert all(r.metadata.get("pm_prev", r.id) in ids for r in rows)


# -- found by review (issue 16) -----------------------------------------------------------
async def test_async_twins_run_the_instances_own_methods(engine: MemoryEngine) -> None:
    calls: list[str] = []

    class Logged(MemoryEngine):
        def recall(self, query: str, **kwargs: Any) -> Any:  # type: ignore[override]
            calls.append(query)
            return super().recall(query, **kwargs)

    logged = Logged.__new__(Logged)
    logged.__dict__.update(engine.__dict__)  # the same engine, seen through a subclass
    await logged.arecall("hello", k=1)
    assert calls == ["hello"]

    def items() -> Any:
        assert threading.current_thread() is threading.main_thread()  # read on the caller's thread
        yield {"content": "from a generator"}

    assert [m.content for m in await engine.aremember_many(items())] == ["from a generator"]


def test_new_settings_apply_to_reads_and_writes_alike(engine: MemoryEngine) -> None:
    engine.settings = engine.settings.replace(default_namespace="team")
    written = engine.remember("a note for the team")
    assert written.namespace == "team"
    assert [h.memory.id for h in engine.recall("a note for the team", k=1)] == [written.id]


def test_list_sends_no_range_clause_unless_asked_for_bounds(
    engine: MemoryEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Embedded Chroma evaluates a range clause over the whole store: browsing a namespace
    # must not pay that for its expiry check.
    seen: list[Any] = []
    ids = engine._store.ids

    def spy(ns: str, **kwargs: Any) -> Any:
        seen.append(kwargs.get("where"))
        return ids(ns, **kwargs)

    monkeypatch.setattr(engine._store, "ids", spy)
    kept = [engine.remember(f"note {i}", tags=["etl"] if i % 2 else []) for i in range(7)]
    engine.remember("gone soon", ttl=0.2)
    threading.Event().wait(0.4)
    pages = [engine.list(limit=3, offset=o) for o in (0, 3, 6)]
    assert [m.id for page in pages for m in page] == [m.id for m in reversed(kept)]
    assert [m.id for m in engine.list(tags=["etl"])] == [m.id for m in reversed(kept) if "etl" in m.tags]
    assert all("$gt" not in repr(w) for w in seen)
    engine.list(min_priority="high")  # asked for a bound: Chroma applies it
    assert "$gte" in repr(seen[-1])
