"""Tenants under one store quota: guarantees, borrowing, reserves, imports (issue 13, cases 1-2)."""

from __future__ import annotations

import io
import json

import pytest

from priomem import InvalidInputError, MemoryEngine, QuotaExceededError


def fill(engine: MemoryEngine, ns: str, n: int, priority: str = "medium", **extra: object) -> list[str]:
    return [
        m.id
        for m in engine.remember_many(
            [{"content": f"{ns} note {i}", "priority": priority, "namespace": ns, **extra} for i in range(n)]
        )
    ]


def held(engine: MemoryEngine, ns: str) -> set[str]:
    return {m.id for m in engine.list(namespace=ns, limit=1000)}


def test_guarantees_adding_up_to_more_than_the_store_are_refused(engine: MemoryEngine) -> None:
    engine.set_quota("*", max_memories=10)
    engine.set_quota("a", max_memories=10)
    with pytest.raises(InvalidInputError, match="guarantee 20 memories") as refused:
        engine.set_quota("b", max_memories=10)
    assert "Nothing was changed" in str(refused.value)
    assert engine.get_quota("b").max_memories is None
    with pytest.raises(InvalidInputError, match="more than the store quota"):
        engine.set_quota("*", max_memories=9)  # below what is already guaranteed
    assert engine.get_quota("*").max_memories == 10
    with pytest.raises(InvalidInputError, match="cannot be guaranteed"):
        engine.set_quota("c", max_bytes=1000)  # the store counts memories, this quota does not
    engine.set_quota("a", max_memories=4)  # lowering one makes room for another
    engine.set_quota("b", max_memories=6)


def test_a_tenant_within_its_guarantee_never_loses_memories_to_another(engine: MemoryEngine) -> None:
    # The case with a valid allocation: a is guaranteed 6 of a store of 10, b has
    # no guarantee. a writes 6, then b writes 8: b prunes within itself, a loses nothing.
    engine.set_quota("*", max_memories=10, critical_reserve=0, compliance_reserve=0)
    engine.set_quota("a", max_memories=6, critical_reserve=0, compliance_reserve=0)
    a = fill(engine, "a", 6)
    for i in range(8):
        engine.remember(f"b note {i}", namespace="b")
    assert held(engine, "a") == set(a)
    assert sorted(m.content for m in engine.list(namespace="b")) == [f"b note {i}" for i in range(4, 8)]
    assert {e.namespace for e in engine.audit_log(action="evict")} == {"b"}


def test_borrowed_space_is_taken_back_whatever_its_priority(engine: MemoryEngine) -> None:
    engine.set_quota("*", max_memories=10, critical_reserve=0, compliance_reserve=0)
    engine.set_quota("a", max_memories=5, critical_reserve=0, compliance_reserve=0)
    borrowed = fill(engine, "c", 10, "high")  # a holds nothing yet: c may borrow its space
    assert len(held(engine, "c")) == 10
    report = engine.remember_many_report(
        [{"content": f"a debug {i}", "priority": "low", "namespace": "a"} for i in range(5)]
    )
    assert len(report.evicted) == 5 and {m.namespace for m in report.evicted} == {"c"}
    assert held(engine, "c") < set(borrowed)
    # c, without a guarantee, now only evicts its own memories, never a's.
    a = held(engine, "a")
    report = engine.remember_many_report([{"content": "c again", "priority": "high", "namespace": "c"}])
    assert [m.namespace for m in report.evicted] == ["c"]
    assert held(engine, "a") == a
    with pytest.raises(QuotaExceededError):  # a LOW write in c may not evict c's HIGH memories
        engine.remember("c low", priority="low", namespace="c")


def test_critical_memories_of_unguaranteed_tenants_must_fit_the_unallocated_share(
    engine: MemoryEngine,
) -> None:
    engine.set_quota("*", max_memories=10)
    engine.set_quota("a", max_memories=8)  # 2 left unallocated
    fill(engine, "c", 2, "critical")
    with pytest.raises(QuotaExceededError, match="unallocated share"):
        engine.remember("a third SLA in c", priority="critical", namespace="c")
    assert len(held(engine, "c")) == 2
    fill(engine, "a", 6, "critical")  # a's guarantee is intact
    engine.set_quota("a", max_memories=10)  # the whole store guaranteed: c may keep no new CRITICAL
    with pytest.raises(QuotaExceededError, match="unallocated share"):
        engine.remember("another SLA", priority="critical", namespace="d")


def test_the_compliance_reserve_is_kept_for_compliance_records(engine: MemoryEngine) -> None:
    # 20 memories: 3 kept for CRITICAL (15%), 1 more for compliance records (5%).
    engine.set_quota("q", max_memories=20)
    ordinary = fill(engine, "q", 16, "low")
    report = engine.remember_many_report(
        [{"content": "one ordinary too many", "priority": "low", "namespace": "q"}]
    )
    assert len(report.evicted) == 1 and report.evicted[0].id in ordinary
    tagged = engine.remember(
        "audit trail of the March export", priority="low", namespace="q", tags=["compliance"]
    )
    assert len(held(engine, "q")) == 17  # into the compliance reserve: nothing evicted
    classified = engine.remember_many_report(
        [
            {
                "content": "retention of invoices: 10 years",
                "priority": "low",
                "namespace": "q",
                "metadata": {"classification": "internal"},
            }
        ]
    )
    assert classified.evicted[0].content.startswith("q note")  # the reserve is full now
    report = engine.remember_many_report(
        [{"content": "another debug line", "priority": "low", "namespace": "q"}]
    )
    assert all(m.content.startswith("q note") for m in report.evicted)
    assert {tagged.id, classified.memories[0].id} <= held(engine, "q")
    assert len(held(engine, "q")) == 17


def test_import_goes_through_the_quota_and_reports_what_it_could_not_store(engine: MemoryEngine) -> None:
    for i, priority in enumerate(["low", "critical", "medium", "low", "high"]):
        engine.remember(f"exported memory {i}", priority=priority, namespace="src")
    out = io.StringIO()
    engine.export(out, namespace="src")
    engine.set_quota("dst", max_memories=2, critical_reserve=0, compliance_reserve=0)
    report = engine.import_(io.StringIO(out.getvalue()), namespace="dst")
    stored = engine.list(namespace="dst")
    assert report.count == 2 == len(stored)
    assert sorted(m.priority.name for m in stored) == ["CRITICAL", "HIGH"]  # the highest kept
    assert len(report.refused) == 3 and not {m.id for m in stored} & set(report.refused)
    # Importing again replaces the same ids: it needs no room and refuses the same three.
    again = engine.import_(io.StringIO(out.getvalue()), namespace="dst")
    assert again.count == 2 and sorted(again.refused) == sorted(report.refused)
    assert len(engine.list(namespace="dst")) == 2


def test_cli_import_names_what_its_quota_refused(engine: MemoryEngine, tmp_path: object) -> None:
    from priomem import cli

    for i in range(3):
        engine.remember(f"note {i}", namespace="src")
    out = io.StringIO()
    engine.export(out, namespace="src")
    engine.set_quota("dst", max_memories=1, critical_reserve=0, compliance_reserve=0)
    args = cli.build_parser().parse_args(["import", "-", "--into", "dst", "--json"])
    import sys

    real, sys.stdin = sys.stdin, io.StringIO(out.getvalue())
    try:
        answer = cli.COMMANDS["import"](engine, args)
    finally:
        sys.stdin = real
    assert answer["imported"] == 1 and len(answer["refused"]) == 2
    json.dumps(answer)


def test_stats_give_the_seed_tenant_analytics(engine: MemoryEngine) -> None:
    # The case: quota use was None for a byte-only quota, and no distributions.
    engine.set_quota("*", max_memories=100)
    engine.set_quota("t", max_memories=40, max_bytes=2000)
    engine.remember("raw orders landed", namespace="t", metadata={"stage": "raw"}, writes=["raw.orders"])
    engine.remember(
        "orders_daily built",
        namespace="t",
        metadata={"stage": "curated", "classification": "internal"},
        reads=["raw.orders"],
        writes=["orders_daily"],
    )
    engine.remember("SLA: orders by 06:00", namespace="t", priority="critical", tags=["compliance"])
    engine.remember("debug note", namespace="t", priority="low")
    t = engine.stats("t")
    assert t["count"] == 4 and t["guaranteed"] is True
    assert t["by_classification"] == {"internal": 1, "none": 3}
    assert t["by_stage"] == {"curated": 1, "none": 2, "raw": 1}
    assert t["compliance_records"] == 3  # the two with lineage and the tagged SLA
    assert t["lineage"]["memories"] == 2 and t["lineage"]["datasets"] == 2
    assert t["lineage"]["top_datasets"][0] == {"name": "raw.orders", "memories": 2}
    assert t["utilisation"]["memories"] == 0.1 and t["utilisation"]["bytes"] == round(t["bytes"] / 2000, 4)
    assert t["quota_used"] == max(t["utilisation"]["memories"], t["utilisation"]["bytes"])
    whole = engine.stats()
    assert whole["count"] == 4 and whole["quota_used"] == 0.04
    assert whole["guaranteed"] == {"memories": 40, "bytes": 2000} and whole["unallocated"]["memories"] == 60
    assert whole["by_stage"]["raw"] == 1 and whole["lineage"]["memories"] == 2
    json.dumps(whole)


def test_quota_use_counts_a_byte_only_quota(engine: MemoryEngine) -> None:
    engine.set_quota("bytes-only", max_bytes=1000)
    engine.remember("x" * 250, namespace="bytes-only")
    b = engine.stats("bytes-only")
    assert b["quota_used"] == 0.25 and b["utilisation"]["memories"] is None


def test_cli_stats_show_the_analytics(engine: MemoryEngine) -> None:
    from priomem import cli

    engine.remember("orders_daily built", metadata={"stage": "curated"}, writes=["orders_daily"])
    text = cli.COMMANDS["stats"](engine, cli.build_parser().parse_args(["stats"]))
    assert "stage: curated 1" in text and "lineage: 1 memories, 1 datasets" in text


def test_the_readme_example_runs_and_does_what_it_says(
    tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util
    from pathlib import Path

    source = Path(__file__).resolve().parents[1] / "examples" / "tenants.py"
    spec = importlib.util.spec_from_file_location("example_tenants", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(str(tmp_path))
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("refused: max_memories: the namespaces' quotas would guarantee 24 memories")
    assert out[1] == "acme took back 4 borrowed memories from globex"
    assert out[2] == "globex's CRITICAL memories must fit the unallocated share"
    assert out[3] == "best match: debug: orders cache warm took 3s"
    assert out[4].startswith("context: - [CRITICAL ") and out[4].endswith(
        "SLA: orders_daily complete by 06:00 UTC"
    )
    assert out[5] == "orders_daily comes from: raw.orders, raw.customers, s3://lake/orders"
    assert out[6] == "acme: 11 memories, 79% of its guarantee, 2 with lineage"


# -- cases found by review: each failed before its fix -------------------------------------
def test_a_guaranteed_tenant_takes_back_borrowed_space_before_pruning_itself(engine: MemoryEngine) -> None:
    engine.set_quota("*", max_memories=10)
    engine.set_quota("a", max_memories=5)
    low = engine.remember("a low note", namespace="a", priority="low")
    fill(engine, "u", 7, "high")  # the store's ordinary share is 8: u borrows from a
    evicted = []
    for i in range(3):  # the third no longer fits the store
        report = engine.remember_many_report(
            [{"content": f"a medium note {i}", "namespace": "a", "priority": "medium"}]
        )
        evicted += [m.namespace for m in report.evicted]
    assert evicted == ["u"]
    assert engine.get(low.id, namespace="a") is not None and len(held(engine, "a")) == 4


def test_a_guarantee_of_the_whole_store_is_not_cut_by_the_stores_reserves(engine: MemoryEngine) -> None:
    engine.set_quota("*", max_memories=10)
    engine.set_quota("a", max_memories=10, critical_reserve=0, compliance_reserve=0)
    report = engine.remember_many_report(
        [{"content": f"a note {i}", "namespace": "a", "priority": "high"} for i in range(10)]
    )
    assert report.evicted == () and len(held(engine, "a")) == 10


def test_promotion_to_critical_cannot_get_around_the_unallocated_share(engine: MemoryEngine) -> None:
    engine.set_quota("*", max_memories=10)
    engine.set_quota("a", max_memories=8)  # 2 unallocated
    ids = fill(engine, "u", 4, "low")
    fill(engine, "u2", 2, "critical")
    with pytest.raises(QuotaExceededError, match="unallocated share"):
        engine.set_priority(ids[0], "critical", namespace="u")
    with pytest.raises(QuotaExceededError, match="unallocated share"):
        engine.remember("u note 1", namespace="u", priority="critical")  # the same text: a reinforcement
    assert engine.stats("u")["by_priority"]["CRITICAL"] == 0


def test_import_replacing_ids_needs_no_room_and_evicts_nothing_for_what_it_refuses(
    engine: MemoryEngine,
) -> None:
    engine.set_quota("a", max_memories=3, critical_reserve=0, compliance_reserve=0)
    fill(engine, "a", 3, "low")
    out = io.StringIO()
    engine.export(out, namespace="a")
    before = held(engine, "a")
    again = engine.import_(io.StringIO(out.getvalue()), namespace="a")  # the same three, in place
    assert again.count == 3 and again.refused == () and again.evicted == () and held(engine, "a") == before


def test_import_evicts_nothing_for_a_memory_the_store_refuses(chroma_client: object) -> None:
    from priomem import HashEmbedder, Settings

    with MemoryEngine(
        client=chroma_client, embedder=HashEmbedder(64), settings=Settings(max_memories=3)
    ) as e:
        e.set_quota("*", max_memories=10)
        e.set_quota("g", max_memories=8)  # 2 unallocated
        e.remember("v crit", namespace="v", priority="critical")
        e.remember("u crit", namespace="u", priority="critical")
        fill(e, "u", 2, "low")  # u is at its cap of 3: a new memory would evict one
        out = io.StringIO()
        e.export(out, namespace="u")
        header, first = out.getvalue().splitlines()[:2]
        record = json.loads(first)
        record.update(id="imported-one", content="u crit imported", priority="CRITICAL")
        report = e.import_(io.StringIO(header + "\n" + json.dumps(record) + "\n"))
        assert report.refused == ("imported-one",) and report.evicted == ()
        assert len(held(e, "u")) == 3


def test_stats_count_the_guarantees_of_namespaces_still_empty(engine: MemoryEngine) -> None:
    engine.set_quota("b", max_memories=3)
    assert engine.stats("b")["guaranteed"] is False  # no store quota: nothing to guarantee against
    engine.set_quota("*", max_memories=10)
    engine.set_quota("a", max_memories=6)
    engine.remember("x", namespace="c")
    whole = engine.stats()
    assert whole["guaranteed"]["memories"] == 9 and whole["unallocated"]["memories"] == 1
