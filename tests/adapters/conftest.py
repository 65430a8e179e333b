"""Fixtures for the LangChain and LangGraph adapters."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from priomem import MemoryEngine
from priomem.adapters.langgraph import PriomemStore

FACTS = [
    ("The nightly ETL must finish by 06:00 UTC for the finance SLA", "critical", ["etl", "sla"]),
    ("Alice prefers dark mode and metric units in every dashboard", "high", ["prefs"]),
    ("Last week's ETL runs took 41 minutes on average", "medium", ["etl"]),
    ("Debug note: the orders cache missed twice during the ETL on Monday", "low", ["etl", "debug"]),
    ("The orders table is partitioned by day and kept for two years", "medium", ["orders"]),
]


def seed(engine: MemoryEngine, namespace: str | None = None) -> dict[str, str]:
    """Remember FACTS; returns content -> id."""
    ids = {}
    for content, priority, tags in FACTS:
        ids[content] = engine.remember(content, priority=priority, tags=tags, namespace=namespace).id
    return ids


@pytest.fixture
def seeded(engine: MemoryEngine) -> MemoryEngine:
    """The hash-embedder engine holding FACTS in the default namespace."""
    seed(engine)
    return engine


@pytest.fixture
def store(engine: MemoryEngine) -> Iterator[PriomemStore]:
    """A PriomemStore on the hash-embedder engine."""
    yield PriomemStore(engine=engine)
