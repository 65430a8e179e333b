"""Shared pieces of the speed benchmarks: seeded synthetic texts, a bulk-loading embedder,
statistics, tables, JSON output, and a description of the machine.

Nothing here times anything on import; every benchmark builds its data from a seed, so
two runs on the same machine measure the same work.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "out"
MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSION = 384

_START = time.monotonic()
_LOAD_AT_START = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)


# -- progress and output -------------------------------------------------------------------
def progress(message: str) -> None:
    """A progress line on stderr (stdout carries only the result tables)."""
    sys.stderr.write(f"[{time.monotonic() - _START:7.1f}s] {message}\n")
    sys.stderr.flush()


def warn_if_busy() -> None:
    """Say so on stderr when other processes already use the cores (figures get noisy)."""
    cores = os.cpu_count() or 1
    if _LOAD_AT_START[0] > cores:
        progress(
            f"warning: load average {_LOAD_AT_START[0]:.1f} on {cores} cores; absolute figures will be "
            "noisy (the ratios are interleaved and hold up better)"
        )


def base_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small sizes, one minute or less")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes, seconds; checks the script runs (used by tests)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the JSON result")
    parser.add_argument("--seed", type=int, default=20240501, help="seed of the synthetic data")
    parser.add_argument(
        "--tmp", type=Path, default=None, help="where temporary stores go (default: the system temp folder)"
    )
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help="torch intra-op threads (default: torch's, one per core); 1 steadies figures on a shared machine",
    )
    return parser


def mode_of(args: argparse.Namespace) -> str:
    return "smoke" if args.smoke else "quick" if args.quick else "full"


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions: dict[str, str] = {}
    for name in ("chromadb", "torch", "sentence_transformers", "numpy"):
        module = sys.modules.get(name)
        if module is not None:
            versions[name] = str(getattr(module, "__version__", "?"))
    torch = sys.modules.get("torch")
    threads = torch.get_num_threads() if torch is not None else None
    try:
        load = os.getloadavg()
    except OSError:
        load = (0.0, 0.0, 0.0)
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _COMMIT,
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in _LOAD_AT_START],
        "load_average_at_end": [round(x, 2) for x in load],
        "versions": versions,
        "torch_threads": threads,
    }


def _commit() -> str:
    """The priomem commit measured (``+dirty`` when src/ has uncommitted changes)."""
    import subprocess

    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"], cwd=HERE.parent, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


#: The commit measured: read at start, since the engine's code is imported then.
_COMMIT = _commit()


def write_json(out: Path, name: str, payload: dict[str, Any]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    payload = {"benchmark": name, "machine": machine(), **payload}
    path.write_text(json.dumps(payload, indent=2, default=_json_default) + "\n", encoding="utf-8")
    progress(f"wrote {path}")
    return path


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A plain-text table (also valid Markdown)."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = [
        f"\n### {title}\n",
        "| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)) + " |",
    ]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        lines.append("| " + " | ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)) + " |")
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    return str(value)


# -- statistics ------------------------------------------------------------------------------
def percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return float("nan")
    return float(np.percentile(np.asarray(values, dtype=np.float64), p))


def ms(values: Sequence[float]) -> dict[str, float]:
    """p50/p95/mean of durations in seconds, as milliseconds."""
    return {
        "p50_ms": percentile(values, 50) * 1000,
        "p95_ms": percentile(values, 95) * 1000,
        "mean_ms": (statistics.fmean(values) * 1000) if values else float("nan"),
        "n": len(values),
    }


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# -- synthetic texts -------------------------------------------------------------------------
_SERVICES = [
    "billing-api",
    "checkout",
    "search-indexer",
    "ledger-sync",
    "auth-gateway",
    "report-builder",
    "etl-nightly",
    "feature-store",
    "inventory-svc",
    "payments-router",
    "email-dispatch",
    "fraud-scorer",
    "pricing-engine",
    "catalog-sync",
    "metrics-rollup",
    "warehouse-loader",
    "session-cache",
    "recommendations",
    "notification-hub",
    "invoice-renderer",
    "tax-calculator",
    "shipping-quotes",
    "identity-sync",
    "audit-trail",
    "data-lake-ingest",
]
_TEAMS = [
    "platform",
    "data-eng",
    "payments",
    "growth",
    "sre",
    "analytics",
    "security",
    "finance",
    "support",
    "ml-infra",
]
_PEOPLE = [
    "Alice",
    "Bram",
    "Chen",
    "Dana",
    "Elif",
    "Farid",
    "Greta",
    "Hiro",
    "Ines",
    "Jonas",
    "Kemal",
    "Lena",
    "Mateo",
    "Nadia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tariq",
    "Uma",
    "Viktor",
    "Wen",
    "Xavier",
    "Yara",
    "Zoltan",
    "Aiko",
    "Bruno",
    "Carmen",
    "Dmitri",
    "Esme",
    "Felix",
    "Gus",
    "Hana",
    "Ivan",
    "Jade",
    "Kofi",
    "Lior",
    "Maya",
    "Nils",
]
_CUSTOMERS = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Stark",
    "Wayne",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Vandelay",
    "Wonka",
    "Aperture",
    "Massive",
    "Dynamics",
    "Oscorp",
    "Pied",
    "Piper",
    "Monarch",
    "Nakatomi",
    "Gringotts",
    "Prestige",
    "Sterling",
]
_TABLES = [
    "orders",
    "customers",
    "invoices",
    "events",
    "sessions",
    "payments",
    "refunds",
    "shipments",
    "products",
    "clicks",
    "subscriptions",
    "accounts",
    "ledger_entries",
    "audit_log",
    "inventory_levels",
    "price_history",
]
_METRICS = [
    "p99 latency",
    "error rate",
    "throughput",
    "CPU usage",
    "memory usage",
    "queue depth",
    "cache hit ratio",
    "disk usage",
    "row count",
    "freshness lag",
    "retry count",
    "cost per run",
]
_REGIONS = ["eu-west-1", "us-east-1", "us-west-2", "ap-south-1", "eu-central-1", "ap-northeast-1"]
_ERRORS = [
    "a timeout talking to Postgres",
    "an out-of-memory kill",
    "a schema mismatch in the upstream feed",
    "a expired TLS certificate",
    "a deadlock on the ledger table",
    "a rate limit from the payment provider",
    "a full disk on the worker",
    "a DNS resolution failure",
    "a null primary key in the staging table",
    "a stuck Kafka consumer group",
]
_TOPICS = [
    "weekly reports",
    "invoice format",
    "alert routing",
    "data retention",
    "on-call handover",
    "dashboard colours",
    "currency rounding",
    "deployment windows",
    "API versioning",
    "backfill strategy",
    "incident reviews",
    "cost allocation",
]
_PREFS = [
    "CSV over Excel",
    "short summaries",
    "Slack over email",
    "UTC timestamps",
    "metric units",
    "dark mode dashboards",
    "Monday deliveries",
    "PDF invoices",
    "daily digests",
    "bullet points",
]
_ACTIONS = [
    "scaled up",
    "rolled back",
    "restarted",
    "migrated",
    "re-indexed",
    "patched",
    "throttled",
    "archived",
    "re-ran",
    "paused",
]
_FILLER = [
    "after some discussion",
    "as agreed in the review",
    "according to the runbook",
    "for now",
    "until further notice",
    "pending approval from finance",
    "as a temporary measure",
    "per the last retro",
]

_SENTENCES: tuple[str, ...] = (
    "{service} failed at {hour}:{minute} UTC on {host} because of {error}.",
    "{person} {action} {service} in {region} after the {metric} went above {number}.",
    "SLA: {service} must answer within {number} ms for {customer}, {filler}.",
    "{customer} prefers {pref} for {topic}.",
    "The {table} table grew to {number} million rows; {team} owns the clean-up.",
    "{team} decided to keep {table} for {days} days {filler}.",
    "Nightly ETL loaded {number} rows into {table} and finished at {hour}:{minute} UTC.",
    "{person} is on call for {service} this week; escalate to {person2} after {hour}:00.",
    "Compliance: {customer} data must stay in {region}; lineage is recorded for {table}.",
    "Budget for {team} in {region} is {number} dollars a month, {filler}.",
    "{metric} of {service} averaged {number} over the last {days} days.",
    "Incident {ticket}: {service} degraded for {minute} minutes; root cause was {error}.",
    "{person} asked to change the {topic} for {customer} {filler}.",
    "Allocation: {team} gets {number} cores on {host} until the end of the quarter.",
    "{service} depends on {service2}; deploy them together in {region}.",
    "Quality check on {table}: {number} rows had a null key, {filler}.",
)
_QUESTIONS: tuple[str, ...] = (
    "why did {service} fail on {host}?",
    "what is the SLA of {service} for {customer}?",
    "what does {customer} prefer for {topic}?",
    "who is on call for {service}?",
    "how long do we keep the {table} table?",
    "when did the nightly ETL finish loading {table}?",
    "what is the budget of {team} in {region}?",
    "what was the {metric} of {service} recently?",
    "where must {customer} data be stored?",
    "which services does {service} depend on?",
    "what happened in incident {ticket}?",
    "how many cores does {team} have on {host}?",
)


class TextGen:
    """Seeded, realistic agent-memory notes (ops, data and customer facts) and questions."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self._serial = 0

    def _pick(self, items: Sequence[str]) -> str:
        return items[int(self.rng.integers(len(items)))]

    def _fields(self) -> dict[str, str]:
        r = self.rng
        self._serial += 1
        return {
            "service": self._pick(_SERVICES),
            "service2": self._pick(_SERVICES),
            "team": self._pick(_TEAMS),
            "person": self._pick(_PEOPLE),
            "person2": self._pick(_PEOPLE),
            "customer": self._pick(_CUSTOMERS),
            "table": self._pick(_TABLES),
            "metric": self._pick(_METRICS),
            "region": self._pick(_REGIONS),
            "error": self._pick(_ERRORS),
            "topic": self._pick(_TOPICS),
            "pref": self._pick(_PREFS),
            "action": self._pick(_ACTIONS),
            "filler": self._pick(_FILLER),
            "host": f"{self._pick(('web', 'db', 'etl', 'gpu', 'cache'))}-{int(r.integers(1, 60)):02d}",
            "hour": f"{int(r.integers(24)):02d}",
            "minute": f"{int(r.integers(60)):02d}",
            "number": str(int(r.integers(2, 5000))),
            "days": str(int(r.choice([7, 14, 30, 90, 180, 365]))),
            "ticket": f"OPS-{int(r.integers(1000, 99999))}",
        }

    def sentence(self) -> str:
        return self._pick(_SENTENCES).format(**self._fields())

    def short(self, n: int) -> list[str]:
        """``n`` distinct one-sentence notes (10-25 words)."""
        return self._distinct(n, self.sentence)

    def long(self, n: int, sentences: tuple[int, int] = (5, 9)) -> list[str]:
        """``n`` distinct multi-sentence notes (about 80-160 words, ~130-250 tokens)."""

        def one() -> str:
            count = int(self.rng.integers(sentences[0], sentences[1] + 1))
            return " ".join(self.sentence() for _ in range(count))

        return self._distinct(n, one)

    def questions(self, n: int) -> list[str]:
        """``n`` distinct questions about the same world (for recall)."""
        return self._distinct(n, lambda: self._pick(_QUESTIONS).format(**self._fields()))

    def tagged(self, texts: Sequence[str]) -> list[str]:
        """The texts made unique by a short suffix, as near-duplicate notes are in real logs."""
        out = []
        for text in texts:
            self._serial += 1
            out.append(f"{text} (ref {self._serial:06d}, {self._pick(_REGIONS)})")
        return out

    def _distinct(self, n: int, make: Callable[[], str]) -> list[str]:
        seen: dict[str, None] = {}
        attempts = 0
        while len(seen) < n:
            text = make()
            attempts += 1
            if text in seen:
                # The vocabulary is finite: make a repeat unique the way real notes differ.
                text = f"{text} (ref {attempts:06d})"
            seen[text] = None
        return list(seen)


# -- embeddings ------------------------------------------------------------------------------
def real_embedder(batch_size: int = 64, threads: int | None = None) -> Any:
    """The packaged all-MiniLM-L6-v2, loaded now (so load time never lands in a measurement).

    ``threads`` sets torch's intra-op threads for the whole process (default: torch's
    choice, one per core, as users get it).
    """
    from priomem import SentenceTransformerEmbedder

    if threads:
        import torch

        torch.set_num_threads(threads)

    embedder = SentenceTransformerEmbedder(batch_size=batch_size)
    progress("loading all-MiniLM-L6-v2 ...")
    embedder.warm_up()
    embedder.embed_documents(["warm up the kernels once"] * 8)
    return embedder


def cached_embeddings(embedder: Any, texts: Sequence[str], cache: Path) -> np.ndarray:
    """Real embeddings of ``texts``, cached on disk by content (re-runs skip the model)."""
    digest = hashlib.sha256(("\n".join([embedder.name, *texts])).encode("utf-8")).hexdigest()[:24]
    path = cache / f"emb-{digest}.npy"
    if path.exists():
        progress(f"real embeddings of {len(texts)} texts from cache {path.name}")
        return np.load(path)
    progress(f"embedding {len(texts)} texts with {embedder.name} (cached afterwards) ...")
    vectors = np.asarray(embedder.embed_documents(list(texts)), dtype=np.float32)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (matrix / norms).astype(np.float32)


def derive(
    base: np.ndarray, n: int, rng: np.random.Generator, *, mix: float = 0.3, noise: float = 0.02
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` vectors around real embeddings: a base, a little of another base, isotropic noise.

    Returns (index of the base of each vector, vectors). With the defaults a derived
    vector has cosine ~0.85 to its base, as a note has to a reworded copy of it.
    """
    owner = rng.integers(len(base), size=n)
    other = rng.integers(len(base), size=n)
    vectors = (
        base[owner] + mix * base[other] + noise * rng.standard_normal((n, base.shape[1]), dtype=np.float32)
    )
    return owner, normalise(vectors)


@dataclass
class TableEmbedder:
    """An :class:`priomem.Embedder` for bulk loading: known texts get precomputed vectors.

    Documents in ``table`` cost a dictionary look-up; anything else (and every query) goes
    to ``model``, so query-time comparisons use the real model on both sides. It reports
    the real model's name and dimension, so the store looks like a normal one.
    """

    model: Any
    table: dict[str, np.ndarray]

    @property
    def name(self) -> str:
        return str(self.model.name)

    @property
    def dimension(self) -> int:
        return int(self.model.dimension)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in texts if t not in self.table]
        if missing:
            for text, vector in zip(missing, self.model.embed_documents(missing), strict=True):
                self.table[text] = np.asarray(vector, dtype=np.float32)
        return (
            np.stack([self.table[t] for t in texts]) if texts else np.zeros((0, self.dimension), np.float32)
        )

    def embed_query(self, text: str) -> np.ndarray:
        return np.asarray(self.model.embed_query(text), dtype=np.float32)


def chroma_client(path: Path) -> Any:
    """A raw PersistentClient on ``path``, with the settings priomem opens it with.

    In one process Chroma shares one system per path, so this client sees the engine's
    collections (and its writes) directly.
    """
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    return chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False))


# -- a store of memories ---------------------------------------------------------------------
_PRIORITIES = ("low", "medium", "high", "critical")
_PRIORITY_WEIGHTS = (0.2, 0.4, 0.3, 0.1)
_TAGS = ("ops", "data", "customer", "sla", "incident", "budget", "compliance", "oncall")


@dataclass
class Corpus:
    """Memories for a store: texts, their vectors, and remember_many items per namespace."""

    texts: list[str]
    vectors: np.ndarray
    namespaces: list[str]
    items: dict[str, list[dict[str, Any]]]

    def table(self) -> dict[str, np.ndarray]:
        return dict(zip(self.texts, self.vectors, strict=True))


def namespace_names(count: int) -> list[str]:
    return [f"agent-{i:03d}" for i in range(count)]


def make_corpus(
    bases_text: Sequence[str], bases: np.ndarray, per_namespace: int, namespaces: Sequence[str], seed: int
) -> Corpus:
    """``per_namespace`` memories in each namespace, with realistic priority, tags and age.

    Texts are base notes made unique by a short suffix; vectors are derived from the
    bases' real embeddings (see :func:`derive`), so loading needs no model.
    """
    rng = np.random.default_rng(seed)
    gen = TextGen(seed)
    n = per_namespace * len(namespaces)
    owner, vectors = derive(bases, n, rng)
    texts = gen.tagged([bases_text[i] for i in owner])
    priorities = rng.choice(len(_PRIORITIES), size=n, p=_PRIORITY_WEIGHTS)
    tag_counts = rng.integers(0, 3, size=n)
    ages = rng.uniform(0, 60 * 86400, size=n)
    now = time.time()
    items: dict[str, list[dict[str, Any]]] = {ns: [] for ns in namespaces}
    assigned = []
    for i in range(n):
        ns = namespaces[i % len(namespaces)]
        assigned.append(ns)
        item: dict[str, Any] = {
            "content": texts[i],
            "priority": _PRIORITIES[int(priorities[i])],
            "namespace": ns,
            "created_at": datetime.fromtimestamp(now - float(ages[i]), tz=UTC),
        }
        if tag_counts[i]:
            item["tags"] = list(rng.choice(_TAGS, size=int(tag_counts[i]), replace=False))
        items[ns].append(item)
    return Corpus(texts=texts, vectors=vectors, namespaces=assigned, items=items)


def load(engine: Any, items: dict[str, list[dict[str, Any]]], *, chunk: int = 1000) -> float:
    """remember_many, one namespace at a time (the fast path); returns memories per second."""
    total = sum(len(v) for v in items.values())
    done = 0
    start = time.perf_counter()
    last = start
    for batch in items.values():
        for s in range(0, len(batch), chunk):
            engine.remember_many(batch[s : s + chunk])
            done += len(batch[s : s + chunk])
            if time.perf_counter() - last > 15:
                last = time.perf_counter()
                rate = done / (last - start)
                progress(f"  loaded {done:,}/{total:,} ({rate:,.0f}/s, {(total - done) / rate:,.0f}s left)")
    return total / (time.perf_counter() - start)


def namespace_collections(client: Any) -> dict[str, Any]:
    """priomem namespace -> its Chroma collection (priomem records the namespace in metadata)."""
    found = {}
    for col in client.list_collections():
        meta = col.metadata or {}
        if "pm_namespace" in meta:
            found[str(meta["pm_namespace"])] = client.get_collection(col.name, embedding_function=None)
    return found


def namespace_records(client: Any, namespace: str, include: list[str]) -> dict[str, Any]:
    """Every record of a priomem namespace as a raw ``get`` returns them, from its own
    collection or (a small namespace) its shared one (``priomem._layout``)."""
    for col in client.list_collections():
        meta = col.metadata or {}
        if meta.get("pm_namespace") == namespace and not meta.get("pm_filling"):
            return dict(client.get_collection(col.name, embedding_function=None).get(include=include))
    for col in client.list_collections():
        if col.name.startswith("pmshared-"):
            got = client.get_collection(col.name, embedding_function=None).get(
                where={"pm_ns": namespace}, include=include
            )
            if got["ids"]:
                return dict(got)
    return {"ids": [], **{k: [] for k in include}}


def model_for(kind: str, batch_size: int = 64, threads: int | None = None) -> Any:
    """The embedding model of a run: the real one, or (``hash``) a fast fake for smoke runs."""
    if kind == "hash":
        from priomem import HashEmbedder

        return HashEmbedder(DIMENSION)
    return real_embedder(batch_size, threads)
