"""Lineage as a first-class field: datasets read and written, filters, walks, round trips (issue 13, case 6)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from priomem import InvalidInputError, MemoryEngine, WrongTypeError


@pytest.fixture
def pipeline(engine: MemoryEngine) -> dict[str, Any]:
    """raw.orders -> etl.orders_daily (job) -> orders_daily -> finance.revenue_report."""
    ingest = engine.remember(
        "Ingest job lands the shop's orders from S3 into raw.orders every hour",
        priority="high",
        reads=["s3://lake/orders"],
        writes=["raw.orders"],
    )
    daily = engine.remember(
        "etl.orders_daily aggregates raw.orders and raw.customers into orders_daily at 05:00",
        priority="critical",
        reads=["raw.orders", "raw.customers"],
        writes=["orders_daily"],
    )
    report = engine.remember(
        "The finance revenue report is built from orders_daily",
        priority="medium",
        reads=["orders_daily"],
        writes=["finance.revenue_report"],
    )
    unrelated = engine.remember("The cache warm-up takes 3 s", priority="low")
    return {"ingest": ingest, "daily": daily, "report": report, "unrelated": unrelated}


def test_datasets_are_accepted_as_uris_and_dotted_names(engine: MemoryEngine) -> None:
    # The case: refs=["s3://lake/orders"] was refused and lineage had no field.
    memory = engine.remember(
        "orders copied", reads=["s3://lake/orders", "postgres://db/public.orders"], writes=["raw.orders"]
    )
    assert memory.reads == ("s3://lake/orders", "postgres://db/public.orders")
    assert memory.writes == ("raw.orders",)
    assert engine.get(memory.id) == memory
    with pytest.raises(InvalidInputError, match="reads= or writes="):
        engine.remember(
            "x", refs=["s3://lake/orders"]
        )  # refs are memory ids: the hint says where datasets go


@pytest.mark.parametrize(
    ("reads", "error"),
    [
        (["raw orders"], InvalidInputError),
        (["orders \u202e"], InvalidInputError),
        (["postgres://u:secret@db/orders"], InvalidInputError),
        (["x" * 257], InvalidInputError),
        ([f"t{i}" for i in range(33)], InvalidInputError),
        ("raw.orders", WrongTypeError),
        ([42], WrongTypeError),
        (["s3://lake/\x00orders"], InvalidInputError),
    ],
)
def test_bad_dataset_names_are_refused_and_nothing_is_stored(
    engine: MemoryEngine, reads: Any, error: type[Exception]
) -> None:
    with pytest.raises(error, match="reads"):
        engine.remember("a job ran", reads=reads)
    assert engine.list() == []


def test_recall_list_and_forget_filter_by_dataset(engine: MemoryEngine, pipeline: dict[str, Any]) -> None:
    ids = {m.id for m in engine.list(lineage=["raw.orders"])}
    assert ids == {pipeline["ingest"].id, pipeline["daily"].id}  # wrote it / read it
    hits = engine.recall("orders", lineage=["orders_daily"], k=10)
    assert {h.memory.id for h in hits} == {pipeline["daily"].id, pipeline["report"].id}
    assert engine.list(lineage=["raw.orders", "orders_daily"])[0].id == pipeline["daily"].id
    assert engine.forget(lineage=["finance.revenue_report"], dry_run=True) == 1
    assert engine.forget(lineage=["finance.revenue_report"]) == 1
    assert engine.get(pipeline["report"].id) is None
    assert engine.audit_log(action="forget")[0].selector["lineage"] == ["finance.revenue_report"]


def test_lineage_walks_upstream_and_downstream(engine: MemoryEngine, pipeline: dict[str, Any]) -> None:
    where_from = engine.lineage("orders_daily")
    assert [(s.depth, s.memory.id) for s in where_from.upstream] == [
        (1, pipeline["daily"].id),
        (2, pipeline["ingest"].id),
    ]
    assert where_from.upstream_datasets == ("raw.orders", "raw.customers", "s3://lake/orders")
    assert [s.memory.id for s in where_from.downstream] == [pipeline["report"].id]
    depends = engine.lineage("raw.orders")
    assert [s.memory.id for s in depends.downstream] == [pipeline["daily"].id, pipeline["report"].id]
    assert depends.downstream_datasets == ("orders_daily", "finance.revenue_report")
    assert not depends.truncated
    short = engine.lineage("raw.orders", depth=1)
    assert [s.memory.id for s in short.downstream] == [pipeline["daily"].id] and short.truncated
    assert engine.lineage("nothing.here").upstream == ()
    with pytest.raises(InvalidInputError, match="depth"):
        engine.lineage("raw.orders", depth=11)


def test_lineage_survives_reinforcement_export_import_and_is_kept_by_eviction(
    engine: MemoryEngine, pipeline: dict[str, Any]
) -> None:
    again = engine.remember(pipeline["report"].content, reads=["fx.rates"])  # same text: reinforced
    assert again.id == pipeline["report"].id and again.reads == ("orders_daily", "fx.rates")
    out = io.StringIO()
    engine.export(out)
    records = [json.loads(line) for line in out.getvalue().splitlines()[1:]]
    assert any(r["writes"] == ["orders_daily"] for r in records)
    engine.import_(io.StringIO(out.getvalue()), namespace="copy")
    upstream = engine.lineage("orders_daily", namespace="copy").upstream
    assert upstream[0].memory.content.startswith("etl.orders_daily")
    # Eviction keeps memories with lineage after the others of their priority.
    engine.set_quota("q", max_memories=2, critical_reserve=0, compliance_reserve=0)
    kept = engine.remember("job wrote raw.orders", priority="low", namespace="q", writes=["raw.orders"])
    engine.remember("debug line", priority="low", namespace="q")
    report = engine.remember_many_report(
        [{"content": "another debug line", "priority": "low", "namespace": "q"}]
    )
    assert [m.content for m in report.evicted] == ["debug line"]
    assert engine.get(kept.id, namespace="q") is not None


def test_consolidation_leaves_lineage_alone(engine: MemoryEngine) -> None:
    a = engine.remember("nightly load of raw.orders finished", priority="low", writes=["raw.orders"])
    engine.remember("nightly load of raw.orders finished ok", priority="low")
    engine.remember("nightly load of raw.orders finished fine", priority="low")
    merged = engine.consolidate(min_similarity=0.1, max_priority="low")
    assert len(merged) == 1 and len(merged[0].merged_ids) == 2  # the two without lineage
    assert a.id not in merged[0].merged_ids and engine.get(a.id) is not None


def test_cli_lineage_command(engine: MemoryEngine, pipeline: dict[str, Any]) -> None:
    from priomem import cli

    args = cli.build_parser().parse_args(["lineage", "orders_daily"])
    text = cli.COMMANDS["lineage"](engine, args)
    assert "upstream (raw.orders, raw.customers, s3://lake/orders):" in text
    assert pipeline["daily"].id in text and pipeline["report"].id in text
    args = cli.build_parser().parse_args(["lineage", "raw.orders", "--json"])
    data = cli.COMMANDS["lineage"](engine, args)
    assert [s["memory"]["id"] for s in data["downstream"]] == [pipeline["daily"].id, pipeline["report"].id]
    args = cli.build_parser().parse_args(
        ["remember", "x", "--reads", "a.b,s3://c/d", "--writes", "e.f", "--json"]
    )
    stored = cli.COMMANDS["remember"](engine, args)
    assert stored["reads"] == ["a.b", "s3://c/d"] and stored["writes"] == ["e.f"]
    args = cli.build_parser().parse_args(["list", "--lineage", "e.f", "--json"])
    assert [m["id"] for m in cli.COMMANDS["list"](engine, args)["memories"]] == [stored["id"]]


@pytest.mark.parametrize(
    "name",
    [
        "jdbc:postgresql://host:5432/db",
        "/data/raw/orders.parquet",
        "project:dataset.table",
        "urn:li:dataset:(urn:li:dataPlatform:hive,db.t,PROD)",
        'schema."Order Items"',
        "orders$partitions",
        "warehouse.raw.orders@v2",
        "gs://bucket/path",
    ],
)
def test_the_names_data_platforms_use_are_accepted(engine: MemoryEngine, name: str) -> None:
    assert engine.remember("a job ran", reads=[name]).reads == (name,)


def test_a_walk_that_ends_exactly_at_its_depth_is_not_truncated(engine: MemoryEngine) -> None:
    engine.remember("job one", reads=["in"], writes=["mid"])
    engine.remember("job two", reads=["mid"], writes=["out"])
    assert engine.lineage("in", depth=2).truncated is False
    assert engine.lineage("in", depth=1).truncated is True
