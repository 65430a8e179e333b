"""PriomemStore: LangGraph's BaseStore contract on priomem."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pytest
from langgraph.store.base import (
    GetOp,
    InvalidNamespaceError,
    ListNamespacesOp,
    MatchCondition,
    PutOp,
    SearchOp,
)

from priomem import InvalidInputError, MemoryEngine, Priority, WrongTypeError
from priomem.adapters.langgraph import PriomemStore
from priomem.adapters.langgraph._naming import encode_namespace

ALICE = ("users", "alice")


def test_put_then_get_returns_the_value_exactly(store: PriomemStore) -> None:
    value = {
        "text": "Zoë prefers dark mode 🌙",
        "nested": {"list": [1, 2.5, None, True, {"deep": "x"}], "empty": {}},
        "control": "tab\tnewline\nnul\x00bell\x07del\x7f",
        "surrogate": "\ud800",
        "big": 2**62,
        "float": 0.1,
    }
    store.put(ALICE, "profile", value)
    item = store.get(ALICE, "profile")
    assert item is not None
    assert item.value == value and item.key == "profile" and item.namespace == ALICE
    assert isinstance(item.created_at, datetime) and item.created_at.tzinfo is not None
    assert store.get(ALICE, "missing") is None
    assert store.get(("users", "bob"), "profile") is None


def test_values_larger_than_one_metadata_field(store: PriomemStore) -> None:
    value = {"notes": [f"note {i:05d} " + "x" * 40 for i in range(1000)]}  # ~55k characters of JSON
    store.put(ALICE, "notes", value)
    item = store.get(ALICE, "notes")
    assert item is not None and item.value == value
    with pytest.raises(InvalidInputError, match="keep large blobs elsewhere"):
        store.put(ALICE, "huge", {"blob": "y" * 600_000})
    assert store.get(ALICE, "huge") is None


def test_put_replaces_keeps_created_at_and_value_none_deletes(
    store: PriomemStore, engine: MemoryEngine
) -> None:
    store.put(ALICE, "prefs", {"theme": "dark"})
    first = store.get(ALICE, "prefs")
    store.put(ALICE, "prefs", {"theme": "light"})
    second = store.get(ALICE, "prefs")
    assert first is not None and second is not None
    assert second.value == {"theme": "light"}
    assert second.created_at == first.created_at and second.updated_at > first.updated_at
    name = encode_namespace("lg", ALICE)
    assert len(engine.list(namespace=name)) == 1  # replaced, not added
    store.put(ALICE, "prefs", {"theme": "light"})  # same value again: still one item
    assert len(engine.list(namespace=name)) == 1
    store.delete(ALICE, "prefs")
    assert store.get(ALICE, "prefs") is None
    assert engine.list(namespace=name) == []
    store.batch([PutOp(ALICE, "never-existed", None)])  # deleting nothing is fine


def test_equal_values_under_different_keys_stay_separate(store: PriomemStore) -> None:
    # priomem merges equal content; the store keeps one item per key regardless.
    for key in ("a b", "a  b", "a\tb", "a\u00a0b", "ab"):
        store.put(ALICE, key, {"same": "value"})
    for key in ("a b", "a  b", "a\tb", "a\u00a0b", "ab"):
        item = store.get(ALICE, key)
        assert item is not None and item.key == key
    assert len(store.search(ALICE, limit=50)) == 5


def test_keys_namespaces_and_labels_of_any_text(store: PriomemStore) -> None:
    odd = ("Zoë", "a:b", "x@y", "space here", "emoji😀", "ends-with-", "_")
    store.put(odd, "ключ/with:colons", {"v": 1})
    assert store.get(odd, "ключ/with:colons") is not None
    assert odd in store.list_namespaces()
    deep = tuple(f"level-{i:02d}-" + "x" * 10 for i in range(12))  # encodes past 128 characters
    assert "@" in encode_namespace("lg", deep)
    store.put(deep, "k", {"v": 2})
    item = store.get(deep, "k")
    assert item is not None and item.namespace == deep and item.value == {"v": 2}
    assert deep in store.list_namespaces(prefix=("level-00-xxxxxxxxxx",))
    assert [i.key for i in store.search(deep[:3])] == ["k"]


def test_langgraph_namespace_rules_are_enforced(store: PriomemStore) -> None:
    with pytest.raises(InvalidNamespaceError):
        store.put(("a.b",), "k", {"v": 1})
    with pytest.raises(InvalidNamespaceError):
        store.put((), "k", {"v": 1})
    with pytest.raises(InvalidNamespaceError):
        store.batch([PutOp(("a.b",), "k", {"v": 1})])  # ops handed straight to batch too
    with pytest.raises(InvalidNamespaceError):
        store.batch([PutOp((), "k", {"v": 1})])
    with pytest.raises(InvalidNamespaceError):
        store.get(("",), "k")
    with pytest.raises(InvalidNamespaceError):
        store.batch([SearchOp(("users.alice",))])
    with pytest.raises(InvalidNamespaceError):
        store.batch([GetOp(("a\x00",), "k")])
    with pytest.raises(InvalidNamespaceError):
        store.batch([ListNamespacesOp(match_conditions=(MatchCondition("prefix", ("a.b",)),))])


def test_bad_values_and_ttls_are_refused_before_writing(store: PriomemStore) -> None:
    with pytest.raises(WrongTypeError, match="cannot be stored as JSON"):
        store.put(ALICE, "k", {"when": datetime.now()})
    with pytest.raises(WrongTypeError, match="expected a dict"):
        store.batch([PutOp(ALICE, "k", ["not", "a", "dict"])])  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="positive number of minutes"):
        store.put(ALICE, "k", {"v": 1}, ttl=-5)
    assert store.get(ALICE, "k") is None
    with pytest.raises(WrongTypeError, match="not a store operation"):
        store.batch(["get everything"])  # type: ignore[list-item]
    with pytest.raises(InvalidInputError, match="operator"):
        store.search(ALICE, filter={"n": {"$regex": "x"}})


# -- search ------------------------------------------------------------------------------


@pytest.fixture
def foods(store: PriomemStore) -> PriomemStore:
    store.put(ALICE, "lunch", {"food": "pizza with mushrooms", "rating": 5, "tags": ["italian"]})
    store.put(ALICE, "dinner", {"food": "green curry with rice", "rating": 4, "tags": ["thai"]})
    store.put(ALICE, "breakfast", {"food": "porridge with berries", "rating": 2, "tags": []})
    store.put(("users", "bob"), "lunch", {"food": "pizza margherita", "rating": 3, "tags": ["italian"]})
    store.put(("teams", "data"), "lunch", {"food": "pizza for the whole team", "rating": 4})
    return store


def test_query_ranks_by_recall_within_the_prefix(foods: PriomemStore) -> None:
    hits = foods.search(("users",), query="pizza", limit=3)
    assert {(h.namespace, h.key) for h in hits[:2]} == {(ALICE, "lunch"), (("users", "bob"), "lunch")}
    assert all(h.namespace[0] == "users" for h in hits)
    scores = [h.score for h in hits]
    assert all(s is not None for s in scores) and scores == sorted(scores, reverse=True)  # type: ignore[type-var]
    everywhere = foods.search((), query="pizza", limit=10)
    assert {h.namespace for h in everywhere} == {ALICE, ("users", "bob"), ("teams", "data")}


def test_filter_on_value_fields(foods: PriomemStore) -> None:
    def keys(**kwargs: Any) -> set[tuple[tuple[str, ...], str]]:
        return {(h.namespace, h.key) for h in foods.search(("users",), limit=20, **kwargs)}

    assert keys(filter={"rating": 5}) == {(ALICE, "lunch")}
    assert keys(filter={"rating": {"$gte": 3}}) == {
        (ALICE, "lunch"),
        (ALICE, "dinner"),
        (("users", "bob"), "lunch"),
    }
    assert keys(filter={"rating": {"$gt": 2, "$lt": 5}}) == {(ALICE, "dinner"), (("users", "bob"), "lunch")}
    assert keys(filter={"rating": {"$ne": 4}, "tags": ["italian"]}) == {
        (ALICE, "lunch"),
        (("users", "bob"), "lunch"),
    }
    assert keys(filter={"missing": {"$gt": 1}}) == set()
    with_query = foods.search(("users",), query="pizza", filter={"rating": {"$lte": 3}})
    assert (with_query[0].namespace, with_query[0].key) == (("users", "bob"), "lunch")
    assert all(h.value["rating"] <= 3 for h in with_query)


def test_query_with_a_selective_filter_still_fills_the_page(store: PriomemStore) -> None:
    for i in range(30):
        store.put(ALICE, f"note-{i}", {"text": f"pizza note number {i}", "special": i % 10 == 0})
    hits = store.search(ALICE, query="pizza note", filter={"special": True}, limit=3)
    assert sorted(h.key for h in hits) == ["note-0", "note-10", "note-20"]


def test_without_query_newest_first_with_offset_and_limit(foods: PriomemStore) -> None:
    newest = [(h.namespace, h.key) for h in foods.search((), limit=10)]
    assert newest == [
        (("teams", "data"), "lunch"),
        (("users", "bob"), "lunch"),
        (ALICE, "breakfast"),
        (ALICE, "dinner"),
        (ALICE, "lunch"),
    ]
    page = [(h.namespace, h.key) for h in foods.search((), limit=2, offset=2)]
    assert page == newest[2:4]
    assert all(h.score is None for h in foods.search(ALICE))
    assert foods.search(ALICE, limit=0) == []
    assert foods.search(("nobody",)) == []


def test_offset_with_a_query_pages_through_the_ranking(foods: PriomemStore) -> None:
    ranked = [(h.namespace, h.key) for h in foods.search((), query="pizza", limit=5)]
    page = [(h.namespace, h.key) for h in foods.search((), query="pizza", limit=2, offset=1)]
    assert page == ranked[1:3]


def test_index_fields_and_index_false(engine: MemoryEngine) -> None:
    store = PriomemStore(engine=engine, fields=["title"])
    store.put(ALICE, "a", {"title": "quarterly budget review", "body": "volcano eruption"})
    store.put(ALICE, "b", {"title": "volcano trip photos", "body": "budget"})
    store.put(ALICE, "c", {"title": "volcano", "body": "not searchable"}, index=False)
    store.put(ALICE, "d", {"title": "x", "body": "volcano lava notes"}, index=["body"])
    ranked = store.search(ALICE, query="volcano", limit=4)
    keys = [h.key for h in ranked]
    assert keys[-1] == "c" and ranked[-1].score is None  # unindexed: only fills a short page
    assert set(keys[:2]) == {"b", "d"}  # their indexed text says volcano; a's title does not
    assert store.search(ALICE, query="volcano", limit=2)[0].key in {"b", "d"}
    assert store.get(ALICE, "c") is not None


def test_list_namespaces(foods: PriomemStore, engine: MemoryEngine) -> None:
    foods.put(("users", "alice", "archive", "2024"), "old", {"v": 1})
    engine.remember("not a store item", namespace="default")
    assert foods.list_namespaces() == [
        ("teams", "data"),
        ("users", "alice"),
        ("users", "alice", "archive", "2024"),
        ("users", "bob"),
    ]
    assert foods.list_namespaces(prefix=("users",), max_depth=2) == [("users", "alice"), ("users", "bob")]
    assert foods.list_namespaces(suffix=("lunch",)) == []
    assert foods.list_namespaces(suffix=("data",)) == [("teams", "data")]
    assert foods.list_namespaces(prefix=("*", "alice")) == [
        ("users", "alice"),
        ("users", "alice", "archive", "2024"),
    ]
    assert foods.list_namespaces(prefix=("users",), suffix=("2024",)) == [
        ("users", "alice", "archive", "2024")
    ]
    assert foods.list_namespaces(max_depth=1) == [("teams",), ("users",)]
    assert foods.list_namespaces(limit=2, offset=1) == [
        ("users", "alice"),
        ("users", "alice", "archive", "2024"),
    ]
    foods.delete(("teams", "data"), "lunch")  # an emptied namespace is no longer listed
    assert ("teams", "data") not in foods.list_namespaces()


def test_a_store_prefix_isolates_stores_on_one_engine(engine: MemoryEngine) -> None:
    one, two = PriomemStore(engine=engine, prefix="one"), PriomemStore(engine=engine, prefix="two")
    one.put(ALICE, "k", {"store": 1})
    two.put(ALICE, "k", {"store": 2})
    assert one.get(ALICE, "k").value == {"store": 1}  # type: ignore[union-attr]
    assert two.get(ALICE, "k").value == {"store": 2}  # type: ignore[union-attr]
    assert one.list_namespaces() == [ALICE]
    with pytest.raises(InvalidInputError, match="prefix"):
        PriomemStore(engine=engine, prefix="bad.prefix")
    with pytest.raises(InvalidInputError, match="not a valid tag"):
        PriomemStore(engine=engine, tags=["no spaces allowed"])
    with pytest.raises(InvalidInputError, match="fields"):
        PriomemStore(engine=engine, fields="text")


def test_priority_and_tags_of_items(engine: MemoryEngine) -> None:
    store = PriomemStore(engine=engine, priority="critical", tags=["langgraph"])
    store.put(ALICE, "sla", {"text": "Reports are due by 09:00"})
    (memory,) = engine.list(namespace=encode_namespace("lg", ALICE))
    assert memory.priority is Priority.CRITICAL and "langgraph" in memory.tags
    assert "Reports are due by 09:00" in memory.content


# -- TTL ---------------------------------------------------------------------------------


def test_ttl_expires_items(store: PriomemStore) -> None:
    store.put(ALICE, "short", {"v": 1}, ttl=0.01)  # 0.6 seconds
    store.put(ALICE, "long", {"v": 2}, ttl=60)
    assert store.get(ALICE, "short", refresh_ttl=False) is not None
    time.sleep(0.7)
    assert store.get(ALICE, "short") is None
    assert [h.key for h in store.search(ALICE)] == ["long"]
    assert store.get(ALICE, "long") is not None


def _expiry(engine: MemoryEngine, key: str) -> datetime:
    (memory,) = [m for m in engine.list(namespace=encode_namespace("lg", ALICE)) if key in m.content]
    assert memory.expires_at is not None
    return memory.expires_at


def test_reads_refresh_the_ttl_unless_told_not_to(store: PriomemStore, engine: MemoryEngine) -> None:
    store.put(ALICE, "session", {"v": 1}, ttl=10)
    start = _expiry(engine, "session")
    time.sleep(0.05)
    store.get(ALICE, "session", refresh_ttl=False)
    store.search(ALICE, refresh_ttl=False)
    assert _expiry(engine, "session") == start
    store.get(ALICE, "session")
    after_get = _expiry(engine, "session")
    assert after_get > start
    time.sleep(0.05)
    store.search(ALICE, query="session")
    assert _expiry(engine, "session") > after_get
    assert store.get(ALICE, "session").value == {"v": 1}  # type: ignore[union-attr]


def test_ttl_config_default_and_refresh(engine: MemoryEngine) -> None:
    store = PriomemStore(engine=engine, ttl={"default_ttl": 5, "refresh_on_read": False})
    store.put(ALICE, "k", {"v": 1})
    start = _expiry(engine, "k")
    remaining = (start - datetime.now(start.tzinfo)).total_seconds()
    assert 290 < remaining <= 300
    time.sleep(0.05)
    store.get(ALICE, "k")
    assert _expiry(engine, "k") == start
    store.put(ALICE, "forever", {"v": 2}, ttl=None)
    assert store.get(ALICE, "forever") is not None
    assert [
        m.expires_at for m in engine.list(namespace=encode_namespace("lg", ALICE)) if "forever" in m.content
    ] == [None]


# -- batch and async ---------------------------------------------------------------------


def test_batch_runs_ops_in_order(store: PriomemStore) -> None:
    results = store.batch(
        [
            PutOp(ALICE, "k", {"v": 1}),
            GetOp(ALICE, "k"),
            PutOp(ALICE, "k", {"v": 2}),
            SearchOp(ALICE, query="v"),
            ListNamespacesOp(),
            PutOp(ALICE, "k", None),
            GetOp(ALICE, "k"),
        ]
    )
    assert results[0] is None and results[1].value == {"v": 1}  # type: ignore[union-attr]
    assert [i.value for i in results[3]] == [{"v": 2}]  # type: ignore[union-attr]
    assert results[4] == [ALICE]
    assert results[6] is None


async def test_async_api(store: PriomemStore) -> None:
    await store.aput(ALICE, "k", {"food": "pizza"}, ttl=30)
    item = await store.aget(ALICE, "k")
    assert item is not None and item.value == {"food": "pizza"}
    assert [h.key for h in await store.asearch(("users",), query="pizza")] == ["k"]
    assert await store.alist_namespaces(prefix=("users",)) == [ALICE]
    await store.adelete(ALICE, "k")
    assert await store.aget(ALICE, "k") is None
