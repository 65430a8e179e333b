"""LoCoMo retrieval benchmark: priomem's default recall against plain cosine and BM25.

Every dialogue turn of every conversation is remembered through the public API
(``remember_many``: content, namespace and thread = the conversation's ``sample_id``,
created_at = the session date, metadata ``{"dia_id", "speaker"}``; default priority, no
tags), then every question is asked through ``recall``. The thread is what a conversation
memory gives priomem: turns of one conversation are read in each other's context. The measure is the data README's: recall@k is the
share of a question's evidence turns among the top k memories, averaged over questions.

    python benchmarks/locomo.py --data ../shared/data/locomo/locomo10-dev.json --baselines

Writes ``result.json`` and ``recall_at_k.png`` to ``--out`` (default ``benchmarks/out/locomo``)
and prints the tables. ``--conversations 1 --sessions 3 --questions 20`` is the smoke run
CI uses.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import namespace_records
from _locomo_data import CATEGORIES, Conversation, Question, load

from priomem import MemoryEngine, Settings
from priomem._requests import REMEMBER_KEYS

TURN_KS = (1, 5, 10, 25)
#: Whether this priomem takes ``thread=`` (older versions linked every write by time alone;
#: the benchmark runs against them unchanged, for before/after tables).
THREADS = "thread" in REMEMBER_KEYS
SESSION_KS = (1, 3, 5)
CURVE_K = 25

Ranker = Callable[[Conversation, Question, np.ndarray], list[str]]


# -- measures -----------------------------------------------------------------------------
def turn_recall(ranked: Sequence[str], evidence: Sequence[str], k: int) -> float:
    """Share of ``evidence`` among the first ``k`` of ``ranked``."""
    top = set(ranked[:k])
    return sum(e in top for e in evidence) / len(evidence)


def session_of(dia_id: str) -> str:
    return dia_id.split(":", 1)[0]


def session_recall(ranked: Sequence[str], evidence: Sequence[str], k: int) -> float:
    """Share of the evidence's sessions among the first ``k`` distinct sessions of ``ranked``."""
    sessions = list(dict.fromkeys(session_of(d) for d in ranked))[:k]
    wanted = set(session_of(e) for e in evidence)
    return len(wanted & set(sessions)) / len(wanted)


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean recalls (in %) over all questions, categories 1-4, and each category."""

    def mean(subset: list[dict[str, Any]], key: str) -> float:
        return round(100.0 * statistics.fmean(r[key] for r in subset), 1) if subset else float("nan")

    groups: dict[str, list[dict[str, Any]]] = {
        "all": rows,
        "cat1-4": [r for r in rows if r["category"] <= 4],
    }
    for cat in sorted({r["category"] for r in rows}):
        groups[f"cat{cat}"] = [r for r in rows if r["category"] == cat]
    out: dict[str, Any] = {}
    for name, subset in groups.items():
        out[name] = {
            "n": len(subset),
            **{f"R@{k}": mean(subset, f"R@{k}") for k in TURN_KS},
            **{f"S@{k}": mean(subset, f"S@{k}") for k in SESSION_KS},
            "curve": [mean(subset, f"c{k}") for k in range(1, CURVE_K + 1)],
        }
    return out


def score_question(ranked: Sequence[str], question: Question) -> dict[str, Any]:
    row: dict[str, Any] = {"category": question.category}
    for k in TURN_KS:
        row[f"R@{k}"] = turn_recall(ranked, question.evidence, k)
    for k in SESSION_KS:
        row[f"S@{k}"] = session_recall(ranked, question.evidence, k)
    for k in range(1, CURVE_K + 1):
        row[f"c{k}"] = turn_recall(ranked, question.evidence, k)
    return row


# -- baselines ----------------------------------------------------------------------------
_ALNUM = re.compile(r"[a-z0-9]+")


class BM25:
    """The reference BM25 of the data README: k1 1.2, b 0.75, lowercase alphanumeric tokens."""

    def __init__(
        self, ids: Sequence[str], documents: Sequence[str], k1: float = 1.2, b: float = 0.75
    ) -> None:
        self.ids = list(ids)
        self.counts = [Counter(_ALNUM.findall(d.lower())) for d in documents]
        lengths = [sum(c.values()) for c in self.counts]
        mean = max(statistics.fmean(lengths), 1.0) if lengths else 1.0
        self.norm = [k1 * (1 - b + b * n / mean) for n in lengths]
        self.k1 = k1
        df: Counter[str] = Counter()
        for counts in self.counts:
            df.update(counts.keys())
        n_docs = len(documents)
        self.idf = {t: math.log(1 + (n_docs - f + 0.5) / (f + 0.5)) for t, f in df.items()}

    def scores(self, query: str) -> np.ndarray:
        out = np.zeros(len(self.ids))
        for term in set(_ALNUM.findall(query.lower())):
            weight = self.idf.get(term)
            if weight is None:
                continue
            for i, counts in enumerate(self.counts):
                tf = counts.get(term, 0)
                if tf:
                    out[i] += weight * tf * (self.k1 + 1) / (tf + self.norm[i])
        return out


class Baselines:
    """Plain cosine (exact, over the vectors priomem stored) and BM25, per conversation."""

    def __init__(self, client: Any, conversations: Sequence[Conversation]) -> None:
        self.vectors: dict[str, tuple[list[str], np.ndarray]] = {}
        self.bm25: dict[str, BM25] = {}
        for conv in conversations:
            got = namespace_records(client, conv.sample_id, ["embeddings", "metadatas", "documents"])
            dia = [str(m["m.dia_id"]) for m in got["metadatas"]]
            self.vectors[conv.sample_id] = (dia, np.asarray(got["embeddings"], dtype=np.float32))
            # priomem keeps a memory's text in its metadata (older stores: the document).
            texts = [
                str(m.get("pm_text", d or ""))
                for m, d in zip(got["metadatas"], got["documents"], strict=True)
            ]
            self.bm25[conv.sample_id] = BM25(dia, texts)

    def cosine(self, conv: Conversation, question: Question, vector: np.ndarray) -> list[str]:
        ids, matrix = self.vectors[conv.sample_id]
        order = np.argsort(-(matrix @ vector), kind="stable")
        return [ids[i] for i in order[:CURVE_K]]

    def bm25_rank(self, conv: Conversation, question: Question, vector: np.ndarray) -> list[str]:
        index = self.bm25[conv.sample_id]
        order = np.argsort(-index.scores(question.question), kind="stable")
        return [index.ids[i] for i in order[:CURVE_K]]

    def rrf(self, conv: Conversation, question: Question, vector: np.ndarray) -> list[str]:
        ids, matrix = self.vectors[conv.sample_id]
        fused: dict[str, float] = {}
        index = self.bm25[conv.sample_id]
        for order, names in (
            (np.argsort(-(matrix @ vector), kind="stable"), ids),
            (np.argsort(-index.scores(question.question), kind="stable"), index.ids),
        ):
            for rank, i in enumerate(order):
                fused[names[i]] = fused.get(names[i], 0.0) + 1.0 / (60 + rank + 1)
        return sorted(fused, key=lambda d: -fused[d])[:CURVE_K]


# -- run ----------------------------------------------------------------------------------
def cut(conv: Conversation, sessions: int | None, questions: int | None) -> Conversation:
    """The first ``sessions`` sessions of ``conv`` and the first ``questions`` questions
    whose evidence lies in them (for smoke runs; None keeps everything)."""
    turns = tuple(t for t in conv.turns if sessions is None or t.session <= sessions)
    kept = {t.dia_id for t in turns}
    asked = [q for q in conv.questions if all(e in kept for e in q.evidence)]
    return Conversation(
        conv.sample_id, turns, tuple(asked[:questions]), conv.dropped_evidence, conv.skipped_questions
    )


def remember_all(engine: MemoryEngine, conversations: Sequence[Conversation], progress: Any) -> float:
    """Remember every turn, one ``remember_many`` call per session; returns seconds taken."""
    started = time.perf_counter()
    for conv in conversations:
        sessions: dict[int, list[dict[str, Any]]] = {}
        for turn in conv.turns:
            sessions.setdefault(turn.session, []).append(
                {
                    "content": turn.content,
                    "namespace": conv.sample_id,
                    "created_at": turn.created_at,
                    "metadata": {"dia_id": turn.dia_id, "speaker": turn.speaker},
                    **({"thread": conv.sample_id} if THREADS else {}),
                }
            )
        for items in sessions.values():
            engine.remember_many(items)
            progress.update(len(items))
    return time.perf_counter() - started


def run(args: argparse.Namespace) -> dict[str, Any]:
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from tqdm import tqdm

    conversations = [cut(c, args.sessions, args.questions) for c in load(args.data, limit=args.conversations)]
    n_turns = sum(len(c.turns) for c in conversations)
    n_questions = sum(len(c.questions) for c in conversations)
    settings = Settings(embed_backend=args.backend)  # defaults, not the developer's PRIOMEM_* environment
    with tempfile.TemporaryDirectory(prefix="priomem-locomo-") as folder:
        client = chromadb.PersistentClient(path=folder, settings=ChromaSettings(anonymized_telemetry=False))
        with MemoryEngine(client=client, settings=settings) as engine:
            engine.embedder.embed_query("warm up")  # model load is not write time
            model_name = engine.embedder.name
            with tqdm(total=n_turns, desc="remember", unit="turn", file=sys.stderr) as bar:
                write_seconds = remember_all(engine, conversations, bar)
            rows: dict[str, list[dict[str, Any]]] = {"priomem": []}
            baselines = Baselines(client, conversations) if args.baselines else None
            rankers: dict[str, Ranker] = {}
            if baselines is not None:
                rankers = {"cosine": baselines.cosine, "bm25": baselines.bm25_rank, "rrf": baselines.rrf}
                rows.update({name: [] for name in rankers})
            latencies: list[float] = []
            details: list[dict[str, Any]] = []
            with tqdm(total=n_questions, desc="recall", unit="q", file=sys.stderr) as bar:
                for conv in conversations:
                    for question in conv.questions:
                        started = time.perf_counter()
                        hits = engine.recall(question.question, k=CURVE_K, namespace=conv.sample_id)
                        latencies.append(time.perf_counter() - started)
                        ranked = [str(h.memory.metadata["dia_id"]) for h in hits]
                        rows["priomem"].append(score_question(ranked, question))
                        details.append(
                            {
                                "sample_id": conv.sample_id,
                                "question": question.question,
                                "category": question.category,
                                "evidence": list(question.evidence),
                                "top10": ranked[:10],
                            }
                        )
                        if rankers:
                            vector = np.asarray(
                                engine.embedder.embed_query(question.question), dtype=np.float32
                            )
                            vector /= max(float(np.linalg.norm(vector)), 1e-12)
                            for name, ranker in rankers.items():
                                rows[name].append(score_question(ranker(conv, question, vector), question))
                        bar.update(1)
    lat = sorted(latencies)
    return {
        "data": str(args.data),
        "conversations": [c.sample_id for c in conversations],
        "turns": n_turns,
        "questions": n_questions,
        "model": model_name,
        "settings": {"hybrid": settings.hybrid, "weights": repr(settings.weights)},
        "write_seconds": round(write_seconds, 2),
        "latency_ms": {
            "p50": round(1000 * lat[len(lat) // 2], 2),
            "p95": round(1000 * lat[min(len(lat) - 1, math.ceil(0.95 * len(lat)) - 1)], 2),
            "mean": round(1000 * statistics.fmean(lat), 2),
        },
        "results": {name: summarise(r) for name, r in rows.items()},
        "questions_detail": details,
    }


# -- report -------------------------------------------------------------------------------
def tables(result: dict[str, Any]) -> str:
    res = result["results"]
    lines = [
        f"LoCoMo {result['data']}: {len(result['conversations'])} conversations, "
        f"{result['turns']} turns, {result['questions']} questions; "
        f"write {result['write_seconds']} s, recall p50 {result['latency_ms']['p50']} ms, "
        f"p95 {result['latency_ms']['p95']} ms",
        "",
        "| retriever | questions | R@1 | R@5 | R@10 | R@25 |",
        "|---|---|---|---|---|---|",
    ]
    for name, groups in res.items():
        for group in ("all", "cat1-4"):
            g = groups[group]
            lines.append(
                f"| {name} ({group}) | {g['n']} | " + " | ".join(f"{g[f'R@{k}']:.1f}" for k in TURN_KS) + " |"
            )
    lines += [
        "",
        "Per category (turn R@1/5/10/25):",
        "",
        "| retriever | " + " | ".join(f"{c} {CATEGORIES[c]}" for c in sorted(CATEGORIES)) + " |",
        "|---|" + "---|" * len(CATEGORIES),
    ]
    for name, groups in res.items():
        cells = []
        for c in sorted(CATEGORIES):
            g = groups.get(f"cat{c}")
            cells.append("/".join(f"{g[f'R@{k}']:.1f}" for k in TURN_KS) + f" (n={g['n']})" if g else "-")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "| retriever | session R@1 | R@3 | R@5 |", "|---|---|---|---|"]
    for name, groups in res.items():
        g = groups["all"]
        lines.append(f"| {name} | " + " | ".join(f"{g[f'S@{k}']:.1f}" for k in SESSION_KS) + " |")
    return "\n".join(lines)


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    ks = list(range(1, CURVE_K + 1))
    for name, groups in result["results"].items():
        ax.plot(ks, groups["all"]["curve"], label=name, linewidth=2.5 if name == "priomem" else 1.5)
    ax.set_xlabel("k (memories recalled)")
    ax.set_ylabel("turn recall@k, all categories (%)")
    ax.set_title(f"LoCoMo ({result['questions']} questions, {result['turns']} turns)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", required=True, type=Path, help="LoCoMo-format JSON file")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out" / "locomo")
    parser.add_argument("--baselines", action="store_true", help="also measure plain cosine, BM25 and RRF")
    parser.add_argument("--conversations", type=int, default=None, help="only the first N conversations")
    parser.add_argument(
        "--backend",
        choices=["auto", "onnx", "torch"],
        default="auto",
        help="how the model runs (PRIOMEM_EMBED_BACKEND)",
    )
    parser.add_argument("--sessions", type=int, default=None, help="only the first N sessions of each")
    parser.add_argument("--questions", type=int, default=None, help="only the first N questions of each")
    args = parser.parse_args(argv)
    if not args.data.is_file():
        parser.error(f"--data {args.data}: no such file; see ../shared/data/locomo/README.md")
    result = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "result.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    plot(result, args.out / "recall_at_k.png")
    print(tables(result))
    print(f"\nwrote {args.out / 'result.json'} and {args.out / 'recall_at_k.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
