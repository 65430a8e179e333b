"""Hybrid recall on small data: word evidence, conversational context, filters, priority,
sharing a store, and the scoring guarantee of :mod:`priomem._scoring`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from priomem import HashEmbedder, MemoryEngine, Priority, Settings, Weights
from priomem._context import PREV_KEYS, WINDOW
from priomem._scoring import combine

SESSION = datetime(2024, 3, 2, 18, 30, tzinfo=UTC)

NOISE = [
    "The weather in Lisbon was warm and sunny all week",
    "We watched a documentary about deep sea creatures",
    "My sister started a new job at the bakery downtown",
    "The train to the airport was delayed by twenty minutes",
    "I have been reading a novel about a lighthouse keeper",
    "Our neighbours repainted their fence a bright yellow",
    "The football match went to penalties in the end",
    "I tried a new recipe for lentil soup with cumin",
    "The museum has an exhibition on medieval maps",
    "We are planning a hiking trip in the mountains",
]


def _noise(n: int, namespace: str = "default", start: datetime = SESSION) -> list[dict[str, object]]:
    return [
        {
            "content": f"{NOISE[i % len(NOISE)]} (note {i})",
            "namespace": namespace,
            "created_at": start - timedelta(days=2 + i),
        }
        for i in range(n)
    ]


def _session(
    turns: list[str], namespace: str = "default", when: datetime = SESSION, thread: str | None = "chat-1"
) -> list[dict[str, object]]:
    return [{"content": t, "namespace": namespace, "created_at": when, "thread": thread} for t in turns]


def _meta(engine: MemoryEngine, content: str, namespace: str = "default") -> dict[str, object]:
    found = [m for m in engine.list(namespace=namespace, limit=1000) if m.content == content]
    assert found, content
    rows = engine._store.get(namespace, ids=[found[0].id])
    return {"id": rows[0].id, **rows[0].metadata}


# -- word evidence ------------------------------------------------------------------------
def test_a_rare_identifier_finds_its_memory_among_many(engine: MemoryEngine) -> None:
    engine.remember_many(_noise(200))
    engine.remember("Ticket INC-48213 was closed after the disk was replaced")
    hits = engine.recall("what happened with INC-48213", k=3)
    assert hits[0].memory.content.startswith("Ticket INC-48213")
    assert hits[0].parts.lexical > 0.5


def test_the_dense_only_path_uses_no_word_evidence(chroma_client: object) -> None:
    with MemoryEngine(
        client=chroma_client, embedder=HashEmbedder(64), settings=Settings(hybrid=False)
    ) as eng:
        eng.remember_many(_noise(30) + _session(["Did you adopt the greyhound?", "Yes, her name is Pixel."]))
        hits = eng.recall("adopt greyhound", k=10)
    assert hits and all(h.parts.lexical == 0.0 for h in hits)


def test_a_query_of_stop_words_only_still_recalls_by_meaning(engine: MemoryEngine) -> None:
    engine.remember_many(_noise(20))
    assert len(engine.recall("what is it that you were?", k=5)) == 5


# -- conversational context -----------------------------------------------------------------
def test_a_session_is_linked_in_batch_order_and_a_later_write_continues_it(engine: MemoryEngine) -> None:
    turns = ["first turn here", "second turn here", "third turn here", "fourth turn here"]
    engine.remember_many(_session(turns))
    metas = [_meta(engine, t) for t in turns]
    assert PREV_KEYS[0] not in metas[0]
    assert metas[1][PREV_KEYS[0]] == metas[0]["id"] and PREV_KEYS[1] not in metas[1]
    assert metas[3][PREV_KEYS[0]] == metas[2]["id"] and metas[3][PREV_KEYS[1]] == metas[1]["id"]
    # Same session, written later in its own call: continues after the last turn.
    engine.remember("fifth turn here", created_at=SESSION, thread="chat-1")
    fifth = _meta(engine, "fifth turn here")
    assert fifth[PREV_KEYS[0]] == metas[3]["id"] and fifth[PREV_KEYS[1]] == metas[2]["id"]


def test_memories_further_apart_than_the_window_are_not_linked(engine: MemoryEngine) -> None:
    engine.remember("breakfast talk", created_at=SESSION, thread="chat-1")
    engine.remember_many(
        _session(["dinner talk"], when=SESSION + WINDOW + timedelta(minutes=21))
        + _session(["lunch talk"], when=SESSION + timedelta(minutes=20))
    )
    assert PREV_KEYS[0] not in _meta(engine, "dinner talk")
    assert _meta(engine, "lunch talk")[PREV_KEYS[0]] == _meta(engine, "breakfast talk")["id"]


def test_a_reply_is_recalled_through_the_turn_before_it(engine: MemoryEngine) -> None:
    engine.remember_many(_noise(60))
    engine.remember_many(
        _session(
            [
                "Did you finally adopt the greyhound from the shelter?",
                "Yes! We picked her up last Saturday and named her Pixel.",
                "That is wonderful news, congratulations to you both.",
            ]
        )
    )
    hits = {h.memory.content: h for h in engine.recall("adopt greyhound shelter", k=5)}
    question = hits["Did you finally adopt the greyhound from the shelter?"]
    reply = hits["Yes! We picked her up last Saturday and named her Pixel."]
    # The reply shares no word with the query; it inherits 0.7 of its predecessor's.
    assert reply.parts.lexical == pytest.approx(0.7 * question.parts.lexical)
    assert list(hits).index(reply.memory.content) <= 2


def test_forgetting_a_turn_removes_its_context_at_once(engine: MemoryEngine) -> None:
    engine.remember_many(_noise(30))
    engine.remember_many(
        _session(["Have you been to the observatory yet?", "Twice, the telescope was huge."])
    )
    reply = "Twice, the telescope was huge."
    before = {h.memory.content: h for h in engine.recall("observatory", k=40)}
    assert before[reply].parts.lexical > 0
    engine.forget(
        [m.id for m in engine.list(limit=1000) if m.content == "Have you been to the observatory yet?"]
    )
    after = {h.memory.content: h for h in engine.recall("observatory", k=40)}
    assert after[reply].parts.lexical == 0.0


def test_context_never_lowers_a_memory_below_its_own_similarity(engine: MemoryEngine) -> None:
    engine.remember_many(_noise(40))
    engine.remember_many(_session(["Lentil soup with cumin is my favourite", "Mine too, with lemon"]))
    hits = engine.recall("lentil soup cumin", k=40)
    for hit in hits:
        assert hit.parts.similarity >= 0.0
    assert hits[0].memory.content == "Lentil soup with cumin is my favourite"


# -- sharing a store ------------------------------------------------------------------------
def test_two_engines_on_one_store_see_each_others_writes_and_forgets(chroma_client: object) -> None:
    with (
        MemoryEngine(client=chroma_client, embedder=HashEmbedder(64), settings=Settings()) as a,
        MemoryEngine(client=chroma_client, embedder=HashEmbedder(64), settings=Settings()) as b,
    ):
        a.remember_many(_noise(50))
        assert b.recall("ZEBRA-7781 vault code", k=1)[0].parts.lexical == 0.0
        written = a.remember("The vault code is ZEBRA-7781")
        hit = b.recall("ZEBRA-7781 vault code", k=1)[0]
        assert hit.memory.id == written.id and hit.parts.lexical > 0
        a.forget([written.id])
        assert all(h.memory.id != written.id for h in b.recall("ZEBRA-7781 vault code", k=10))


@pytest.mark.integration
def test_two_engines_on_a_chroma_server_share_word_evidence(chroma_server: str, real_embedder: Any) -> None:
    # The session's server records one model for the whole store: the real one, as elsewhere.
    with (
        MemoryEngine(url=chroma_server, embedder=real_embedder, settings=Settings()) as a,
        MemoryEngine(url=chroma_server, embedder=real_embedder, settings=Settings()) as b,
    ):
        a.remember_many(_noise(30, namespace="shared-lexical"))
        written = a.remember("Rotate the KESTREL-19 signing key on Monday", namespace="shared-lexical")
        hit = b.recall("KESTREL-19", k=1, namespace="shared-lexical")[0]
        assert hit.memory.id == written.id and hit.parts.lexical > 0
        a.forget([written.id], namespace="shared-lexical")
        assert all(
            h.memory.id != written.id for h in b.recall("KESTREL-19", k=10, namespace="shared-lexical")
        )


# -- filters and priority on the fused result --------------------------------------------
def test_filters_hold_for_word_and_context_candidates(engine: MemoryEngine) -> None:
    engine.remember_many([{**item, "tags": ["travel"]} for item in _noise(30)])
    engine.remember_many(
        [
            {
                "content": "Is the ferry to Tangier running?",
                "created_at": SESSION,
                "tags": ["travel"],
                "thread": "t",
            },
            {"content": "Only on weekends, sadly.", "created_at": SESSION, "thread": "t"},
            {
                "content": "The ferry to Tangier is cancelled",
                "created_at": SESSION,
                "priority": "low",
                "thread": "t",
            },
        ]
    )
    hits = engine.recall("ferry Tangier", k=10, tags=["travel"])
    assert hits and all("travel" in h.memory.tags for h in hits)
    hits = engine.recall("ferry Tangier", k=10, min_priority="medium")
    assert all(h.memory.priority >= Priority.MEDIUM for h in hits)
    since = engine.recall("ferry Tangier", k=10, since=SESSION - timedelta(hours=1))
    assert since and all(h.memory.created_at >= SESSION - timedelta(hours=1) for h in since)


def test_a_selective_filter_still_finds_its_few_memories(engine: MemoryEngine) -> None:
    engine.remember_many(_noise(150))
    engine.remember("Quarterly audit checklist", tags=["audit"])
    hits = engine.recall("weather in Lisbon", k=3, tags=["audit"])
    assert [h.memory.content for h in hits] == ["Quarterly audit checklist"]


def test_priority_orders_otherwise_equal_matches(engine: MemoryEngine) -> None:
    engine.remember_many(_noise(20))
    engine.remember("Deploy freeze starts Friday for team north", priority="low", created_at=SESSION)
    engine.remember(
        "Deploy freeze starts Friday for team south",
        priority="critical",
        created_at=SESSION + 2 * WINDOW,
    )
    hits = engine.recall("deploy freeze Friday team", k=2)
    assert hits[0].memory.priority is Priority.CRITICAL


def test_the_top_k_is_the_start_of_a_longer_recall(engine: MemoryEngine) -> None:
    engine.remember_many(_noise(120))
    engine.remember_many(_session(["We visited the lighthouse museum", "It had a huge lens"]))
    short = [h.memory.id for h in engine.recall("lighthouse museum lens", k=5)]
    long = [h.memory.id for h in engine.recall("lighthouse museum lens", k=25)]
    assert short == long[:5]


# -- the scoring guarantee ------------------------------------------------------------------
_NOW = datetime(2025, 1, 1, tzinfo=UTC)


def _score(priority: Priority, similarity: float, lexical: float, access: int) -> float:
    score, _ = combine(
        Weights(),
        similarity=similarity,
        lexical=lexical,
        priority=priority,
        created_at=_NOW - timedelta(days=3),
        access_count=access,
        now=_NOW,
    )
    return score


@hypothesis_settings(deadline=None)
@given(
    st.floats(0.0, 0.95),
    st.floats(0.0, 0.05),
    st.floats(0.0, 1.0),
    st.integers(0, 100),
)
def test_critical_outranks_low_up_to_0_05_closer(sim: float, gap: float, lexical: float, access: int) -> None:
    """Same words matched, same age, same use: CRITICAL wins against up to 0.05 of similarity."""
    assert _score(Priority.CRITICAL, sim, lexical, access) > _score(Priority.LOW, sim + gap, lexical, access)


@hypothesis_settings(deadline=None)
@given(
    st.floats(0.0, 0.84),
    st.floats(0.1501, 1.0),
    st.floats(0.0, 1.0),
    st.integers(0, 1000),
    st.integers(0, 1000),
)
def test_critical_never_outranks_low_more_than_0_15_closer(
    sim: float, gap: float, lexical: float, critical_access: int, low_access: int
) -> None:
    """Whatever their use, a LOW memory more than 0.15 closer always wins."""
    closer = min(sim + gap, 1.0)
    if closer - sim <= 0.15:
        return
    assert _score(Priority.LOW, closer, lexical, low_access) > _score(
        Priority.CRITICAL, sim, lexical, critical_access
    )


def test_a_word_most_memories_hold_is_no_word_evidence(engine: MemoryEngine) -> None:
    """Past TERM_CAP holders a term is common: it carries no word evidence, and the recall
    still finds its holders by meaning; a rare word beside it still counts."""
    from priomem._recall import TERM_CAP

    engine.remember_many(
        [
            {"content": f"Invoice {i} was sent to the customer", "created_at": SESSION - timedelta(days=i)}
            for i in range(TERM_CAP + 20)
        ]
        + _noise(20)
    )
    for _ in range(2):  # the second recall skips the look-up of the now known common term
        hits = engine.recall("invoice for the customer", k=10)
        assert all(h.memory.content.startswith("Invoice") and h.parts.lexical == 0 for h in hits)
    hits = engine.recall("invoice 117 for the customer", k=3)
    assert hits[0].memory.content == "Invoice 117 was sent to the customer" and hits[0].parts.lexical > 0


def test_a_shared_word_in_a_tiny_namespace_is_no_evidence_against_meaning(engine: MemoryEngine) -> None:
    """Five memories have no rare words: one that repeats the query's word wins nothing."""
    for text in ["alpha beta gamma", "alpha delta", "alpha epsilon", "alpha zeta", "alpha eta"]:
        engine.remember(text)
    assert all(h.parts.lexical == 0 for h in engine.recall("gamma", k=5))


# -- context only within a thread -----------------------------------------------------------
def test_memories_without_a_thread_are_not_linked(engine: MemoryEngine) -> None:
    engine.remember_many(_session(["note one here", "note two here"], thread=None))
    engine.remember("note three here", created_at=SESSION)
    for text in ["note one here", "note two here", "note three here"]:
        meta = _meta(engine, text)
        assert PREV_KEYS[0] not in meta and "pm_thread" not in meta


def test_turns_link_only_to_their_own_thread(engine: MemoryEngine) -> None:
    engine.remember_many(_session(["a1 turn", "a2 turn"], thread="a") + _session(["b1 turn"], thread="b"))
    engine.remember("a3 turn", created_at=SESSION, thread="a")
    assert PREV_KEYS[0] not in _meta(engine, "b1 turn")
    a3 = _meta(engine, "a3 turn")
    assert a3[PREV_KEYS[0]] == _meta(engine, "a2 turn")["id"]
    assert a3[PREV_KEYS[1]] == _meta(engine, "a1 turn")["id"]
    assert engine.get(str(a3["id"])).thread == "a"  # type: ignore[union-attr]


def test_the_same_words_in_two_threads_are_two_turns(engine: MemoryEngine) -> None:
    first = engine.remember("Yes, absolutely!", thread="a")
    second = engine.remember("Yes, absolutely!", thread="b")
    again = engine.remember("Yes, absolutely!", thread="a")
    assert first.id != second.id and again.id == first.id and again.access_count == 1


def test_a_note_written_after_another_borrows_nothing_from_it(engine: MemoryEngine) -> None:
    engine.remember_many(_noise(60))
    engine.remember("Did you finally adopt the greyhound from the shelter?", created_at=SESSION)
    engine.remember("Yes! We picked her up last Saturday and named her Pixel.", created_at=SESSION)
    hits = {h.memory.content: h for h in engine.recall("adopt greyhound shelter", k=60)}
    assert hits["Yes! We picked her up last Saturday and named her Pixel."].parts.lexical == 0.0


def test_a_thread_is_validated(engine: MemoryEngine) -> None:
    from priomem import InvalidInputError

    for bad in ["", "a b", "x" * 129, "chat\n", 7]:
        with pytest.raises((InvalidInputError, TypeError)):
            engine.remember("hello", thread=bad)  # type: ignore[arg-type]
    assert engine.list() == []


def test_stored_terms_are_keyed_by_namespace(engine: MemoryEngine) -> None:
    from priomem._lexical import term_key

    engine.remember("Backfill the invoices table", namespace="team-a")
    terms = _meta(engine, "Backfill the invoices table", namespace="team-a")["pm_terms"]
    assert terms and all(t.startswith(term_key("team-a")) for t in terms)  # type: ignore[union-attr]


# -- the ranking examples of the recall-core issue, with the real model ------------------------
@pytest.mark.integration
def test_the_sla_outranks_low_notes_that_repeat_the_query(chroma_client: object, real_embedder: Any) -> None:
    with MemoryEngine(client=chroma_client, embedder=real_embedder, settings=Settings()) as eng:
        eng.remember("SLA: orders pipeline must finish by 06:00 UTC", priority="critical")
        for note in [
            "debug: orders pipeline deadline check ran",
            "debug: orders pipeline finished at 05:52 UTC today",
            "temp metric: orders pipeline duration 47 min",
            "temp metric: orders pipeline ran 12 minutes late",
        ]:
            eng.remember(note, priority="low")
        hits = eng.recall("orders pipeline deadline", k=5)
    assert hits[0].memory.content == "SLA: orders pipeline must finish by 06:00 UTC"


@pytest.mark.integration
def test_the_demo_question_finds_the_incident_first(chroma_client: object, real_embedder: Any) -> None:
    from priomem._demo import HISTORY, QUERIES
    from priomem._timeparse import utcnow

    now = utcnow()
    with MemoryEngine(client=chroma_client, embedder=real_embedder, settings=Settings()) as eng:
        for hours, priority, tags, content in HISTORY:  # one by one, as an agent writes notes
            eng.remember(content, priority=priority, tags=tags, created_at=now - timedelta(hours=hours))
        question, options = QUERIES[0]
        hits = eng.recall(question, k=3, **options)
    assert hits[0].memory.priority is Priority.HIGH and "ETL failed" in hits[0].memory.content


@pytest.mark.integration
def test_a_clearly_better_low_memory_still_wins(chroma_client: object, real_embedder: Any) -> None:
    with MemoryEngine(client=chroma_client, embedder=real_embedder, settings=Settings()) as eng:
        eng.remember("SLA: the billing export must reach finance by 09:00 UTC", priority="critical")
        eng.remember("debug: the orders loader retry count is set to 5", priority="low")
        hits = eng.recall("what is the retry count of the orders loader?", k=2)
    assert hits[0].memory.priority is Priority.LOW


def test_a_large_namespace_looks_up_only_what_its_candidates_lack(
    engine: MemoryEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past EAGER_LOOKUPS memories the look-ups wait for the dense pool: the identifier is
    still found by its words, and a word the candidates hold is weighed without a look-up."""
    from priomem import _recall

    monkeypatch.setattr(_recall, "EAGER_LOOKUPS", 50)
    monkeypatch.setattr(_recall, "DENSE_POOL", 10)
    engine.remember_many(_noise(200))
    target = engine.remember("Ticket INC-48213 was closed after the disk was replaced")
    looked_up: list[list[str]] = []
    real = _recall.HybridSearcher._look_up

    def spy(self: Any, ns: str, terms: list[str]) -> Any:
        looked_up.append(list(terms))
        return real(self, ns, terms)

    monkeypatch.setattr(_recall.HybridSearcher, "_look_up", spy)
    first = engine.recall("what happened with INC-48213", k=3)
    before = len(looked_up)
    # The best candidate (the same text) holds both terms: nothing to look up.
    second = engine.recall("Ticket INC-48213 was closed after the disk was replaced", k=3)
    for hits in (first, second):
        assert hits[0].memory.id == target.id and hits[0].parts.lexical > 0
    assert len(looked_up) == before and all(set(t) <= {"inc", "48213"} for t in looked_up)


def test_identical_vectors_group_at_similarity_one() -> None:
    # Found by review: at min_similarity=1.0, rounding decided whether identical vectors grouped.
    import numpy as np

    from priomem._consolidate import group

    rng = np.random.default_rng(5)
    for _ in range(200):
        v = rng.normal(size=384).astype(np.float32)
        v /= np.linalg.norm(v)
        assert group(np.stack([v, v, v]), 1.0) == [[0, 1, 2]]
