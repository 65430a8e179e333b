"""Priority benchmark: a synthetic data-platform memory where what matters is rarely what is loudest.

Weeks of memories, generated from a seed: routine ETL runs and debug noise (LOW), notes
(MEDIUM), DAG failures and schema changes (HIGH), SLA commitments (CRITICAL). Each
question has one known answer memory, buried among routine memories about the same table
or DAG that are worded much like it. The benchmark shows, beside pure similarity ranking:

- how often the CRITICAL / HIGH answer is in the top k (priomem's default recall, its
  dense-only path, and plain cosine ranking of the same stored vectors);
- recall with a time window ("which DAGs failed in the last 48 hours?"), where
  ``since="48h"`` is the only way to tell this week's failures from last month's;
- that priority weighting costs nothing when priorities are all equal: the same
  memories stored at one priority, ranked with and without the priority weight;
- recall latency of the default (hybrid) path against the dense-only path
  (``Settings(hybrid=False)``) at ``--latency-size`` memories in one namespace.

    python benchmarks/priority.py                 # about 3,000 memories, 10k for latency
    python benchmarks/priority.py --smoke         # seconds; what CI runs

Writes ``result.json`` to ``--out`` (default ``benchmarks/out/priority``) and prints tables.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import namespace_records

from priomem import MemoryEngine, Priority, Settings, Weights

KS = (1, 3, 5, 10)

_TABLES = [
    "orders",
    "customers",
    "invoices",
    "payments",
    "refunds",
    "shipments",
    "subscriptions",
    "inventory_levels",
    "price_history",
    "ledger_entries",
    "web_sessions",
    "support_tickets",
    "ad_spend",
    "warehouse_stock",
    "product_reviews",
    "loyalty_points",
]
_CUSTOMERS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell", "Wonka", "Oscorp"]
_TEAMS = ["data-eng", "platform", "payments", "analytics", "finance", "sre", "growth"]
_TASKS = ["extract", "load_staging", "dedupe", "transform", "validate", "publish", "snapshot", "backfill"]
_ERRORS = [
    ("a timeout talking to Postgres", "raised the statement timeout to 120 s"),
    ("an out-of-memory kill on the worker", "moved the task to the large worker pool"),
    ("a schema mismatch in the upstream feed", "pinned the feed to schema v2"),
    ("an expired TLS certificate on the source API", "rotated the certificate"),
    ("a deadlock on the ledger table", "serialised the writers with an advisory lock"),
    ("a rate limit from the payment provider", "added exponential backoff"),
    ("a full disk on the scratch volume", "cleaned up old spill files and grew the volume"),
    ("a null primary key in the staging table", "added a not-null check before the merge"),
]
_COLUMNS = ["amount", "status", "created_ts", "region", "currency", "customer_ref", "sku", "discount"]
_NEW_COLUMNS = ["amount_cents", "state", "created_at_utc", "region_code", "currency_iso", "account_id"]


@dataclass(frozen=True, slots=True)
class Item:
    """One memory to remember, and the key of the fact it states (if it is an answer)."""

    content: str
    priority: Priority
    created_at: datetime
    kind: str
    key: str = ""


@dataclass(frozen=True, slots=True)
class Probe:
    """A question, the key of the memory that answers it, and an optional time window."""

    question: str
    answer_key: str
    group: str
    since: str | None = None
    answer_keys: tuple[str, ...] = field(default_factory=tuple)


def _dag(table: str) -> str:
    return f"{table}_daily"


def generate(size: int, seed: int, now: datetime, days: int = 56) -> tuple[list[Item], list[Probe]]:
    """``size`` memories over ``days`` days before ``now``, and the questions about them."""
    rng = random.Random(seed)

    def when(lo_days: float, hi_days: float) -> datetime:
        return now - timedelta(days=rng.uniform(lo_days, hi_days))

    items: list[Item] = []
    probes: list[Probe] = []
    # Facts that answer questions: SLAs (CRITICAL), schema changes and old failures (HIGH).
    slas = rng.sample([(t, c) for t in _TABLES for c in _CUSTOMERS], k=min(24, max(6, size // 120)))
    for n, (table, customer) in enumerate(slas):
        hour, team = rng.choice([5, 6, 7, 8]), rng.choice(_TEAMS)
        key = f"sla-{n}"
        items.append(
            Item(
                f"SLA agreed with {customer}: the {table} table must be refreshed by 0{hour}:00 UTC every "
                f"day; a breach pages the {team} on-call.",
                Priority.CRITICAL,
                when(20, days),
                "sla",
                key,
            )
        )
        probes.append(Probe(f"By what time must {table} be refreshed for {customer}?", key, "critical"))
    changes = rng.sample([(t, c) for t in _TABLES for c in _COLUMNS], k=min(20, max(5, size // 150)))
    for n, (table, column) in enumerate(changes):
        new = rng.choice(_NEW_COLUMNS)
        key = f"schema-{n}"
        items.append(
            Item(
                f"Schema change: {table}.{column} was renamed to {new}; every query on {table} must use "
                f"{new} from now on.",
                Priority.HIGH,
                when(3, days),
                "schema",
                key,
            )
        )
        probes.append(Probe(f"What happened to the {column} column of {table}?", key, "high"))
    # DAG failures: old ones (answers to "why did X fail") and recent ones (the 48 h window).
    failed = rng.sample(_TABLES, k=min(len(_TABLES), max(6, size // 200)))
    recent: list[tuple[str, str]] = []
    for n, table in enumerate(failed):
        task = rng.choice(_TASKS)
        error, fix = rng.choice(_ERRORS)
        key = f"fail-{n}"
        is_recent = n % 2 == 0
        items.append(
            Item(
                f"DAG {_dag(table)} failed at task {task} because of {error}; we {fix}.",
                Priority.HIGH,
                when(0.1, 1.8) if is_recent else when(10, days),
                "failure",
                key,
            )
        )
        if is_recent:
            recent.append((key, table))
        else:
            probes.append(Probe(f"Why did the {_dag(table)} DAG fail?", key, "high"))
    probes.append(
        Probe(
            "Which DAGs failed in the last 48 hours?",
            recent[0][0],
            "window",
            since="48h",
            answer_keys=tuple(key for key, _ in recent),
        )
    )
    for key, table in recent:
        probes.append(Probe(f"What broke in {_dag(table)} recently?", key, "window", since="48h"))
    # Routine memories, worded like the facts: the haystack.
    while len(items) < size:
        table = rng.choice(_TABLES)
        roll = rng.random()
        created = when(0, days)
        if roll < 0.45:
            hour, minute = rng.randint(0, 9), rng.randint(0, 59)
            customer = rng.choice(_CUSTOMERS)
            text = (
                f"ETL run {rng.randint(10_000, 99_999)} for the {table} table finished at "
                f"{hour:02d}:{minute:02d} UTC: {rng.randint(10, 900)}k rows refreshed, {customer} "
                "partition included."
            )
            items.append(Item(text, Priority.LOW, created, "etl"))
        elif roll < 0.70:
            task = rng.choice(_TASKS)
            text = (
                f"debug: DAG {_dag(table)} task {task} retry {rng.randint(1, 5)} succeeded after a "
                f"transient error; queue depth {rng.randint(0, 400)}, worker w{rng.randint(100, 999)}."
            )
            items.append(Item(text, Priority.LOW, created, "debug"))
        elif roll < 0.85:
            column = rng.choice(_COLUMNS)
            text = (
                f"Note (ticket DATA-{rng.randint(1000, 9999)}): analysts asked about the {column} "
                f"column of {table}; row counts look normal and the dashboard refresh was fine."
            )
            items.append(Item(text, Priority.MEDIUM, created, "note"))
        else:
            customer = rng.choice(_CUSTOMERS)
            text = (
                f"Reminder (ticket DATA-{rng.randint(1000, 9999)}): {customer} asked whether {table} "
                "could be refreshed earlier; no commitment was made, discussion continues next sprint."
            )
            items.append(Item(text, Priority.MEDIUM, created, "note"))
    rng.shuffle(items)
    return items, probes


# -- running ------------------------------------------------------------------------------
Ranked = Callable[[Probe], list[str]]


def remember(engine: MemoryEngine, items: Sequence[Item], namespace: str, *, flat: bool = False) -> None:
    ordered = sorted(items, key=lambda i: i.created_at)
    for start in range(0, len(ordered), 500):
        engine.remember_many(
            [
                {
                    "content": i.content,
                    "namespace": namespace,
                    "created_at": i.created_at,
                    "priority": Priority.MEDIUM if flat else i.priority,
                    "metadata": {"kind": i.kind, "key": i.key} if i.key else {"kind": i.kind},
                }
                for i in ordered[start : start + 500]
            ]
        )


def recall_keys(engine: MemoryEngine, namespace: str, k: int) -> Ranked:
    def ranked(probe: Probe) -> list[str]:
        hits = engine.recall(probe.question, k=k, namespace=namespace, since=probe.since)
        return [str(h.memory.metadata.get("key", "")) for h in hits]

    return ranked


def cosine_keys(client: Any, engine: MemoryEngine, namespace: str, k: int) -> Ranked:
    """Plain cosine over every stored vector of the namespace (no priority, no window)."""
    got = namespace_records(client, namespace, ["embeddings", "metadatas"])
    keys = [str((m or {}).get("m.key", "")) for m in got["metadatas"]]
    matrix = np.asarray(got["embeddings"], dtype=np.float32)

    def ranked(probe: Probe) -> list[str]:
        vector = np.asarray(engine.embedder.embed_query(probe.question), dtype=np.float32)
        order = np.argsort(-(matrix @ vector), kind="stable")[:k]
        return [keys[i] for i in order]

    return ranked


def hit_rates(probes: Sequence[Probe], ranked: Ranked) -> dict[str, dict[str, float]]:
    """Per group: share of probes whose answer is in the top k (window: share of answers found)."""
    by_group: dict[str, list[list[float]]] = {}
    for probe in probes:
        keys = ranked(probe)
        wanted = probe.answer_keys or (probe.answer_key,)
        by_group.setdefault(probe.group, []).append(
            [sum(w in keys[:k] for w in wanted) / len(wanted) for k in KS]
        )
    return {
        group: {
            "n": len(rows),
            **{f"@{k}": round(100 * statistics.fmean(r[i] for r in rows), 1) for i, k in enumerate(KS)},
        }
        for group, rows in by_group.items()
    }


def _ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50": round(1000 * ordered[len(ordered) // 2], 2),
        "p95": round(1000 * ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)], 2),
    }


def latency(folder: Path, embedder: Any, size: int, queries: int, seed: int, now: datetime) -> dict[str, Any]:
    """Recall latency of the hybrid and the dense-only path on one ``size``-memory namespace."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from tqdm import tqdm

    items, probes = generate(size, seed + 1, now)
    client = chromadb.PersistentClient(
        path=str(folder / "latency"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    questions = [p.question for p in probes]
    rng = random.Random(seed)
    while len(questions) < queries:
        item = rng.choice(items)
        questions.append(" ".join(item.content.split()[: rng.randint(4, 9)]) + "?")
    questions = questions[:queries]
    with (
        MemoryEngine(client=client, settings=Settings(), embedder=embedder) as hybrid,
        MemoryEngine(client=client, settings=Settings(hybrid=False), embedder=hybrid.embedder) as dense,
    ):
        started = time.perf_counter()
        with tqdm(total=size, desc=f"latency store ({size})", unit="mem", file=sys.stderr) as bar:
            ordered = sorted(items, key=lambda i: i.created_at)
            for start in range(0, size, 500):
                chunk = ordered[start : start + 500]
                hybrid.remember_many(
                    [
                        {
                            "content": i.content,
                            "namespace": "latency",
                            "created_at": i.created_at,
                            "priority": i.priority,
                        }
                        for i in chunk
                    ]
                )
                bar.update(len(chunk))
        write_seconds = time.perf_counter() - started
        for engine in (hybrid, dense):  # warm both paths (model, collection handles)
            engine.recall("warm up", namespace="latency")
        times: dict[str, list[float]] = {"hybrid": [], "dense": []}
        for n, question in enumerate(tqdm(questions, desc="latency recall", unit="q", file=sys.stderr)):
            # Alternate which path goes first, so neither always meets a warm cache.
            order = (
                (("hybrid", hybrid), ("dense", dense))
                if n % 2 == 0
                else (("dense", dense), ("hybrid", hybrid))
            )
            for name, engine in order:
                # The query-embedding cache would hide the model's share; use a fresh text.
                text = f"{question} ({n}{name[0]})"
                t0 = time.perf_counter()
                engine.recall(text, k=10, namespace="latency")
                times[name].append(time.perf_counter() - t0)
    out = {name: _ms(values) for name, values in times.items()}
    return {
        "memories": size,
        "queries": len(questions),
        "write_seconds": round(write_seconds, 1),
        **out,
        "ratio_p50": round(out["hybrid"]["p50"] / out["dense"]["p50"], 2),
        "ratio_p95": round(out["hybrid"]["p95"] / out["dense"]["p95"], 2),
    }


class CachingEmbedder:
    """The default model, embedding each distinct text once: the configurations compared
    each get their own namespace (so one's access counts never boost another's ranking)
    without paying the model again for the same memories."""

    def __init__(self) -> None:
        from priomem import SentenceTransformerEmbedder

        self._inner = SentenceTransformerEmbedder()
        self._cache: dict[str, np.ndarray] = {}

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            for text, vector in zip(missing, self._inner.embed_documents(missing), strict=True):
                self._cache[text] = vector
        return (
            np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, self.dimension), np.float32)
        )

    def embed_query(self, text: str) -> np.ndarray:
        return np.asarray(self._inner.embed_query(text), dtype=np.float32)


def run(args: argparse.Namespace) -> dict[str, Any]:
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from tqdm import tqdm

    now = datetime.now(UTC)
    items, probes = generate(args.size, args.seed, now)
    result: dict[str, Any] = {
        "size": len(items),
        "probes": len(probes),
        "seed": args.seed,
        "by_priority": {p.name: sum(i.priority == p for i in items) for p in Priority},
    }
    embedder = CachingEmbedder()
    unweighted = Settings(weights=replace(Weights(), priority=0.0))
    configs = [
        ("top_k", "priomem (default)", Settings(), False),
        ("top_k", "priomem dense-only (hybrid=False)", Settings(hybrid=False), False),
        ("top_k", "priomem, priority weight 0", unweighted, False),
        ("equal_priorities", "priomem (default weights)", Settings(), True),
        ("equal_priorities", "priomem, priority weight 0", unweighted, True),
    ]
    k = max(KS)
    with tempfile.TemporaryDirectory(prefix="priomem-priority-") as tmp:
        folder = Path(tmp)
        client = chromadb.PersistentClient(
            path=str(folder / "store"), settings=ChromaSettings(anonymized_telemetry=False)
        )
        with tqdm(total=len(configs) + 1, desc="priority benchmark", unit="config", file=sys.stderr) as bar:
            for n, (table, name, settings, flat) in enumerate(configs):
                namespace = f"config-{n}"
                with MemoryEngine(client=client, settings=settings, embedder=embedder) as engine:
                    remember(engine, items, namespace, flat=flat)
                    result.setdefault(table, {})[name] = hit_rates(probes, recall_keys(engine, namespace, k))
                    if n == 0:
                        result[table]["cosine only"] = hit_rates(
                            probes, cosine_keys(client, engine, namespace, k)
                        )
                bar.update(1)
            if args.latency_size:
                result["latency"] = latency(
                    folder, embedder, args.latency_size, args.latency_queries, args.seed, now
                )
            bar.update(1)
    return result


def tables(result: dict[str, Any]) -> str:
    lines = [
        f"Priority benchmark: {result['size']} memories ({', '.join(f'{k} {v}' for k, v in result['by_priority'].items())}), "
        f"{result['probes']} questions, seed {result['seed']}",
        "",
        "Answer in the top k (%), by question group (critical: SLA, high: schema change / old failure, "
        "window: failures of the last 48 h, asked with since='48h' where the retriever allows it):",
        "",
        "| retriever | group | n | " + " | ".join(f"@{k}" for k in KS) + " |",
        "|---|---|---|" + "---|" * len(KS),
    ]
    for name, groups in result["top_k"].items():
        for group, row in groups.items():
            lines.append(
                f"| {name} | {group} | {row['n']} | " + " | ".join(f"{row[f'@{k}']:.1f}" for k in KS) + " |"
            )
    lines += [
        "",
        "Same memories, every one at MEDIUM priority:",
        "",
        "| ranking | group | n | " + " | ".join(f"@{k}" for k in KS) + " |",
        "|---|---|---|" + "---|" * len(KS),
    ]
    for name, groups in result["equal_priorities"].items():
        for group, row in groups.items():
            lines.append(
                f"| {name} | {group} | {row['n']} | " + " | ".join(f"{row[f'@{k}']:.1f}" for k in KS) + " |"
            )
    if "latency" in result:
        lat = result["latency"]
        lines += [
            "",
            f"Recall latency, k=10, {lat['memories']} memories in one namespace, {lat['queries']} queries each, interleaved:",
            "",
            "| path | p50 ms | p95 ms |",
            "|---|---|---|",
            f"| hybrid (default) | {lat['hybrid']['p50']} | {lat['hybrid']['p95']} |",
            f"| dense only (hybrid=False) | {lat['dense']['p50']} | {lat['dense']['p95']} |",
            f"| ratio | {lat['ratio_p50']} | {lat['ratio_p95']} |",
        ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size", type=int, default=3000, help="memories in the priority store")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--latency-size", type=int, default=10_000, help="memories for the latency test (0: skip)"
    )
    parser.add_argument("--latency-queries", type=int, default=200)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out" / "priority")
    args = parser.parse_args(argv)
    if args.smoke:
        args.size, args.latency_size, args.latency_queries = 300, 400, 20
    result = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "result.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(tables(result))
    print(f"\nwrote {args.out / 'result.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
