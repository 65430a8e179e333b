"""Operational-memory benchmark: hand-written data-platform memories, graded questions by kind.

The data (``benchmarks/data/ops/``, see its README) is one platform team's month: SLAs,
compliance records and lineage (CRITICAL), incidents, allocations and quality metrics
(HIGH), history (MEDIUM) and much debug noise (LOW) that repeats the words of the
questions without answering them. Each question has a kind (fact, obligation, incident,
latest, window, identifier, paraphrase) and graded relevance: 2 answers it, 1 helps.

Every memory is remembered through the public API (``remember_many``: content, priority,
tags, ``created_at`` = now minus its age; no thread: these are notes, not turns of a
conversation), then every question is asked through ``recall`` (``since`` for window
questions), once per retriever:

- ``default``: priomem's default recall (``Settings()``);
- ``dense``: priomem's dense-only path (``Settings(hybrid=False)``): similarity, priority,
  recency, no word evidence;
- ``cosine`` (with ``--baselines``): the stored vectors ranked by cosine alone, with the
  same time window; what a plain vector store returns.

Measures, over each kind and overall: nDCG@5 (gain 2^grade - 1), P@1 (the first memory
answers: grade 2) and R@5 (share of the answering memories in the top 5), in %.

    python benchmarks/ops.py --baselines
    python benchmarks/ops.py --smoke          # a few questions; what CI runs

Writes ``ops.json`` to ``--out`` (default ``benchmarks/out``) and prints the tables.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import progress, table, write_json

from priomem import MemoryEngine, Settings
from priomem._timeparse import utcnow

DATA = Path(__file__).resolve().parent / "data" / "ops"
KINDS = ("fact", "obligation", "incident", "latest", "window", "identifier", "paraphrase")
K = 5


def load(folder: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    def lines(name: str) -> list[dict[str, Any]]:
        text = (folder / name).read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    memories, questions = lines("memories.jsonl"), lines("questions.jsonl")
    keys = {m["key"] for m in memories}
    for q in questions:
        missing = set(q["relevant"]) - keys
        if missing:
            raise SystemExit(f"{q['id']}: relevant keys {sorted(missing)} are not memories")
    return memories, questions


# -- measures -------------------------------------------------------------------------------
def ndcg(ranked: Sequence[str], grades: Mapping[str, int], k: int = K) -> float:
    dcg = sum((2 ** grades.get(key, 0) - 1) / math.log2(i + 2) for i, key in enumerate(ranked[:k]))
    ideal = sorted(grades.values(), reverse=True)[:k]
    best = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / best if best > 0 else 0.0


def score(ranked: Sequence[str], grades: Mapping[str, int]) -> dict[str, float]:
    answers = [key for key, g in grades.items() if g >= 2]
    top = set(ranked[:K])
    return {
        "nDCG@5": ndcg(ranked, grades),
        "P@1": 1.0 if ranked and grades.get(ranked[0], 0) >= 2 else 0.0,
        "R@5": sum(a in top for a in answers) / len(answers),
    }


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for kind in (*KINDS, "all"):
        subset = [r for r in rows if kind in ("all", r["kind"])]
        if not subset:
            continue
        out[kind] = {"n": len(subset)} | {
            m: round(100 * statistics.fmean(r[m] for r in subset), 1) for m in ("nDCG@5", "P@1", "R@5")
        }
    return out


# -- retrievers -----------------------------------------------------------------------------
Ranker = Callable[[dict[str, Any]], list[str]]


def engine_ranker(engine: MemoryEngine, key_of: Mapping[str, str]) -> Ranker:
    def rank(question: dict[str, Any]) -> list[str]:
        since = f"{question['since_hours']}h" if question.get("since_hours") else None
        hits = engine.recall(question["question"], k=10, namespace="ops", since=since, record_access=False)
        return [key_of[h.memory.id] for h in hits]

    return rank


def cosine_ranker(engine: MemoryEngine, memories: Sequence[dict[str, Any]], ids: Sequence[str]) -> Ranker:
    rows = engine._store.get("ops", ids=list(ids), embeddings=True, documents=False)
    vectors = {r.id: r.embedding for r in rows}
    matrix = np.stack([vectors[i] for i in ids])
    ages = np.asarray([m["age_hours"] for m in memories])

    def rank(question: dict[str, Any]) -> list[str]:
        query = np.asarray(engine.embedder.embed_query(question["question"]), dtype=np.float32)
        sims = matrix @ query
        if question.get("since_hours"):
            sims = np.where(ages < question["since_hours"], sims, -np.inf)
        order = [i for i in np.argsort(-sims)[:10] if np.isfinite(sims[i])]
        return [memories[i]["key"] for i in order]

    return rank


def run(args: argparse.Namespace) -> dict[str, Any]:
    memories, questions = load(args.data)
    if args.smoke:
        questions = [q for kind in KINDS for q in [x for x in questions if x["kind"] == kind][:2]]
    now = utcnow()
    items = [
        {
            "content": m["content"],
            "priority": m["priority"],
            "tags": m.get("tags", []),
            "namespace": "ops",
            "created_at": now - timedelta(hours=float(m["age_hours"])),
            "metadata": {"key": m["key"]},
        }
        for m in memories
    ]
    results: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="priomem-ops-") as folder:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        client = chromadb.PersistentClient(path=folder, settings=ChromaSettings(anonymized_telemetry=False))
        embedder = None
        if args.embedder == "hash":
            from priomem import HashEmbedder

            embedder = HashEmbedder(384)
        with MemoryEngine(client=client, embedder=embedder, settings=Settings()) as engine:
            progress(f"remembering {len(items)} memories")
            stored = engine.remember_many(items)
            key_of = {m.id: str(m.metadata["key"]) for m in stored}
            with MemoryEngine(
                client=client, embedder=engine.embedder, settings=Settings(hybrid=False)
            ) as dense:
                rankers: dict[str, Ranker] = {
                    "default": engine_ranker(engine, key_of),
                    "dense": engine_ranker(dense, key_of),
                }
                if args.baselines:
                    rankers["cosine"] = cosine_ranker(engine, memories, [m.id for m in stored])
                progress(f"asking {len(questions)} questions of {', '.join(rankers)}")
                for name, rank in rankers.items():
                    rows = []
                    for q in questions:
                        ranked = rank(q)
                        rows.append(
                            {
                                "id": q["id"],
                                "kind": q["kind"],
                                "top": ranked[:K],
                                **score(ranked, q["relevant"]),
                            }
                        )
                    results[name] = rows
    summary = {name: summarise(rows) for name, rows in results.items()}
    return {"memories": len(memories), "questions": len(questions), "summary": summary, "rows": results}


def report(result: dict[str, Any]) -> None:
    summary = result["summary"]
    names = list(summary)
    kinds = [k for k in (*KINDS, "all") if k in summary[names[0]]]
    for measure in ("nDCG@5", "P@1", "R@5"):
        table(
            f"{measure} by question kind ({result['memories']} memories, {result['questions']} questions)",
            ["kind", "n", *names],
            [
                [kind, summary[names[0]][kind]["n"], *(summary[n][kind][measure] for n in names)]
                for kind in kinds
            ],
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=DATA, help="folder with memories.jsonl and questions.jsonl"
    )
    parser.add_argument("--baselines", action="store_true", help="also rank by plain cosine")
    parser.add_argument("--smoke", action="store_true", help="two questions of each kind")
    parser.add_argument("--embedder", choices=("minilm", "hash"), default="minilm")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    args = parser.parse_args()
    result = run(args)
    report(result)
    write_json(args.out, "ops", result)


if __name__ == "__main__":
    main()
