"""Recall among notes reads only the candidates that can still make the top k: the result
must be the one reading every candidate gives (a filter that matches everything takes the
path that reads the whole pool, so it is the reference)."""

from __future__ import annotations

import time
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from priomem import MemoryEngine, Settings
from tests._chroma import ephemeral_client

DIM = 64


class SimEmbedder:
    """The query is e0; a document registered with similarity s gets s*e0 plus a unit
    vector orthogonal to e0, its own: each document's cosine to any query is exactly s."""

    name = "sim-embedder"
    dimension = DIM

    def __init__(self) -> None:
        self.sims: dict[str, float] = {}

    def _vector(self, text: str) -> np.ndarray:
        s = self.sims.get(text, 0.0)
        rng = np.random.default_rng(zlib.crc32(text.encode()))
        u = rng.normal(size=DIM)
        u[0] = 0
        v = u / np.linalg.norm(u) * np.sqrt(max(1 - s * s, 0.0))
        v[0] = s
        return v.astype(np.float32)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, DIM), np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        e = np.zeros(DIM, np.float32)
        e[0] = 1
        return e


def _engine(emb: SimEmbedder) -> MemoryEngine:
    client = ephemeral_client()
    client.reset()
    return MemoryEngine(client=client, embedder=emb, settings=Settings())


def _both(eng: MemoryEngine, query: str, k: int) -> tuple[list[str], list[str]]:
    fast = [h.memory.content for h in eng.recall(query, k=k, record_access=False)]
    full = [h.memory.content for h in eng.recall(query, k=k, record_access=False, min_priority="low")]
    return fast, full


def test_a_critical_memory_far_down_the_dense_order_still_wins_its_near_tie() -> None:
    emb = SimEmbedder()
    items: list[dict[str, Any]] = []
    for i in range(20):
        text = f"routine deploy chatter number {chr(97 + i)}"
        emb.sims[text] = 0.62 - i * 0.001
        items.append({"content": text, "priority": "low"})
    critical = "never rotate the signing key without approval"
    emb.sims[critical] = 0.58
    items.append({"content": critical, "priority": "critical"})
    with _engine(emb) as eng:
        eng.remember_many(items)
        fast, full = _both(eng, "how do we deploy", 1)
    assert fast == full == [critical]


def test_expired_memories_do_not_hide_the_answer() -> None:
    emb = SimEmbedder()
    a, b, c = "temporary deploy window note", "old deploy runbook from last year", "deploy freeze rule"
    emb.sims.update({a: 0.9, b: 0.75, c: 0.67})
    with _engine(emb) as eng:
        eng.remember(a, priority="low", ttl=1)
        eng.remember(b, priority="low", created_at="2020-01-01T00:00:00Z")
        eng.remember(c, priority="critical")
        time.sleep(1.2)
        fast, full = _both(eng, "deploy", 1)
    assert fast == full == [c]


def test_an_identifier_the_embedding_misses_is_found_beside_a_common_literal_word() -> None:
    emb = SimEmbedder()
    items = []
    for i in range(250):
        text = f"the Kafka consumer lag was fine, check number {i}"
        emb.sims[text] = 0.3 - i * 0.0001
        items.append({"content": text})
    target = "postmortem for incident INC-4312 is filed"
    emb.sims[target] = 0.05
    with _engine(emb) as eng:
        eng.remember_many([*items, {"content": target}])
        fast, full = _both(eng, "what happened with Kafka incident INC-4312", 3)
    assert fast[0] == full[0] == target and fast == full


def test_a_new_reader_sees_the_turns_another_engine_wrote() -> None:
    emb = SimEmbedder()
    notes = [f"weekend plans note {i} about hiking and the weather" for i in range(40)]
    for i, n in enumerate(notes):
        emb.sims[n] = 0.32 - i * 0.001
    question, reply = "I signed up for a pottery class with my sister", "Yes, last Saturday, it was amazing!"
    emb.sims.update({question: 0.30, reply: 0.05})
    client = ephemeral_client()
    client.reset()
    with MemoryEngine(client=client, embedder=emb, settings=Settings()) as writer:
        writer.remember_many([{"content": n} for n in notes])
        writer.remember_many([{"content": question, "thread": "c"}, {"content": reply, "thread": "c"}])
        with MemoryEngine(client=client, embedder=emb, settings=Settings()) as reader:
            first = [h.memory.content for h in reader.recall("pottery", k=2, record_access=False)]
    assert first == [question, reply]


def test_a_filter_finds_live_matches_among_many_expired_ones() -> None:
    emb = SimEmbedder()
    with _engine(emb) as eng:
        expired = [f"temporary ci note {i}" for i in range(240)]
        for text in expired:
            emb.sims[text] = 0.8
        eng.remember_many([{"content": t, "tags": ["ci"], "ttl": 1} for t in expired])
        live = [f"permanent ci rule {i}" for i in range(5)]
        for text in live:
            emb.sims[text] = 0.1
        eng.remember_many([{"content": t, "tags": ["ci"]} for t in live])
        time.sleep(1.2)
        hits = eng.recall("ci", k=3, tags=["ci"])
    assert len(hits) == 3 and all(h.memory.content in live for h in hits)
