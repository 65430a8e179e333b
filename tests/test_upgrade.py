"""A namespace written by an older priomem (record layout 1) is upgraded on first use."""

from __future__ import annotations

from typing import Any

from priomem import HashEmbedder, MemoryEngine, Settings
from priomem._lexical import term_key
from priomem._store import LAYOUT, LAYOUT_KEY, collection_name
from priomem._upgrade import upgrade_namespace


def _as_layout_1(client: Any, namespace: str) -> None:
    """Rewrite a namespace the way priomem 0.1 stored it: plain terms, links between notes."""
    col = client.get_collection(collection_name(namespace))
    got = col.get(include=["metadatas"])
    ids = sorted(got["ids"])
    metas = {rid: meta for rid, meta in zip(got["ids"], got["metadatas"], strict=True)}
    updates = []
    for position, rid in enumerate(ids):
        meta = dict(metas[rid])
        meta["pm_terms"] = [t.split(":", 1)[1] for t in meta["pm_terms"]]
        if position:
            meta["pm_prev"] = ids[position - 1]
        updates.append(meta)
    col.update(ids=ids, metadatas=updates)
    old = {k: v for k, v in (col.metadata or {}).items() if k != LAYOUT_KEY}
    col.modify(metadata=old)


def test_a_layout_1_namespace_is_upgraded_on_first_use(chroma_client: Any) -> None:
    notes = [f"Routine check {i} of the warehouse passed" for i in range(30)]
    with MemoryEngine(
        client=chroma_client, embedder=HashEmbedder(64), settings=Settings(namespace_layout="own")
    ) as eng:
        eng.remember_many([{"content": n, "namespace": "ops"} for n in notes])
        target = eng.remember("Ticket OPS-5521: rotate the vault key", namespace="ops")
    _as_layout_1(chroma_client, "ops")

    with MemoryEngine(
        client=chroma_client, embedder=HashEmbedder(64), settings=Settings(namespace_layout="own")
    ) as eng:
        hits = eng.recall("OPS-5521", k=3, namespace="ops")
        assert hits[0].memory.id == target.id and hits[0].parts.lexical > 0
        col = chroma_client.get_collection(collection_name("ops"))
        assert (col.metadata or {})[LAYOUT_KEY] == LAYOUT
        metas = col.get(include=["metadatas"])["metadatas"]
        key = term_key("ops")
        assert all(all(t.startswith(key) for t in m["pm_terms"]) for m in metas)
        assert not any("pm_prev" in m for m in metas)
        assert len(eng.list(namespace="ops", limit=1000)) == 31


def test_an_upgrade_can_be_repeated_and_leaves_current_namespaces_alone(chroma_client: Any) -> None:
    with MemoryEngine(
        client=chroma_client, embedder=HashEmbedder(64), settings=Settings(namespace_layout="own")
    ) as eng:
        eng.remember_many([{"content": f"note {i} on the lake", "namespace": "ops"} for i in range(5)])
        assert upgrade_namespace(eng._store, "ops") == 0  # already current
        _as_layout_1(chroma_client, "ops")
        eng._store._places.clear()  # forget the cached collection, as a new process would
        assert upgrade_namespace(eng._store, "ops") == 5
        assert upgrade_namespace(eng._store, "ops") == 0
        assert upgrade_namespace(eng._store, "never-written") == 0


def test_one_liveness_rule_a_record_without_expiry_never_expires(chroma_client: Any) -> None:
    # issue 16: "is this memory live?" had four answers for a record without pm_expires.
    with MemoryEngine(
        client=chroma_client, embedder=HashEmbedder(64), settings=Settings(namespace_layout="own")
    ) as eng:
        eng.remember_many([{"content": f"note {i} on the lake", "namespace": "ops"} for i in range(3)])
        old = eng.remember("The vault key is rotated every 90 days", namespace="ops")
    _as_layout_1(chroma_client, "ops")
    col = chroma_client.get_collection(collection_name("ops"))
    col.update(ids=[old.id], metadatas=[{"pm_expires": None}])  # None removes the key
    assert "pm_expires" not in col.get(ids=[old.id], include=["metadatas"])["metadatas"][0]

    with MemoryEngine(
        client=chroma_client, embedder=HashEmbedder(64), settings=Settings(namespace_layout="own")
    ) as eng:
        hits = eng.recall("vault key rotated", k=1, namespace="ops")
        assert hits[0].memory.id == old.id and hits[0].memory.expires_at is None
        assert old.id in {m.id for m in eng.list(namespace="ops", limit=100)}  # where clauses agree
        assert eng.stats(namespace="ops")["count"] == 4
        again = eng.remember("The vault key is rotated every 90 days", namespace="ops")
        assert again.id == old.id  # reinforced, not stored twice: the write path agrees too
        assert "pm_expires" in col.get(ids=[old.id], include=["metadatas"])["metadatas"][0]


def test_a_layout_2_namespace_gets_expiry_keys_so_list_agrees(chroma_client: Any) -> None:
    # Found by review: only layout-1 namespaces were given the key, so in a layout-2 one
    # list() (a where clause) missed a record that recall, stats and dedup call live.
    with MemoryEngine(
        client=chroma_client, embedder=HashEmbedder(64), settings=Settings(namespace_layout="own")
    ) as eng:
        kept = eng.remember("The vault key is rotated every 90 days", namespace="ops")
    col = chroma_client.get_collection(collection_name("ops"))
    col.update(ids=[kept.id], metadatas=[{"pm_expires": None}])
    col.modify(metadata={**(col.metadata or {}), LAYOUT_KEY: 2})
    with MemoryEngine(
        client=chroma_client, embedder=HashEmbedder(64), settings=Settings(namespace_layout="own")
    ) as eng:
        assert [m.id for m in eng.list(namespace="ops")] == [kept.id]
        assert (chroma_client.get_collection(collection_name("ops")).metadata or {})[LAYOUT_KEY] == LAYOUT
