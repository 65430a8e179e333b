"""The ``priomem demo`` scenario: a data platform's week, remembered and recalled."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from priomem._engine import MemoryEngine
from priomem._timeparse import utcnow

__all__ = ["run_demo"]

# (hours ago, priority, tags, content)
HISTORY: list[tuple[int, str, list[str], str]] = [
    (
        24 * 20,
        "critical",
        ["sla", "orders"],
        "SLA with Finance: the orders table is fresh by 06:00 UTC every day.",
    ),
    (
        24 * 15,
        "critical",
        ["lineage", "orders"],
        "Lineage: orders_daily is built from raw.orders and raw.refunds by dbt model orders_daily.",
    ),
    (
        24 * 6,
        "high",
        ["orders", "schema"],
        "Schema change: raw.orders gained column currency (ISO 4217), default EUR.",
    ),
    (24 * 5, "medium", ["orders", "etl"], "Nightly orders ETL finished in 41 minutes, 2.1M rows."),
    (24 * 4, "low", ["debug"], "Debug: orders ETL worker memory peaked at 3.2 GB."),
    (
        30,
        "high",
        ["orders", "incident"],
        "Orders ETL failed at 03:12 UTC: upstream refunds export arrived late; rerun succeeded at 05:40.",
    ),
    (20, "medium", ["marketing"], "Marketing dashboard refreshed with the new campaign attribution model."),
    (
        6,
        "high",
        ["orders", "quality"],
        "Data quality check: 0.4% of orders rows have a null currency since the schema change.",
    ),
    (2, "low", ["debug", "orders"], "Debug: retry count for the orders loader set to 5."),
]

QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("What happened to the orders pipeline in the last 48 hours?", {"since": "48h"}),
    ("When must the orders table be ready?", {}),
    ("What changed in the orders schema?", {"min_priority": "high"}),
]


def run_demo(engine: MemoryEngine, *, namespace: str = "demo", as_json: bool = False) -> Any:
    """Remember the history (idempotent: repeated runs reinforce), recall, and report."""
    now = utcnow()
    engine.remember_many(
        {
            "content": content,
            "priority": priority,
            "tags": tags,
            "namespace": namespace,
            "created_at": now - timedelta(hours=hours),
        }
        for hours, priority, tags, content in HISTORY
    )
    results: list[dict[str, Any]] = []
    for query, filters in QUERIES:
        hits = engine.recall(query, k=3, namespace=namespace, **filters)
        results.append({"query": query, "filters": filters, "hits": [h.to_dict() for h in hits]})
    if as_json:
        return {"namespace": namespace, "store": engine.location, "results": results}
    lines = [
        f"Remembered {len(HISTORY)} memories of a data platform in namespace {namespace!r} ({engine.location}).",
        "",
    ]
    for result in results:
        shown = ", ".join(f"{k}={v}" for k, v in result["filters"].items())
        lines.append(f"recall: {result['query']}" + (f"  ({shown})" if shown else ""))
        for hit in result["hits"]:
            parts = hit["parts"]
            lines.append(
                f"  {hit['score']:.3f}  {hit['priority']:<8} {hit['content']}\n"
                f"         similarity {parts['similarity']:.2f} · words {parts['lexical']:.2f} · "
                f"priority {parts['priority']:.2f} · recency {parts['recency']:.2f}"
            )
        lines.append("")
    lines.append("Try: priomem recall 'orders incident' --since 48h --min-priority high --namespace demo")
    return "\n".join(lines)
