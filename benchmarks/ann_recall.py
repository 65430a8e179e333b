"""ANN recall@10 of Chroma's HNSW against exact (numpy brute-force) search.

For each HNSW build setting (max_neighbors M, ef_construction) the vectors are added to
a fresh persistent Chroma collection (as priomem creates them: cosine space), then each
ef_search is measured on the same index. Chroma reads ef_search when it loads an index,
so every ef_search step is ``collection.modify`` + reopening the client.

Datasets (384-d, L2-normalised):

* ``minilm``: real all-MiniLM-L6-v2 embeddings of seeded synthetic notes (a few
  thousand), plus vectors derived from them (a base, a share of another base, noise)
  up to N; queries are real embeddings of *fresh* notes and questions (not in the index).
* ``clustered``: ~50-vector clusters of isotropic noise around anisotropic random
  centres; held-out queries from the same clusters. No model needed; a harder second
  opinion (no low intrinsic dimension), slow to build: not in the full run by default.

Reported per (dataset, M, ef_construction, ef_search): recall@10 with ``n_results=10``
(what a raw Chroma user gets), recall@10 of the top 10 of a 50-candidate query (what
priomem's dense pool gets: it asks for max(4k, 50)), single-query latency p50/p95, build
time and the index size on disk.

Run: ``python benchmarks/ann_recall.py`` (full, about 10 minutes), ``--quick``, ``--smoke``.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import (
    DIMENSION,
    TextGen,
    base_parser,
    cached_embeddings,
    chroma_client,
    derive,
    mode_of,
    ms,
    normalise,
    progress,
    real_embedder,
    table,
    warn_if_busy,
    write_json,
)

K = 10
ENGINE_POOL = 50  # priomem's dense pool: max(4 * k, 50)
ADD_BATCH = 5000

SIZES: dict[str, dict[str, Any]] = {
    "full": {
        "n": 100_000,
        "bases": 4000,
        "queries": 400,
        "latency_queries": 200,
        "builds": [(16, 100), (32, 100), (32, 200)],
        "efs": [32, 64, 128, 256],
        "clustered_builds": [(32, 200)],
        "datasets": "minilm",
    },
    "quick": {
        "n": 20_000,
        "bases": 600,
        "queries": 100,
        "latency_queries": 100,
        "builds": [(16, 100), (32, 200)],
        "efs": [32, 128],
        "clustered_builds": [(32, 200)],
        "datasets": "minilm,clustered",
    },
    "smoke": {
        "n": 1500,
        "bases": 60,
        "queries": 20,
        "latency_queries": 10,
        "builds": [(16, 100)],
        "efs": [32, 64],
        "clustered_builds": [(16, 100)],
        "datasets": "minilm,clustered",
    },
}


def minilm_dataset(cfg: dict[str, Any], seed: int, model: Any, cache: Path) -> dict[str, Any]:
    gen = TextGen(seed)
    bases_text = gen.short(cfg["bases"])
    bases = cached_embeddings(model, bases_text, cache)
    rng = np.random.default_rng(seed)
    _, derived = derive(bases, cfg["n"] - len(bases), rng)
    vectors = np.concatenate([bases, derived])
    half = cfg["queries"] // 2
    fresh_notes = [t for t in gen.short(half + len(bases_text)) if t not in set(bases_text)][:half]
    questions = gen.questions(cfg["queries"] - len(fresh_notes))
    queries = cached_embeddings(model, questions + fresh_notes, cache)
    return {
        "name": "minilm",
        "vectors": vectors,
        "queries": normalise(queries),
        "real": len(bases),
        "description": f"{len(bases)} real MiniLM note embeddings + {len(derived)} derived; "
        f"queries: {len(questions)} real question + {len(fresh_notes)} real fresh-note embeddings",
    }


def clustered_dataset(cfg: dict[str, Any], seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed + 1)
    n, nq, d = cfg["n"], cfg["queries"], DIMENSION
    clusters = max(cfg["n"] // 50, 10)
    # Real MiniLM vectors share a common direction (mean pairwise cosine ~0.18); so do
    # these centres. Around each centre, isotropic noise of norm 0.5-0.8: neighbours at
    # cosine ~0.6-0.8, as real near neighbours are, but with none of the low intrinsic
    # dimension of real embeddings, which makes this the harder (and slower to build) set.
    common = normalise(rng.standard_normal((1, d), dtype=np.float32))
    centres = normalise(rng.standard_normal((clusters, d), dtype=np.float32) / np.sqrt(d) + 0.47 * common)
    spread = rng.uniform(0.5, 0.8, size=clusters).astype(np.float32) / np.sqrt(d)
    owner = rng.integers(clusters, size=n + nq)
    points = normalise(
        centres[owner] + spread[owner, None] * rng.standard_normal((n + nq, d), dtype=np.float32)
    )
    return {
        "name": "clustered",
        "vectors": points[:n],
        "queries": points[n:],
        "real": 0,
        "description": f"{clusters} clusters of ~50 around anisotropic centres, noise norm 0.5-0.8; "
        "held-out queries",
    }


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the exact top ``k`` by cosine, and the k-th similarity of each query."""
    sims = queries @ vectors.T
    top = np.argpartition(-sims, k, axis=1)[:, :k]
    kth = np.take_along_axis(sims, top, axis=1).min(axis=1)
    return top, kth


def recall_at_k(
    found: list[list[str]], vectors: np.ndarray, queries: np.ndarray, kth: np.ndarray, k: int
) -> float:
    """Share of the returned top ``k`` as close as the exact k-th neighbour (ties count)."""
    hits = 0
    for qi, ids in enumerate(found):
        idx = np.asarray([int(i) for i in ids[:k]], dtype=np.int64)
        if len(idx):
            sims = vectors[idx] @ queries[qi]
            hits += int(np.sum(sims >= kth[qi] - 1e-5))
    return hits / (k * len(found))


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def measure_build(
    data: dict[str, Any], m: int, efc: int, efs: list[int], cfg: dict[str, Any], tmp: Path
) -> list[dict[str, Any]]:
    from chromadb.api.client import SharedSystemClient

    vectors, queries = data["vectors"], data["queries"]
    _, kth = exact_top(vectors, queries, K)
    folder = Path(tempfile.mkdtemp(prefix=f"ann-{data['name']}-{m}-{efc}-", dir=tmp))
    client = chroma_client(folder)
    name = f"ann-{m}-{efc}"
    col = client.create_collection(
        name,
        configuration={
            "hnsw": {"space": "cosine", "ef_construction": efc, "ef_search": efs[0], "max_neighbors": m}
        },
        embedding_function=None,
    )
    ids = [str(i) for i in range(len(vectors))]
    progress(f"{data['name']}: building M={m} ef_construction={efc} on {len(vectors):,} vectors ...")
    start = time.perf_counter()
    for s in range(0, len(vectors), ADD_BATCH):
        col.add(ids=ids[s : s + ADD_BATCH], embeddings=vectors[s : s + ADD_BATCH])
    build_s = time.perf_counter() - start
    results = []
    for i, ef in enumerate(efs):
        if i > 0:
            col.modify(configuration={"hnsw": {"ef_search": ef}})
            client.close()
            SharedSystemClient.clear_system_cache()
            client = chroma_client(folder)
            col = client.get_collection(name, embedding_function=None)
        col.query(query_embeddings=queries[:2], n_results=K, include=[])  # load the index
        got10 = col.query(query_embeddings=queries, n_results=K, include=[])["ids"]
        got50 = col.query(query_embeddings=queries, n_results=ENGINE_POOL, include=["distances"])
        # the engine ranks its pool by similarity; the pool comes back nearest first.
        r10 = recall_at_k(got10, vectors, queries, kth, K)
        r50 = recall_at_k([ids[:K] for ids in got50["ids"]], vectors, queries, kth, K)
        lat = []
        for q in queries[: cfg["latency_queries"]]:
            t0 = time.perf_counter()
            col.query(query_embeddings=[q], n_results=K, include=["distances"])
            lat.append(time.perf_counter() - t0)
        row = {
            "dataset": data["name"],
            "n": len(vectors),
            "max_neighbors": m,
            "ef_construction": efc,
            "ef_search": ef,
            "recall_at_10": r10,
            "recall_at_10_pool50": r50,
            "query": ms(lat),
            "build_s": build_s,
            "inserts_per_s": len(vectors) / build_s,
            "index_mb": folder_size(folder) / 1e6,
        }
        progress(
            f"  ef_search={ef}: recall@10 {r10:.4f} (pool 50: {r50:.4f}), p50 {row['query']['p50_ms']:.2f} ms"
        )
        results.append(row)
    client.close()
    SharedSystemClient.clear_system_cache()
    shutil.rmtree(folder, ignore_errors=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__ or "")
    parser.add_argument(
        "--datasets",
        default=None,
        help="comma-separated: minilm,clustered (full: minilm; clustered at 100k builds for ~6 minutes)",
    )
    parser.add_argument("--n", type=int, default=None, help="override the number of vectors")
    parser.add_argument(
        "--builds", default=None, help="override build settings, e.g. '16:100,32:200' (M:ef_construction)"
    )
    parser.add_argument("--efs", default=None, help="override ef_search values, e.g. '64,128'")
    parser.add_argument("--embedder", choices=("minilm", "hash"), default=None)
    args = parser.parse_args(argv)
    mode = mode_of(args)
    warn_if_busy()
    cfg = dict(SIZES[mode])
    if args.n:
        cfg["n"] = args.n
    if args.builds:
        cfg["builds"] = cfg["clustered_builds"] = [
            tuple(int(x) for x in b.split(":")) for b in args.builds.split(",")
        ]
    if args.efs:
        cfg["efs"] = [int(x) for x in args.efs.split(",")]
    tmp = args.tmp or Path(tempfile.gettempdir())
    tmp.mkdir(parents=True, exist_ok=True)
    embedder_kind = args.embedder or ("hash" if mode == "smoke" else "minilm")
    rows: list[dict[str, Any]] = []
    datasets: dict[str, str] = {}
    for name in (args.datasets or cfg["datasets"]).split(","):
        if name == "minilm":
            if embedder_kind == "hash":
                from priomem import HashEmbedder

                model: Any = HashEmbedder(DIMENSION)
            else:
                model = real_embedder(threads=args.torch_threads)
            data = minilm_dataset(cfg, args.seed, model, args.out / "cache")
            builds = cfg["builds"]
        elif name == "clustered":
            data = clustered_dataset(cfg, args.seed)
            builds = cfg["clustered_builds"]
        else:
            parser.error(f"unknown dataset {name!r}")
        datasets[name] = data["description"]
        progress(f"dataset {name}: {data['description']}")
        for m, efc in builds:
            rows.extend(measure_build(data, m, efc, cfg["efs"], cfg, tmp))

    table(
        f"ANN recall@10 vs exact search ({mode}; {cfg['queries']} queries; latency: single queries, k=10)",
        [
            "dataset",
            "N",
            "M",
            "ef_constr",
            "ef_search",
            "recall@10",
            "recall@10 pool50",
            "p50 ms",
            "p95 ms",
            "build s",
            "inserts/s",
            "index MB",
        ],
        [
            (
                r["dataset"],
                f"{r['n']:,}",
                r["max_neighbors"],
                r["ef_construction"],
                r["ef_search"],
                f"{r['recall_at_10']:.4f}",
                f"{r['recall_at_10_pool50']:.4f}",
                r["query"]["p50_ms"],
                r["query"]["p95_ms"],
                r["build_s"],
                r["inserts_per_s"],
                r["index_mb"],
            )
            for r in rows
        ],
    )
    write_json(
        args.out,
        "ann_recall" if mode == "full" else f"ann_recall-{mode}",
        {"mode": mode, "config": {k: v for k, v in cfg.items()}, "datasets": datasets, "rows": rows},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
