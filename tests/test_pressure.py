"""Memory under pressure: quotas and eviction, retention, consolidation, erasure, snapshots."""

from __future__ import annotations

import io
import json
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from priomem import (
    FormatError,
    HashEmbedder,
    InvalidInputError,
    MemoryEngine,
    Priority,
    QuotaExceededError,
    Settings,
)
from priomem._quota import Candidate, Incoming, Quota, plan_eviction


def cand(
    i: int, priority: Priority, *, lineage: bool = False, last_used: float = 0.0, size: int = 10
) -> Candidate:
    return Candidate(f"id{i:03d}", "ns", priority, lineage, last_used or float(i), 0, size)


# -- the eviction rule (pure) ------------------------------------------------------------
def test_lowest_priority_then_least_recently_used_goes_first() -> None:
    existing = [
        cand(1, Priority.MEDIUM),
        cand(2, Priority.LOW, last_used=50),
        cand(3, Priority.LOW, last_used=5),
    ]
    victims = plan_eviction(
        existing,
        [Incoming(Priority.MEDIUM, 10)],
        Quota(max_memories=3, critical_reserve=0, compliance_reserve=0),
        scope="t",
    )
    assert [v.id for v in victims] == ["id003"]


def test_lineage_goes_after_everything_else_of_its_priority() -> None:
    existing = [cand(1, Priority.LOW, lineage=True), cand(2, Priority.LOW, last_used=99)]
    victims = plan_eviction(
        existing,
        [Incoming(Priority.LOW, 10)],
        Quota(max_memories=2, critical_reserve=0, compliance_reserve=0),
        scope="t",
    )
    assert [v.id for v in victims] == ["id002"]


def test_critical_is_never_evicted_and_a_write_never_evicts_higher_priority() -> None:
    existing = [cand(1, Priority.CRITICAL), cand(2, Priority.HIGH)]
    with pytest.raises(QuotaExceededError, match="Nothing was written"):
        plan_eviction(
            existing,
            [Incoming(Priority.MEDIUM, 10)],
            Quota(max_memories=2, critical_reserve=0, compliance_reserve=0),
            scope="t",
        )
    victims = plan_eviction(
        existing,
        [Incoming(Priority.CRITICAL, 10)],
        Quota(max_memories=2, critical_reserve=0, compliance_reserve=0),
        scope="t",
    )
    assert [v.id for v in victims] == ["id002"]
    with pytest.raises(QuotaExceededError):
        plan_eviction(
            [cand(1, Priority.CRITICAL)], [Incoming(Priority.CRITICAL, 1)], Quota(max_memories=1), scope="t"
        )


def test_the_critical_reserve_is_kept_for_critical() -> None:
    quota = Quota(max_memories=10, critical_reserve=0.2, compliance_reserve=0)  # 8 for the others
    existing = [cand(i, Priority.HIGH) for i in range(8)]
    with pytest.raises(QuotaExceededError):
        plan_eviction(existing, [Incoming(Priority.MEDIUM, 1)], quota, scope="t")
    assert plan_eviction(existing, [Incoming(Priority.CRITICAL, 1)] * 2, quota, scope="t") == []
    assert len(plan_eviction(existing, [Incoming(Priority.HIGH, 1)], quota, scope="t")) == 1


def test_byte_quotas() -> None:
    quota = Quota(max_bytes=100, critical_reserve=0, compliance_reserve=0)
    existing = [cand(1, Priority.LOW, size=60), cand(2, Priority.LOW, size=30)]
    assert [v.id for v in plan_eviction(existing, [Incoming(Priority.LOW, 40)], quota, scope="t")] == [
        "id001"
    ]
    with pytest.raises(QuotaExceededError, match="can never fit"):
        plan_eviction([], [Incoming(Priority.CRITICAL, 101)], quota, scope="t")


@pytest.mark.parametrize(
    "bad", [{"max_memories": 0}, {"max_bytes": -1}, {"critical_reserve": 1.5}, {"max_memories": True}]
)
def test_bad_quotas_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError):
        Quota(**bad)  # type: ignore[arg-type]


# -- quotas through the engine -----------------------------------------------------------
def test_writes_evict_lowest_value_and_report_it(
    engine: MemoryEngine, caplog: pytest.LogCaptureFixture
) -> None:
    engine.set_quota("q", max_memories=5, critical_reserve=0.2, compliance_reserve=0)  # 4 for non-critical
    assert engine.get_quota("q").max_memories == 5
    for i in range(4):  # one at a time: least recently stored is evicted first
        engine.remember(f"debug {i}", priority="low", namespace="q")
    report = engine.remember_many_report(
        [{"content": "state: cluster healthy", "priority": "high", "namespace": "q"}]
    )
    assert [m.content for m in report.evicted] == ["debug 0"]
    assert "evicted 1 memories" in caplog.text
    assert engine.audit_log(action="evict")[0].ids == (report.evicted[0].id,)
    engine.remember("SLA one", priority="critical", namespace="q")
    assert engine.stats("q")["count"] == 5
    engine.remember("SLA two", priority="critical", namespace="q")  # CRITICAL may evict lower priorities
    engine.remember_many(
        [{"content": f"SLA {i}", "priority": "critical", "namespace": "q"} for i in range(3, 6)]
    )
    assert engine.stats("q")["by_priority"]["CRITICAL"] == 5
    with pytest.raises(QuotaExceededError):
        engine.remember("SLA six", priority="critical", namespace="q")  # CRITICAL is never evicted
    assert engine.stats("q")["count"] == 5


def test_refused_write_loses_nothing(engine: MemoryEngine) -> None:
    engine.set_quota("full", max_memories=2, critical_reserve=0, compliance_reserve=0)
    engine.remember("a", priority="high", namespace="full")
    engine.remember("b", priority="high", namespace="full")
    before = {m.id for m in engine.list(namespace="full")}
    with pytest.raises(QuotaExceededError, match="full"):
        engine.remember_many([{"content": "c", "priority": "low", "namespace": "full"}])
    assert {m.id for m in engine.list(namespace="full")} == before


def test_store_wide_quota(engine: MemoryEngine) -> None:
    engine.set_quota("*", max_memories=3, critical_reserve=0, compliance_reserve=0)
    engine.remember("x", priority="low", namespace="a")
    engine.remember("y", priority="medium", namespace="b")
    engine.remember("z", priority="medium", namespace="c")
    report = engine.remember_many_report([{"content": "w", "priority": "high", "namespace": "c"}])
    assert [(m.namespace, m.content) for m in report.evicted] == [("a", "x")]
    assert engine.stats()["count"] == 3


def test_settings_quota_default(chroma_client: object) -> None:
    with MemoryEngine(
        client=chroma_client,
        embedder=HashEmbedder(),
        settings=Settings(max_memories=3, critical_reserve=0, compliance_reserve=0),
    ) as e:
        for i in range(5):
            e.remember(f"note {i}", priority="low")
        assert e.stats("default")["count"] == 3 and e.stats("default")["quota_used"] == 1.0


# -- retention -------------------------------------------------------------------------------
def test_classification_lifetimes_are_defaults_and_sensitive_is_a_cap(engine: MemoryEngine) -> None:
    sensitive = engine.remember(
        "passport number noted", priority="critical", metadata={"classification": "sensitive"}
    )
    stretched = engine.remember("salary band noted", metadata={"classification": "sensitive"}, ttl="5y")
    public = engine.remember("public roadmap", metadata={"classification": "public"})
    kept_longer = engine.remember("public price list", metadata={"classification": "public"}, ttl="730d")
    internal = engine.remember("internal memo", metadata={"classification": "internal"})

    def lifetime(m: Any) -> timedelta | None:
        return None if m.expires_at is None else m.expires_at - m.stored_at

    assert lifetime(sensitive) == timedelta(days=90)
    assert lifetime(stretched) == timedelta(days=90)  # a cap: the ttl cannot stretch it
    assert lifetime(public) == timedelta(days=365)  # the default
    assert lifetime(kept_longer) == timedelta(days=730)  # a default: the memory's own ttl wins
    assert lifetime(internal) is None
    # A namespace may make public a cap too, and does so for what is already stored.
    policy = engine.set_retention(None, caps=["sensitive", "public"])
    assert policy.caps == frozenset({"sensitive", "public"})
    again = engine.get(kept_longer.id)
    assert again is not None and lifetime(again) == timedelta(days=365)
    with pytest.raises(InvalidInputError, match="caps"):
        engine.set_retention(None, caps="public")


def test_tightened_retention_applies_at_once_in_every_process(
    engine: MemoryEngine, chroma_client: object
) -> None:
    secret = engine.remember("the vault code is 4471", metadata={"classification": "sensitive"})
    other = MemoryEngine(client=chroma_client, embedder=HashEmbedder(64))  # another engine on the store
    assert other.get(secret.id) is not None
    engine.set_retention(None, classification={"sensitive": "1s"})
    time.sleep(1.3)
    assert engine.get(secret.id) is None
    assert [h.memory.id for h in engine.recall("vault code")] == []
    assert other.get(secret.id) is None
    assert [h.memory.id for h in other.recall("vault code")] == []
    assert engine.list() == []
    # Loosened before a sweep, the memory is back; a sweep under the tight rule deletes it.
    engine.set_retention(None, classification={"sensitive": "90d"})
    assert engine.get(secret.id) is not None
    engine.set_retention(None, classification={"sensitive": "1s"})
    assert engine.sweep() == 1
    engine.set_retention(None, classification={"sensitive": "90d"})
    assert engine.get(secret.id) is None


def test_namespace_retention_overrides_and_sweep_applies_new_rules(engine: MemoryEngine) -> None:
    kept = engine.remember("medium note", namespace="r")
    assert kept.expires_at is None
    policy = engine.set_retention("r", priority={"medium": "1s"}, classification={"internal": "2y"})
    assert policy.by_priority[Priority.MEDIUM] == timedelta(seconds=1)
    fresh = engine.remember("written under the new rule", namespace="r")
    assert fresh.expires_at is not None
    own_ttl = engine.remember("has its own ttl", namespace="r", ttl="1h")
    time.sleep(1.2)
    assert engine.sweep() == 2  # the old memory too: sweep re-applies the rules in force
    assert [m.content for m in engine.list(namespace="r")] == [own_ttl.content]
    assert engine.audit_log(action="sweep")[0].count == 2
    with pytest.raises(InvalidInputError):
        engine.set_retention("r", priority={"urgent": "1d"})


# -- consolidation ---------------------------------------------------------------------------
def test_consolidation_merges_similar_memories_and_keeps_details(engine: MemoryEngine) -> None:
    a = engine.remember("ETL run finished in 40 minutes", tags=["etl"], priority="low")
    b = engine.remember("ETL run finished in 41 minutes", tags=["nightly"], priority="medium")
    other = engine.remember("Completely different topic about lunch", priority="low")
    critical = engine.remember("ETL run finished in 42 minutes", priority="critical")
    lineage = engine.remember("ETL run finished in 43 minutes", refs=[a.id])
    pointer = engine.remember("follow-up on the run", refs=[b.id])
    results = engine.consolidate(min_similarity=0.6)
    assert len(results) == 1
    merged = results[0].memory
    assert set(results[0].merged_ids) == {a.id, b.id} and set(merged.consolidated_from) == {a.id, b.id}
    assert "40" in merged.content and "41" in merged.content
    assert merged.priority is Priority.MEDIUM and set(merged.tags) == {"etl", "nightly"}
    assert engine.get(a.id) is None and engine.get(b.id) is None
    assert engine.get(other.id) and engine.get(critical.id) and engine.get(lineage.id)
    repointed = engine.get(pointer.id)
    assert repointed is not None and repointed.refs == (merged.id,)
    assert engine.audit_log(action="consolidate")[0].count == 2


def test_consolidation_is_deterministic_respects_window_and_summarize(engine: MemoryEngine) -> None:
    old = datetime.now(UTC) - timedelta(days=2)
    engine.remember("disk usage 80 percent", created_at=old)
    engine.remember("disk usage 81 percent", created_at=old)
    assert engine.consolidate(min_similarity=0.5, dry_run=True) == []  # outside the 6h window
    plan1 = engine.consolidate(window="3d", min_similarity=0.5, dry_run=True)
    plan2 = engine.consolidate(window="3d", min_similarity=0.5, dry_run=True)
    assert [c.merged_ids for c in plan1] == [c.merged_ids for c in plan2] and len(plan1) == 1
    done = engine.consolidate(
        window="3d", min_similarity=0.5, summarize=lambda texts: f"disk usage {len(texts)} readings, 80-81%"
    )
    assert done[0].memory.content == "disk usage 2 readings, 80-81%"
    with pytest.raises(InvalidInputError):
        engine.consolidate(min_similarity=0)


def test_consolidation_never_mixes_data_subjects(engine: MemoryEngine) -> None:
    engine.remember("likes green tea in the morning", metadata={"subject": "alice"})
    engine.remember("likes green tea in the morning!", metadata={"subject": "bob"})
    assert engine.consolidate(min_similarity=0.5) == []


# -- erasure -------------------------------------------------------------------------------------
SECRET = "Zyxwquartz"


def files_mentioning(folder: Path, needle: str) -> list[str]:
    found = subprocess.run(["grep", "-rla", needle, str(folder)], capture_output=True, text=True)
    return found.stdout.split()


def test_erase_leaves_no_residue_in_store_files_or_exports(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with MemoryEngine(store, embedder=HashEmbedder(), settings=Settings()) as engine:
        for ns in ("a", "b"):
            engine.remember_many(
                [
                    {
                        "content": f"{SECRET} lives at {i} Elm street",
                        "namespace": ns,
                        "metadata": {"subject": "carol"},
                    }
                    for i in range(5)
                ]
                + [{"content": f"unrelated note {i}", "namespace": ns} for i in range(5)]
            )
        engine.remember(f"{SECRET} wholly owned namespace", namespace="carol-space")
        assert files_mentioning(store, SECRET)
        assert engine.erase(subject="carol") == 10
        assert engine.erase(namespace="carol-space") == 1
        # Raw Chroma: no document or metadata mentions the subject.
        for ns in engine.namespaces():
            for row in engine._store.get(ns):
                assert SECRET not in row.document and "carol" not in json.dumps(row.metadata)
        buf = io.StringIO()
        engine.export(buf, include_embeddings=True)
        assert SECRET not in buf.getvalue() and "carol" not in buf.getvalue()
        assert engine.stats()["count"] == 10
        log = engine.audit_log(action="erase")
        assert sum(r.count for r in log) == 11 and all(
            "carol" not in json.dumps(r.to_dict()) or r.namespace == "carol-space" for r in log
        )
        engine.remember("still writable after erasure", namespace="a")
    assert files_mentioning(store, SECRET) == []
    with MemoryEngine(
        store, embedder=HashEmbedder(), settings=Settings()
    ) as engine:  # audit survives a restart
        assert len(engine.audit_log(action="erase")) == 3 and engine.stats()["count"] == 11


def test_erase_needs_a_selector(engine: MemoryEngine) -> None:
    with pytest.raises(InvalidInputError, match="subject"):
        engine.erase()


# -- snapshots -----------------------------------------------------------------------------------
def test_export_import_round_trip_preserves_every_field(engine: MemoryEngine, tmp_path: Path) -> None:
    a = engine.remember(
        "alpha",
        priority="critical",
        tags=["x", "y"],
        metadata={"k": 1, "f": 1.5, "b": True, "s": "v"},
        refs=["01ABC"],
        created_at="2024-01-02T03:04:05Z",
        ttl="30d",
        namespace="n1",
    )
    engine.remember("beta", namespace="n2", priority="low")
    engine.recall("alpha", namespace="n1")
    engine._access.flush()
    path = tmp_path / "dump.jsonl"
    assert engine.export(path, include_embeddings=True) == 2
    header = json.loads(path.read_text().splitlines()[0])
    assert header["version"] == 2 and header["model"] == engine.embedder.name
    with MemoryEngine(tmp_path / "copy", embedder=HashEmbedder(), settings=Settings()) as other:
        report = other.import_(path)
        assert report.count == 2 and report.reembedded == 0
        assert other.get(a.id, namespace="n1") == engine.get(a.id, namespace="n1")
        assert other.recall("alpha", namespace="n1")[0].memory.id == a.id
    with MemoryEngine(tmp_path / "other-model", embedder=HashEmbedder(32), settings=Settings()) as other:
        report = other.import_(path)
        assert report.reembedded == 2  # another model: embeddings are recomputed
        with pytest.raises(InvalidInputError, match="never"):
            other.import_(path, reembed="never")


def test_import_migrates_v1_and_refuses_newer_versions(engine: MemoryEngine) -> None:
    v1 = io.StringIO(
        json.dumps({"format": "priomem-export", "version": 1})
        + "\n"
        + json.dumps(
            {
                "id": "01OLDMEMORY",
                "text": "legacy fact",
                "priority": 3,
                "namespace": "old",
                "tags": ["t"],
                "metadata": {},
                "created": 1700000000,
                "stored": 1700000001,
                "expires": None,
            }
        )
        + "\n"
    )
    report = engine.import_(v1)
    assert report.source_version == 1 and report.count == 1
    got = engine.get("01OLDMEMORY", namespace="old")
    assert got is not None and got.content == "legacy fact" and got.priority is Priority.HIGH
    assert got.created_at == datetime.fromtimestamp(1700000000, UTC)
    future = io.StringIO(json.dumps({"format": "priomem-export", "version": 99}) + "\n")
    with pytest.raises(FormatError, match="upgrade priomem"):
        engine.import_(future)
    with pytest.raises(FormatError, match="header"):
        engine.import_(io.StringIO('{"hello": 1}\n'))
    broken = io.StringIO(json.dumps({"format": "priomem-export", "version": 2}) + "\n{not json\n")
    with pytest.raises(FormatError, match="line 2"):
        engine.import_(broken)


def test_an_erasure_that_fails_half_way_completes_on_retry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from priomem import StoreError

    store = tmp_path / "store"
    secret = "Qopwiremint"
    with MemoryEngine(store, embedder=HashEmbedder(), settings=Settings()) as engine:
        for ns in ("a", "b", "c"):
            engine.remember(f"{secret} erin's address in {ns}", namespace=ns, metadata={"subject": "erin"})
            engine.remember(f"ordinary note in {ns}", namespace=ns)
        real_delete = engine._store.delete
        calls: list[str] = []

        def failing_delete(namespace: str, ids: Any) -> None:
            calls.append(namespace)
            if len(calls) == 2:
                raise StoreError("could not delete: the disk is full")
            real_delete(namespace, ids)

        monkeypatch.setattr(engine._store, "delete", failing_delete)
        with pytest.raises(StoreError, match="disk is full"):
            engine.erase(subject="erin")
        monkeypatch.undo()
        assert calls == ["a", "b"]  # namespace a was erased, b failed, c not reached
        assert [m.content for m in engine.list(namespace="c") if secret in m.content]
        # The retry erases what is left and makes the earlier namespace's deletion real too.
        assert engine.erase(subject="erin") == 2
        assert files_mentioning(store, secret) == []
    assert files_mentioning(store, secret) == []
    with MemoryEngine(store, embedder=HashEmbedder(), settings=Settings()) as engine:
        assert engine.stats()["count"] == 3


def test_a_reinforced_memory_keeps_its_renewed_lifetime_through_sweeps(engine: MemoryEngine) -> None:
    memory = engine.remember("deploy freeze until friday", ttl=3)
    time.sleep(2)
    engine.remember("deploy freeze until friday", ttl=3)  # reinforced: 3 s from now
    time.sleep(1.5)
    assert engine.sweep() == 0 and engine.get(memory.id) is not None
    engine.set_retention(None, priority={"low": "1d"})  # an unrelated change recomputes expiries
    assert engine.get(memory.id) is not None
