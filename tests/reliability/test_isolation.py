"""Namespaces never leak: random operations over random namespaces (hypothesis)."""

from __future__ import annotations

import io
import json
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from priomem import HashEmbedder, MemoryEngine, Settings
from tests._chroma import ephemeral_client

OPS_PER_EXAMPLE = 200
EXAMPLES = 250 if os.environ.get("PRIOMEM_LONG_TESTS") == "1" else 50  # 50 x 200 = 10,000 operations in CI
COUNTER = {"ops": 0}

namespace_names = st.from_regex(r"[A-Za-z0-9_.\-:@]{1,20}", fullmatch=True)
words = st.lists(
    st.sampled_from(["alpha", "beta", "gamma", "delta", "shared", "secret", "note"]), min_size=1, max_size=3
)
op = st.tuples(
    st.sampled_from(["remember", "recall", "get", "list", "forget_ids", "forget_tag", "export", "stats"]),
    st.integers(0, 2),  # which namespace acts
    st.integers(0, 2),  # which namespace's ids it tries to touch
    words,
)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    names=st.lists(namespace_names, min_size=3, max_size=3, unique=True),
    ops=st.lists(op, min_size=OPS_PER_EXAMPLE, max_size=OPS_PER_EXAMPLE),
)
def no_operation_in_one_namespace_touches_another(
    names: list[str], ops: list[tuple[str, int, int, list[str]]]
) -> None:
    client = ephemeral_client()
    client.reset()
    expected: dict[str, dict[str, str]] = {n: {} for n in names}  # namespace -> id -> content
    with MemoryEngine(client=client, embedder=HashEmbedder(16), settings=Settings()) as engine:
        for step, (kind, actor, other, text) in enumerate(ops):
            ns, foreign = names[actor], names[other]
            content = " ".join(text) + f" {step % 7}"
            if kind == "remember":
                memory = engine.remember(content, namespace=ns, tags=[text[0]])
                assert memory.namespace == ns
                expected[ns][memory.id] = memory.content
            elif kind == "recall":
                for hit in engine.recall(content, namespace=ns, k=10):
                    assert hit.memory.namespace == ns and hit.memory.id in expected[ns]
            elif kind == "get":
                for memory_id in list(expected[foreign])[:3]:
                    got = engine.get(memory_id, namespace=ns)
                    assert (got is not None) == (memory_id in expected[ns])
            elif kind == "list":
                assert {m.id for m in engine.list(namespace=ns, limit=1000)} == set(expected[ns])
            elif kind == "forget_ids":
                targets = list(expected[foreign])[:2]
                removed = engine.forget(targets, namespace=ns)
                gone = [t for t in targets if t in expected[ns]]
                assert removed == len(gone)
                for t in gone:
                    del expected[ns][t]
            elif kind == "forget_tag":
                removed = engine.forget(tags=[text[0]], namespace=ns)
                # every memory of ns tagged text[0] went, and nothing elsewhere
                tagged = [i for i, c in expected[ns].items() if c.split()[0] == text[0]]
                assert removed >= len(tagged)
                expected[ns] = {
                    i: c
                    for i, c in expected[ns].items()
                    if i in {m.id for m in engine.list(namespace=ns, limit=1000)}
                }
            elif kind == "export":
                buf = io.StringIO()
                engine.export(buf, namespace=ns)
                records: list[dict[str, Any]] = [json.loads(line) for line in buf.getvalue().splitlines()[1:]]
                assert {r["id"] for r in records} == set(expected[ns]) and all(
                    r["namespace"] == ns for r in records
                )
            elif kind == "stats":
                assert engine.stats(ns)["count"] == len(expected[ns])
            COUNTER["ops"] += 1
        for n in names:
            assert {m.id for m in engine.list(namespace=n, limit=1000)} == set(expected[n])


def test_no_operation_in_one_namespace_touches_another() -> None:
    """The property, over at least 10,000 random operations in total."""
    COUNTER["ops"] = 0
    no_operation_in_one_namespace_touches_another()
    assert COUNTER["ops"] >= OPS_PER_EXAMPLE * EXAMPLES
