"""Two tenants on one store: guarantees, reserves, packing and lineage.

A store quota of 20 memories; tenant ``acme`` is guaranteed 14, ``globex`` has no
guarantee and borrows what ``acme`` does not use. When ``acme`` needs its space back,
the borrowed memories go (lowest priority first), and ``globex`` never evicts ``acme``.
Then a packed context keeps the CRITICAL SLA ahead of a better-matching debug note, and
``lineage`` answers "where does orders_daily come from?".

    python examples/tenants.py
"""

from __future__ import annotations

import tempfile

from priomem import Embedder, HashEmbedder, InvalidInputError, MemoryEngine, QuotaExceededError, pack_hits


def main(path: str, embedder: Embedder | None = None) -> None:
    with MemoryEngine(path=path, embedder=embedder or HashEmbedder()) as engine:
        engine.set_quota("*", max_memories=20)
        engine.set_quota("acme", max_memories=14)  # its guarantee; 6 stay unallocated
        try:
            engine.set_quota("globex", max_memories=10)  # 14 + 10 > 20: refused, nothing changed
        except InvalidInputError as exc:
            print("refused:", str(exc).split(". ")[0])

        engine.remember_many(
            [
                {"content": f"globex load test {i}", "priority": "low", "namespace": "globex"}
                for i in range(16)
            ]
        )  # borrows acme's unused space
        report = engine.remember_many_report(
            [{"content": f"acme state {i}", "priority": "high", "namespace": "acme"} for i in range(8)]
        )
        print(f"acme took back {len(report.evicted)} borrowed memories from globex")
        try:
            engine.remember("globex critical note", priority="critical", namespace="globex")
            engine.remember_many(
                [
                    {"content": f"globex SLA {i}", "priority": "critical", "namespace": "globex"}
                    for i in range(8)
                ]
            )
        except QuotaExceededError:
            print("globex's CRITICAL memories must fit the unallocated share")

        engine.remember("debug: orders cache warm took 3s", priority="low", namespace="acme", tags=["debug"])
        engine.remember(
            "SLA: orders_daily complete by 06:00 UTC",
            priority="critical",
            namespace="acme",
            reads=["raw.orders", "raw.customers"],
            writes=["orders_daily"],
        )
        engine.remember(
            "Ingest lands S3 orders into raw.orders hourly",
            namespace="acme",
            reads=["s3://lake/orders"],
            writes=["raw.orders"],
        )
        hits = engine.recall("orders cache warm", namespace="acme", k=5)
        print("best match:", hits[0].memory.content)
        packed = pack_hits(hits, 16)  # room for one line: the CRITICAL one goes in first
        print("context:", packed.text)

        found = engine.lineage("orders_daily", namespace="acme")
        print("orders_daily comes from:", ", ".join(found.upstream_datasets))
        stats = engine.stats("acme")
        print(
            f"acme: {stats['count']} memories, {stats['quota_used']:.0%} of its guarantee, "
            f"{stats['lineage']['memories']} with lineage"
        )


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        main(folder)
