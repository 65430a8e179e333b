"""Which of Chroma Cloud's published quotas priomem's own calls to Chroma break (issue 17).

Wraps the methods of chromadb's ``Collection`` (add, upsert, update, get, query, delete)
with a recorder, runs a workload through ``MemoryEngine`` on an embedded store with the
hash embedder (ordinary writes; one large memory with many tags, metadata keys and
datasets; thread turns; filtered and plain recall; list; forget by tag; a quota with
evictions; consolidation; stats), and reports every call past a limit: metadata keys per
record, bytes per metadata value, bytes per document, predicates per where clause,
records per write, bytes per id and per collection name. Exit status 0 (a measurement).

    python benchmarks/cloud_limits.py              # the table, and benchmarks/out/cloud-limits.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chromadb.api.models.Collection import Collection

from priomem import HashEmbedder, MemoryEngine, Settings

HERE = Path(__file__).resolve().parent
#: Chroma Cloud's published quotas (docs.trychroma.com, "Quotas & Limits").
LIMITS = {
    "keys": 32, "key": 36, "value": 4096, "document": 16384, "predicates": 8, "batch": 300, "id": 128, "name": 128,
}  # fmt: skip


class Recorder:
    """Counts the calls and the worst value past each limit, by kind and place."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.over: Counter[tuple[str, str]] = Counter()
        self.worst: dict[tuple[str, str], int] = {}

    def check(self, kind: str, value: int, where: str) -> None:
        if value > LIMITS[kind]:
            self.over[(kind, where)] += 1
            self.worst[(kind, where)] = max(self.worst.get((kind, where), 0), value)

    def install(self) -> None:
        for name in ("add", "upsert", "update", "get", "query", "delete"):
            setattr(Collection, name, self._wrap(name, getattr(Collection, name)))

    def _wrap(self, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        recorder = self

        def recorded(col: Collection, *args: Any, **kwargs: Any) -> Any:
            recorder.calls[name] += 1
            recorder.check("name", len(col.name.encode()), "collection name")
            ids = kwargs.get("ids", args[0] if args else None)
            if name in ("add", "upsert", "update"):
                ids = list(ids or [])
                recorder.check("batch", len(ids), name)
                for one in ids:
                    recorder.check("id", len(str(one).encode()), name)
                for meta in kwargs.get("metadatas") or []:
                    recorder.check("keys", len(meta or {}), name)
                    for key, value in (meta or {}).items():
                        recorder.check("key", len(key.encode()), name)
                        size = (
                            len(json.dumps(value, ensure_ascii=False).encode())
                            if isinstance(value, list)
                            else len(str(value).encode())
                        )
                        recorder.check("value", size, f"{name} {key if key.startswith('pm_') else 'm.*'}")
                for document in kwargs.get("documents") or []:
                    recorder.check("document", len((document or "").encode()), name)
            else:
                recorder.check("predicates", predicates(kwargs.get("where")), name)
                if ids is not None:
                    recorder.check("batch", len(list(ids)), f"{name} by ids")
            return original(col, *args, **kwargs)

        return recorded


def predicates(where: Any) -> int:
    if not isinstance(where, dict):
        return 0
    return sum(
        sum(predicates(part) for part in value) if key in ("$and", "$or") else 1
        for key, value in where.items()
    )


def workload(folder: Path, layout: str) -> None:
    with MemoryEngine(
        folder, embedder=HashEmbedder(384), settings=Settings(namespace_layout=layout)
    ) as engine:
        engine.remember_many(
            {"content": f"orders ETL run {i} finished", "tags": ["etl"]} for i in range(1000)
        )
        big = engine.remember(
            "The nightly reconciliation of refunds against the ledger. " * 200,
            tags=[f"t{i}" for i in range(20)],
            metadata={f"k{i}": "v" * 100 for i in range(20)},
            reads=[f"raw.table_{i}" for i in range(10)],
            writes=["mart.orders"],
        )
        # The largest memory priomem accepts: 100,000 characters of several bytes each, 64
        # metadata keys of 64 characters holding 8,192 characters each.
        widest = engine.remember(
            ("Zürich 東京 データ 🙂 " * 7000)[:100_000],
            metadata={f"{i:02d}" + "k" * 62: "é" * 8192 for i in range(64)},
            tags=[f"tag{i}" for i in range(64)],
        )
        engine.set_priority(widest.id, "critical")  # rewrites the record whole
        engine.set_priority(big.id, "high")
        engine.recall("Zürich データ")  # reads it back, and counts the use in place
        engine.remember_many(  # many small namespaces in one call: sent together
            {"content": f"tenant {n} note {j}", "namespace": f"tenant-{n}", "thread": "t" if j else None}
            for n in range(400)
            for j in range(3)
        )
        engine.remember("Can we move the deploy to Tuesday?", thread="chat-1")
        engine.remember("Yes, Tuesday 10:00 works", thread="chat-1")
        engine.recall("orders", tags=[f"t{i}" for i in range(10)], since="7d", min_priority="low")
        engine.recall("orders ETL finished run")
        engine.list(tags=["etl"], limit=10)
        engine.forget(tags=["etl"])
        engine.set_quota(namespace="default", max_memories=50)
        engine.remember_many({"content": f"note {i}", "priority": "low"} for i in range(30))
        engine.remember_many({"content": f"status {i}", "priority": "high"} for i in range(30))
        engine.consolidate(min_similarity=0.5)
        engine.stats()
        engine.forget([widest.id])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "out")
    parser.add_argument(
        "--layout", choices=["own", "shared"], default="own",
        help="namespace layout (own: a collection per namespace, what Chroma Cloud offers cheaply)",
    )  # fmt: skip
    args = parser.parse_args()
    recorder = Recorder()
    recorder.install()
    with tempfile.TemporaryDirectory(prefix="priomem-cloud-") as tmp:
        workload(Path(tmp) / "store", args.layout)
    rows = [
        {
            "limit": kind,
            "where": where,
            "calls_over": count,
            "worst": recorder.worst[(kind, where)],
            "max": LIMITS[kind],
        }
        for (kind, where), count in sorted(recorder.over.items())
    ]
    report = {
        "benchmark": "cloud-limits",
        "layout": args.layout,
        "limits": LIMITS,
        "calls": dict(recorder.calls),
        "over": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "cloud-limits.json").write_text(json.dumps(report, indent=2))
    print(f"{sum(recorder.calls.values())} calls to Chroma checked; {len(rows)} kinds of call past a limit")
    print(f"{'limit':<12}{'call':<28}{'calls over':>11}{'worst':>8}{'max':>7}")
    for row in rows:
        print(f"{row['limit']:<12}{row['where']:<28}{row['calls_over']:>11}{row['worst']:>8}{row['max']:>7}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
