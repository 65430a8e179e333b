"""Word-level evidence for hybrid recall: tokenising, light stemming, BM25. Pure, no I/O.

Each stored memory carries its distinct terms (``terms_of``) in Chroma metadata, so any
process sharing the store can find the memories that contain a query term with an
exact-match filter: the lexical index lives in Chroma itself and never goes stale.
Document frequencies come from those look-ups at query time.

Stored terms are *keyed* by their namespace (``"<tag>:<term>"``, :func:`term_key`):
embedded Chroma keeps one metadata index for every collection, so the cost of an
exact-match look-up grows with how many records *in the whole store* hold that value.
Keyed, a look-up only ever touches its own namespace's postings (measured: a common term
8.1 ms beside a 100,000-record collection unkeyed, 0.7 ms keyed; 0.65 ms alone).

Word evidence is *specific* evidence only (:func:`specificity`): a term that a sizeable
share of the namespace holds says little the embedding does not already say, and
counting it lets a debug note that repeats the question's words outrank the answer.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Collection, Iterable, Mapping

__all__ = [
    "BM25_B",
    "BM25_K1",
    "MAX_TERMS",
    "bm25_scores",
    "idf",
    "keyed",
    "literal_terms",
    "query_terms",
    "specificity",
    "term_key",
    "term_weights",
    "terms_of",
    "tokenize",
    "unkeyed",
]

BM25_K1 = 1.2
BM25_B = 0.75
#: The largest BM25 length factor (a one-token document): bounds a document's share.
MAX_SATURATION = (BM25_K1 + 1) / (1 + BM25_K1 * (1 - BM25_B))
#: Distinct terms kept per memory (the rarest-looking: longest first); bounds metadata size.
MAX_TERMS = 256
#: Query terms looked up at most (the longest, which tend to be the rarest).
MAX_QUERY_TERMS = 12

#: IDF below which a term carries no word evidence, and above which it carries all of its
#: IDF: held by about 1 in 6 memories of the namespace, and by about 1 in 51. Chosen on
#: benchmarks/ops.py and benchmarks/locomo.py (1/12..1/90 and 1/21..1/201 were measured
#: too; see benchmarks/README.md).
SPECIFIC_LOW = math.log(1.0 + 5.0)
SPECIFIC_HIGH = math.log(1.0 + 50.0)

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)

# Function words that carry no evidence on their own. Kept short on purpose: words such as
# "when", "who", "where" are dropped too, because questions carry them and answers do not.
STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "s",
        "t",
        "d",
        "ll",
        "m",
        "re",
        "ve",
        "don",
        "didn",
        "doesn",
        "isn",
        "wasn",
        "weren",
        "won",
        "also",
        "got",
        "get",
        "gets",
        "said",
        "say",
        "says",
        "did",
        "does",
        "like",
        "really",
        "yeah",
        "oh",
        "ok",
        "okay",
    ]
)


def _stem(word: str) -> str:
    """A light, conservative English stemmer (plural and common verb suffixes)."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("sses"):
        return word[:-2]
    if word.endswith("ing") and len(word) > 5:
        stem = word[:-3]
        return stem[:-1] if len(stem) > 2 and stem[-1] == stem[-2] and stem[-1] not in "lsz" else stem
    if word.endswith("ed") and len(word) > 4:
        stem = word[:-2]
        return stem[:-1] if len(stem) > 2 and stem[-1] == stem[-2] and stem[-1] not in "lsz" else stem
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens of ``text``, stemmed, stop words removed."""
    return [_stem(t) for t in _TOKEN.findall(text.lower()) if t not in STOPWORDS]


def terms_of(text: str) -> tuple[list[str], int]:
    """The distinct terms of a memory (at most ``MAX_TERMS``) and its token count."""
    tokens = tokenize(text)
    distinct = sorted(set(tokens))
    if len(distinct) > MAX_TERMS:
        distinct = sorted(sorted(distinct, key=lambda t: (-len(t), t))[:MAX_TERMS])
    return distinct, len(tokens)


def term_key(namespace: str) -> str:
    """The prefix that keys a namespace's stored terms (6 hex digits of its SHA-256).

    Two namespaces sharing a prefix only share look-up cost, never results: each
    namespace's records live in its own collection, or are selected by ``pm_ns`` in a
    shared one (``priomem._layout``).
    """
    return hashlib.sha256(namespace.encode("utf-8")).hexdigest()[:6] + ":"


def keyed(key: str, terms: Iterable[str]) -> list[str]:
    """``terms`` as stored: each behind the namespace's ``key``."""
    return [key + t for t in terms]


def unkeyed(stored: Iterable[str]) -> frozenset[str]:
    """The plain terms of a stored ``pm_terms`` list (keyed or, from older stores, not)."""
    return frozenset(t.split(":", 1)[1] if ":" in t else t for t in stored)


def specificity(term_idf: float) -> float:
    """How much of a term's IDF counts as word evidence: 0 for common terms, 1 for rare.

    Linear between :data:`SPECIFIC_LOW` and :data:`SPECIFIC_HIGH`. A namespace of a few
    memories has no rare terms: there, one shared word is no evidence against meaning.
    """
    return min(max((term_idf - SPECIFIC_LOW) / (SPECIFIC_HIGH - SPECIFIC_LOW), 0.0), 1.0)


_COMPOUND = re.compile(r"[^\W_]+(?:[_\-./:#@][^\W_]+)+", re.UNICODE)


def _identifier(compound: str) -> bool:
    """Whether a joined word names something: ``orders_daily``, ``etl-worker-07``,
    ``INC-4312``, ``web.clickstream.v3``; not an English compound such as ``on-call``."""
    if any(c in compound for c in "_./:#@") or any(c.isdigit() for c in compound):
        return True
    return any(sum(c.isupper() for c in part) >= 2 for part in compound.split("-"))


def literal_terms(text: str) -> frozenset[str]:
    """The terms of ``text`` that name something literally: what an embedding cannot tell
    from its near misses, so that only their words can find it.

    A term is literal when its word holds a digit (``4312``, ``90d``; a number of one or two
    digits alone is a quantity, not a name), is part of an
    identifier (words joined by ``_ . / : # @``, or by ``-`` with a digit or an acronym in
    it: ``orders_daily``, ``etl-worker-07``, ``INC-4312``; not ``on-call``), or is written
    with capitals past its first letter or, after the first word, capitalised (``GDPR``,
    ``NetSuite``, ``Tangier``): names, codes and acronyms. Single letters never are.
    """
    joined: set[tuple[int, int]] = set()
    for compound in _COMPOUND.finditer(text):
        if _identifier(compound.group()):
            offset = compound.start()
            for part in _TOKEN.finditer(compound.group()):
                joined.add((offset + part.start(), offset + part.end()))
    found: set[str] = set()
    first = True
    for match in _TOKEN.finditer(text):
        word = match.group()
        start, end = match.span()
        after = text[end] if end < len(text) else " "
        named = any(c.isupper() for c in word[1:]) or (not first and word[:1].isupper())
        is_joined = (start, end) in joined
        first = after in ".?!" and not (end + 1 < len(text) and text[end + 1].isalnum())
        lowered = word.lower()
        if lowered in STOPWORDS or (len(word) < 2 and not word.isdigit()):
            continue  # "e.g.", "a/b": single letters name nothing
        # A short number on its own is a quantity ("the last 12 hours"), not a name.
        coded = any(c.isdigit() for c in word) and (len(word) >= 3 or not word.isdigit())
        if is_joined or named or coded:
            found.add(_stem(lowered))
    return frozenset(found)


def query_terms(text: str) -> list[str]:
    """The distinct terms of a query, at most ``MAX_QUERY_TERMS`` (longest first)."""
    distinct = list(dict.fromkeys(tokenize(text)))
    if len(distinct) > MAX_QUERY_TERMS:
        distinct = sorted(distinct, key=lambda t: (-len(t), t))[:MAX_QUERY_TERMS]
    return distinct


def idf(doc_count: int, doc_freq: int) -> float:
    """BM25's (non-negative) inverse document frequency."""
    return math.log(1.0 + (doc_count - doc_freq + 0.5) / (doc_freq + 0.5))


def term_weights(terms: Iterable[str], doc_freqs: Mapping[str, int], doc_count: int) -> dict[str, float]:
    """The IDF of each query term found in at least one memory (absent terms carry nothing)."""
    return {t: idf(doc_count, doc_freqs[t]) for t in terms if doc_freqs.get(t, 0) > 0}


def bm25_scores(
    weights: Mapping[str, float],
    documents: Mapping[str, tuple[Collection[str], int]],
    *,
    avg_len: float | None = None,
    total: float | None = None,
) -> dict[str, float]:
    """Normalised BM25 of each document: 0..1, the share of the query's IDF mass matched.

    ``weights``: the evidence each query term carries (:func:`term_weights`, or its IDF
    times :func:`specificity`). ``total``: the query's whole IDF mass the shares are of
    (default: the sum of ``weights``); with specific weights, pass the plain IDF sum, so
    a match on terms of low specificity earns only a small share. ``documents``: id ->
    (the document's distinct terms, its token count), as stored in ``pm_terms`` /
    ``pm_len``. Term frequency counts as one: memories are short, and presence is what
    the store records. A document holding every query term, at average length, scores
    about 1; a longer one less, a shorter one more, capped at 1. Documents matching
    nothing score 0.
    """
    mass = sum(weights.values()) if total is None else total
    if mass <= 0 or not documents or not any(w > 0 for w in weights.values()):
        return dict.fromkeys(documents, 0.0)
    lengths = [max(n, 1) for _, n in documents.values()]
    mean = avg_len if avg_len and avg_len > 0 else max(sum(lengths) / len(lengths), 1.0)
    scores: dict[str, float] = {}
    for doc_id, (present, length) in documents.items():
        matched = sum(w for t, w in weights.items() if t in present)
        if matched <= 0:
            scores[doc_id] = 0.0
            continue
        saturation = (BM25_K1 + 1) / (1 + BM25_K1 * (1 - BM25_B + BM25_B * max(length, 1) / mean))
        scores[doc_id] = min(matched * saturation / mass, 1.0)
    return scores


def matched_terms(terms: Iterable[str], text: str) -> list[str]:
    """The query terms that occur in ``text`` (for explaining a hit)."""
    present = set(tokenize(text))
    return [t for t in terms if t in present]
