"""Word-level evidence: tokenising, stemming, the stored terms, BM25."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from priomem import _lexical
from priomem._lexical import (
    MAX_QUERY_TERMS,
    MAX_TERMS,
    bm25_scores,
    idf,
    query_terms,
    term_weights,
    terms_of,
    tokenize,
)


def test_tokenize_lowercases_drops_stop_words_and_stems_word_forms_alike() -> None:
    assert tokenize("The Nightly ETL jobs were FAILING") == ["nightly", "etl", "job", "fail"]
    assert {_lexical._stem(w) for w in ("paint", "paints", "painted", "painting")} == {"paint"}
    assert {_lexical._stem(w) for w in ("hobby", "hobbies")} == {"hobby"}


def test_question_words_carry_no_evidence() -> None:
    """Questions carry "when", "what", "did"; answers do not, so they must not count."""
    assert query_terms("When did Caroline go to the support group?") == ["caroline", "go", "support", "group"]


def test_terms_of_keeps_distinct_terms_and_counts_tokens() -> None:
    terms, length = terms_of("Backfill the orders table, then backfill invoices")
    assert terms == ["backfill", "invoice", "order", "table"]
    assert length == 5


def test_terms_of_bounds_the_stored_terms_keeping_the_longest() -> None:
    words = [f"w{i:04d}" for i in range(MAX_TERMS + 50)] + ["extraordinarily"]
    terms, length = terms_of(" ".join(words))
    assert len(terms) == MAX_TERMS
    assert "extraordinarily" in terms
    assert length == len(words)


def test_query_terms_keep_the_longest_when_there_are_too_many() -> None:
    text = " ".join(["ab", "abc"] + [f"longword{i:02d}" for i in range(MAX_QUERY_TERMS)])
    terms = query_terms(text)
    assert len(terms) == MAX_QUERY_TERMS
    assert "ab" not in terms and "abc" not in terms


@hypothesis_settings(deadline=None)
@given(st.integers(1, 10_000), st.integers(1, 10_000))
def test_idf_is_non_negative_and_falls_as_a_term_gets_common(count: int, freq: int) -> None:
    freq = min(freq, count)
    assert idf(count, freq) >= 0
    if freq < count:
        assert idf(count, freq) > idf(count, freq + 1)


def test_term_weights_ignore_terms_no_memory_holds() -> None:
    weights = term_weights(["rare", "common", "absent"], {"rare": 1, "common": 90, "absent": 0}, 100)
    assert set(weights) == {"rare", "common"}
    assert weights["rare"] > weights["common"]


def test_bm25_ranks_by_the_query_mass_matched_and_stays_in_0_1() -> None:
    weights = term_weights(["greyhound", "adopt"], {"greyhound": 2, "adopt": 10}, 1000)
    docs = {
        "both": (frozenset({"greyhound", "adopt", "shelter"}), 8),
        "rare": (frozenset({"greyhound", "park"}), 8),
        "common": (frozenset({"adopt", "cat"}), 8),
        "none": (frozenset({"weather"}), 8),
    }
    scores = bm25_scores(weights, docs)
    assert scores["both"] > scores["rare"] > scores["common"] > scores["none"] == 0.0
    assert all(0.0 <= s <= 1.0 for s in scores.values())


def test_bm25_prefers_the_shorter_of_two_equal_matches() -> None:
    weights = term_weights(["deadline"], {"deadline": 3}, 100)
    scores = bm25_scores(
        weights, {"short": (frozenset({"deadline"}), 4), "long": (frozenset({"deadline"}), 40)}
    )
    assert scores["short"] > scores["long"]


def test_bm25_with_no_known_query_term_scores_nothing() -> None:
    assert bm25_scores({}, {"a": (frozenset({"x"}), 3)}) == {"a": 0.0}


@hypothesis_settings(deadline=None)
@given(st.lists(st.sampled_from(["alpha", "beta", "gamma", "delta"]), min_size=1), st.integers(1, 60))
def test_bm25_never_leaves_0_1(present: list[str], length: int) -> None:
    weights = term_weights(["alpha", "beta", "gamma"], {"alpha": 1, "beta": 5, "gamma": 50}, 100)
    score = bm25_scores(weights, {"d": (frozenset(present), length), "e": (frozenset(), 20)})["d"]
    assert 0.0 <= score <= 1.0 and not math.isnan(score)
