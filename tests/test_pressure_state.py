"""A hypothesis state machine: random remember / forget / consolidate / sweep under small quotas."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from priomem import HashEmbedder, MemoryEngine, Priority, QuotaExceededError, Settings
from tests._chroma import ephemeral_client

WORDS = ["etl", "orders", "failed", "ok", "sla", "schema", "debug", "metric", "disk", "latency"]
NS = ["a", "b"]
QUOTA = 6


class PressureMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        client = ephemeral_client()
        client.reset()
        self.engine = MemoryEngine(client=client, embedder=HashEmbedder(16), settings=Settings())
        self.critical: dict[str, str] = {}  # id -> namespace of every CRITICAL memory written
        self.forgotten: set[str] = set()

    @initialize()
    def quotas(self) -> None:
        for ns in NS:
            self.engine.set_quota(ns, max_memories=QUOTA, critical_reserve=0.34)

    @rule(
        words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=4),
        priority=st.sampled_from(list(Priority)),
        ns=st.sampled_from(NS),
        with_ref=st.booleans(),
    )
    def remember(self, words: list[str], priority: Priority, ns: str, with_ref: bool) -> None:
        refs = []
        if with_ref:
            existing = self.engine.list(namespace=ns, limit=1)
            refs = [existing[0].id] if existing else []
        try:
            memory = self.engine.remember(" ".join(words), priority=priority, namespace=ns, refs=refs)
        except QuotaExceededError:
            return
        if memory.priority is Priority.CRITICAL:
            self.critical[memory.id] = ns

    @rule(ns=st.sampled_from(NS), data=st.data())
    def forget_one(self, ns: str, data: st.DataObject) -> None:
        memories = self.engine.list(namespace=ns, limit=100)
        if memories:
            victim = data.draw(st.sampled_from(memories))
            self.engine.forget([victim.id], namespace=ns)
            self.forgotten.add(victim.id)
            self.critical.pop(victim.id, None)

    @rule(ns=st.sampled_from(NS), similarity=st.floats(0.3, 0.95))
    def consolidate(self, ns: str, similarity: float) -> None:
        self.engine.consolidate(ns, min_similarity=similarity, max_priority="high")

    @rule()
    def sweep(self) -> None:
        self.engine.sweep()

    @invariant()
    def critical_memories_are_never_lost(self) -> None:
        for memory_id, ns in self.critical.items():
            assert self.engine.get(memory_id, namespace=ns) is not None, memory_id

    @invariant()
    def quotas_hold(self) -> None:
        for ns in NS:
            assert self.engine.stats(ns)["count"] <= QUOTA

    @invariant()
    def every_missing_reference_is_explained(self) -> None:
        audited = {i for record in self.engine.audit_log(limit=100_000) for i in record.ids}
        for ns in NS:
            live = {m.id for m in self.engine.list(namespace=ns, limit=1000)}
            merged = {i for m in self.engine.list(namespace=ns, limit=1000) for i in m.consolidated_from}
            for memory in self.engine.list(namespace=ns, limit=1000):
                for ref in (*memory.refs, *memory.consolidated_from):
                    assert ref in live or ref in audited or ref in merged, (memory.id, ref)

    def teardown(self) -> None:
        self.engine.close()


PressureMachine.TestCase.settings = settings(
    max_examples=30, stateful_step_count=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_memory_under_pressure = PressureMachine.TestCase
