"""Packing recalled memories into a token budget: CRITICAL first, weights, honest budgets (issue 13, case 3)."""

from __future__ import annotations

from priomem import MemoryEngine, pack_hits
from priomem._packing import order_for_context, weight


def test_critical_is_never_left_out_while_low_is_in(engine: MemoryEngine) -> None:
    # The case: a 50-token budget kept a LOW memory and left the CRITICAL one out.
    engine.remember("debug: cache warm took 3s", priority="low", tags=["debug"])
    engine.remember("SLA: orders_daily is complete by 06:00 UTC for the finance team", priority="critical")
    hits = engine.recall("debug cache warm", k=5)
    assert hits[0].memory.priority.name == "LOW"  # the LOW note matches the query best
    packed = pack_hits(hits, 25)  # room for one of the two
    assert [h.memory.priority.name for h in packed.hits] == ["CRITICAL"]
    assert packed.tokens <= 25 and packed.omitted == 1


def test_a_critical_memory_too_big_for_the_budget_keeps_lower_ones_out(engine: MemoryEngine) -> None:
    engine.remember("debug: cache warm took 3s", priority="low")
    engine.remember("SLA: " + "the commitment in full " * 20, priority="critical")
    packed = pack_hits(engine.recall("cache warm SLA", k=5), 40)
    assert packed.hits == () and packed.critical_omitted == 1 and packed.text == ""


def test_alerts_come_right_after_critical_then_weighted_by_priority_and_type(engine: MemoryEngine) -> None:
    engine.remember("orders row count dropped 40% overnight", priority="medium", tags=["data-quality"])
    engine.remember("SLA: orders loaded by 06:00", priority="critical")
    engine.remember("orders job debug trace", priority="high", tags=["debug"])
    engine.remember("orders incident INC-12: late partition", priority="high", tags=["incident"])
    engine.remember("orders history: 12 late runs in March", priority="medium")
    ordered = order_for_context(engine.recall("orders", k=10))
    names = [h.memory.content.split(":")[0].split(" ")[0:2] for h in ordered]
    assert ordered[0].memory.priority.name == "CRITICAL", names
    assert "data-quality" in ordered[1].memory.tags
    rest = ordered[2:]
    assert [round(h.score * weight(h), 9) for h in rest] == sorted(
        (round(h.score * weight(h), 9) for h in rest), reverse=True
    )
    incident = next(h for h in rest if "incident" in h.memory.tags)
    debug = next(h for h in rest if "debug" in h.memory.tags)
    assert weight(incident) > weight(debug)


def test_the_budget_counts_the_header_and_every_line(engine: MemoryEngine) -> None:
    for i in range(8):
        engine.remember(f"ETL run {i} took {40 + i} minutes", priority="medium")
    packed = pack_hits(engine.recall("ETL run", k=8), 30, header="Relevant memories:")
    assert packed.text.startswith("Relevant memories:")
    assert packed.tokens <= 30 and packed.omitted == 8 - len(packed.hits) > 0
