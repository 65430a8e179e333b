"""Namespace isolation: recall in one namespace must not pay for the others (issue 2).

Store A holds 100 namespaces x 1,000 memories; store B holds only one of them (the same
memories, the same vectors). Recall in that namespace is timed on both, interleaved,
for hybrid (default) and dense-only recall. Goal: A within 1.5x of B.

A design check follows, on raw Chroma: the same 100k vectors in *one* collection with a
namespace metadata field, queried with ``where={"ns": ...}``, against the one-collection-
per-namespace layout priomem uses. It shows what the other design would cost.

``--big-namespace`` adds the worst case a user can build: all 100k memories in a single
namespace (recall vs raw query + embedding on that collection).

Run: ``python benchmarks/namespaces.py`` (full, about 8 minutes), ``--quick``, ``--smoke``.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import (
    TableEmbedder,
    TextGen,
    base_parser,
    cached_embeddings,
    chroma_client,
    derive,
    load,
    make_corpus,
    mode_of,
    model_for,
    ms,
    namespace_collections,
    namespace_names,
    progress,
    table,
    warn_if_busy,
    write_json,
)

from priomem import MemoryEngine, Settings

#: These figures compare priomem with raw Chroma on a namespace's own collection, so every
#: namespace here has one (the layout of large namespaces; many small ones:
#: many_namespaces.py).
LAYOUT = "own"

SIZES: dict[str, dict[str, Any]] = {
    "full": {"namespaces": 100, "per_ns": 1000, "bases": 2000, "queries": 200, "writes": 60},
    "quick": {"namespaces": 100, "per_ns": 100, "bases": 300, "queries": 60, "writes": 30},
    "smoke": {"namespaces": 4, "per_ns": 10, "bases": 20, "queries": 6, "writes": 4},
}


def interleave(calls: dict[str, Any], count: int) -> dict[str, list[float]]:
    """Run each named call ``count`` times, rotating the order; seconds per call."""
    names = list(calls)
    times: dict[str, list[float]] = {n: [] for n in names}
    for i in range(count):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            start = time.perf_counter()
            calls[name](i)
            times[name].append(time.perf_counter() - start)
    return times


def isolation(
    model: Any, big: Path, small: Path, target: str, questions: list[str], k: int, hybrid: bool
) -> dict[str, Any]:
    settings = Settings(hybrid=hybrid, namespace_layout=LAYOUT)
    with (
        MemoryEngine(path=big, embedder=TableEmbedder(model, {}), settings=settings) as a,
        MemoryEngine(path=small, embedder=TableEmbedder(model, {}), settings=settings) as b,
    ):
        warm, measured = questions[:10], questions[10:]
        for q in warm:
            a.recall(q, k=k, namespace=target)
            b.recall(q, k=k, namespace=target)
        times = interleave(
            {
                "many": lambda i: a.recall(measured[i], k=k, namespace=target),
                "alone": lambda i: b.recall(measured[i], k=k, namespace=target),
            },
            len(measured),
        )
    many, alone = ms(times["many"]), ms(times["alone"])
    return {
        "mode": "hybrid" if hybrid else "dense",
        "many_namespaces": many,
        "alone": alone,
        "ratio_p50": many["p50_ms"] / alone["p50_ms"],
        "ratio_p95": many["p95_ms"] / alone["p95_ms"],
    }


def write_isolation(
    model: Any,
    big: Path,
    small: Path,
    target: str,
    bases_text: list[str],
    bases: np.ndarray,
    count: int,
    seed: int,
) -> dict[str, Any]:
    """One ``remember`` into the namespace, in the shared store vs the store holding only it.

    Vectors are precomputed (as for loading), so the comparison is the store's cost alone.
    """
    rng = np.random.default_rng(seed)
    owner, vectors = derive(bases, count + 5, rng)
    texts = TextGen(seed).tagged([bases_text[i] for i in owner])
    table_ = dict(zip(texts, vectors, strict=True))
    with (
        MemoryEngine(
            path=big, embedder=TableEmbedder(model, table_), settings=Settings(namespace_layout=LAYOUT)
        ) as a,
        MemoryEngine(
            path=small, embedder=TableEmbedder(model, table_), settings=Settings(namespace_layout=LAYOUT)
        ) as b,
    ):
        for t in texts[:5]:
            a.remember(t, namespace=target)
            b.remember(t, namespace=target)
        rest = texts[5:]
        times = interleave(
            {
                "many": lambda i: a.remember(rest[i], namespace=target),
                "alone": lambda i: b.remember(rest[i], namespace=target),
            },
            len(rest),
        )
    many, alone = ms(times["many"]), ms(times["alone"])
    return {"many_namespaces": many, "alone": alone, "ratio_p50": many["p50_ms"] / alone["p50_ms"]}


def filters_now(target: str) -> dict[str, dict[str, Any]]:
    """Metadata filters priomem issues (or issued, before the record layout 2) inside one
    namespace, named by what issues them."""
    now = time.time()
    try:  # layout 2 keys stored terms by namespace
        from priomem._lexical import term_key

        key = term_key(target)
    except ImportError:
        key = ""
    return {
        "$contains on pm_terms (hybrid term look-up)": {"pm_terms": {"$contains": key + "checkout"}},
        "$in on pm_tslot (thread context link on write)": {"pm_tslot": {"$in": [key + "1:t", key + "0:t"]}},
        "$in on pm_hash (dedup on write)": {"pm_hash": {"$in": ["0" * 16]}},
        **{
            f"pm_created in the last {label}, live (layout 1 context link on write)": {
                "$and": [
                    {"pm_created": {"$gte": now - span}},
                    {"pm_created": {"$lte": now}},
                    {"pm_expires": {"$gt": now}},
                ]
            }
            for label, span in (("2 s", 2.0), ("hour", 3600.0))
        },
    }


def filter_check(big: Path, small: Path, target: str, repeats: int) -> list[dict[str, Any]]:
    """Raw ``get(where=...)`` on the namespace's collection, in the shared store vs alone."""
    rows = []
    clients = [chroma_client(big), chroma_client(small)]
    try:
        cols = [namespace_collections(c)[target] for c in clients]
        for label, where in filters_now(target).items():
            times = interleave(
                {
                    side: lambda i, col=col, where=where: col.get(where=where, limit=200, include=[])
                    for side, col in zip(("many", "alone"), cols, strict=True)
                },
                repeats,
            )
            many, alone = ms(times["many"]), ms(times["alone"])
            rows.append(
                {
                    "filter": label,
                    "many_namespaces": many,
                    "alone": alone,
                    "ratio_p50": many["p50_ms"] / alone["p50_ms"],
                }
            )
    finally:
        for client in clients:
            client.close()
    return rows


def design_check(
    big: Path,
    vectors: np.ndarray,
    owners: list[str],
    target: str,
    queries: np.ndarray,
    tmp: Path,
    hnsw: dict[str, int],
) -> dict[str, Any]:
    """Raw Chroma: one collection filtered by namespace vs the namespace's own collection."""
    folder = Path(tempfile.mkdtemp(prefix="ns-design-", dir=tmp))
    client = chroma_client(folder)
    big_client = chroma_client(big)
    try:
        shared = client.create_collection(
            "all-namespaces", configuration={"hnsw": {"space": "cosine", **hnsw}}, embedding_function=None
        )
        progress(f"design check: {len(vectors):,} vectors into one collection ...")
        start = time.perf_counter()
        for s in range(0, len(vectors), 5000):
            shared.add(
                ids=[str(i) for i in range(s, min(s + 5000, len(vectors)))],
                embeddings=vectors[s : s + 5000],
                metadatas=[{"ns": ns} for ns in owners[s : s + 5000]],
            )
        build_s = time.perf_counter() - start
        own = namespace_collections(big_client)[target]
        for q in queries[:5]:
            shared.query(query_embeddings=[q], n_results=50, where={"ns": target}, include=["distances"])
            own.query(query_embeddings=[q], n_results=50, include=["distances"])
        times = interleave(
            {
                "filtered": lambda i: shared.query(
                    query_embeddings=[queries[i]], n_results=50, where={"ns": target}, include=["distances"]
                ),
                "own": lambda i: own.query(
                    query_embeddings=[queries[i]], n_results=50, include=["distances"]
                ),
            },
            len(queries),
        )
    finally:
        client.close()
        big_client.close()
        shutil.rmtree(folder, ignore_errors=True)
    filtered, own_ms = ms(times["filtered"]), ms(times["own"])
    return {
        "one_collection_where": filtered,
        "collection_per_namespace": own_ms,
        "ratio_p50": filtered["p50_ms"] / own_ms["p50_ms"],
        "shared_build_s": build_s,
    }


def big_namespace(
    model: Any,
    bases_text: list[str],
    bases: np.ndarray,
    n: int,
    questions: list[str],
    k: int,
    seed: int,
    tmp: Path,
) -> list[dict[str, Any]]:
    """Every memory in one namespace: recall vs raw query + embedding on its collection,
    in a store of the default layout (the namespace starts in a shared collection and
    moves to its own past ``own_collection_at``, during the load) and in one of the
    ``own`` layout (its own collection from the start), the three interleaved."""
    corpus = make_corpus(bases_text, bases, n, ["default"], seed + 7)
    # The default threshold (smaller for a smoke run's few memories, so they move too).
    threshold = min(Settings().own_collection_at, max(2, n // 4))
    folders = {}
    rates = {}
    for layout in ("shared", "own"):
        folders[layout] = Path(tempfile.mkdtemp(prefix=f"ns-big-{layout}-", dir=tmp))
        progress(f"big namespace ({layout} layout): loading {n:,} memories into one namespace ...")
        with MemoryEngine(
            path=folders[layout],
            embedder=TableEmbedder(model, corpus.table()),
            settings=Settings(namespace_layout=layout, own_collection_at=threshold),
        ) as engine:
            rates[layout] = load(engine, corpus.items)
        progress(f"  remember_many (precomputed vectors): {rates[layout]:,.0f} memories/s")
    rows = []
    for hybrid in (True, False):
        with (
            MemoryEngine(
                path=folders["shared"],
                embedder=TableEmbedder(model, {}),
                settings=Settings(hybrid=hybrid, namespace_layout="shared", own_collection_at=threshold),
            ) as moved,
            MemoryEngine(
                path=folders["own"],
                embedder=TableEmbedder(model, {}),
                settings=Settings(hybrid=hybrid, namespace_layout="own"),
            ) as own,
        ):
            assert not moved._store.is_shared("default"), (
                "the big namespace did not move to its own collection"
            )
            client = chroma_client(folders["own"])
            try:
                col = namespace_collections(client)["default"]
                qs = questions[:]
                for q in qs[:10]:
                    moved.recall(q, k=k)
                    own.recall(q, k=k)
                times = interleave(
                    {
                        "moved": lambda i, qs=qs: moved.recall(qs[10 + i], k=k),
                        "own": lambda i, qs=qs: own.recall(qs[10 + i], k=k),
                        "raw": lambda i, qs=qs, col=col: col.query(
                            query_embeddings=[model.embed_query(qs[10 + i])], n_results=k
                        ),
                    },
                    len(qs) - 10,
                )
            finally:
                client.close()
        got = {name: ms(values) for name, values in times.items()}
        rows.append(
            {
                "mode": "hybrid" if hybrid else "dense",
                "memories": n,
                "engine": got["moved"],
                "own_layout": got["own"],
                "raw": got["raw"],
                "ratio_p50": got["moved"]["p50_ms"] / got["raw"]["p50_ms"],
                "ratio_p95": got["moved"]["p95_ms"] / got["raw"]["p95_ms"],
                "moved_vs_own_p50": got["moved"]["p50_ms"] / got["own"]["p50_ms"],
                "load_per_s": rates["shared"],
                "own_load_per_s": rates["own"],
            }
        )
        progress(
            f"  {rows[-1]['mode']}: recall p50 {got['moved']['p50_ms']:.1f} ms (own layout "
            f"{got['own']['p50_ms']:.1f}) vs raw {got['raw']['p50_ms']:.1f} ms"
        )
    for folder in folders.values():
        shutil.rmtree(folder, ignore_errors=True)
    return rows


def report_big(
    model: Any,
    bases_text: list[str],
    bases: np.ndarray,
    total: int,
    gen: TextGen,
    cfg: dict[str, Any],
    args: Any,
    tmp: Path,
) -> list[dict[str, Any]]:
    questions = gen.questions(cfg["queries"] + 10)
    rows = big_namespace(model, bases_text, bases, total, questions, args.k, args.seed, tmp)
    table(
        f"All {total:,} memories in one namespace: recall (default layout, moved to its own "
        f"collection; own layout) vs raw query + embedding (k={args.k})",
        [
            "mode",
            "recall p50",
            "p95",
            "own layout p50",
            "p95",
            "raw p50",
            "p95",
            "x p50",
            "x p95",
            "moved / own",
        ],
        [
            (
                r["mode"],
                r["engine"]["p50_ms"],
                r["engine"]["p95_ms"],
                r["own_layout"]["p50_ms"],
                r["own_layout"]["p95_ms"],
                r["raw"]["p50_ms"],
                r["raw"]["p95_ms"],
                r["ratio_p50"],
                r["ratio_p95"],
                r["moved_vs_own_p50"],
            )
            for r in rows
        ],
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--embedder", choices=("minilm", "hash"), default=None)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--no-design-check", action="store_true", help="skip the raw one-collection check")
    parser.add_argument(
        "--big-namespace", action="store_true", help="also time all memories in one namespace (+8 minutes)"
    )
    parser.add_argument("--big-only", action="store_true", help="only the --big-namespace part")
    args = parser.parse_args(argv)
    mode = mode_of(args)
    warn_if_busy()
    cfg = SIZES[mode]
    tmp = args.tmp or Path(tempfile.gettempdir())
    tmp.mkdir(parents=True, exist_ok=True)
    model = model_for(args.embedder or ("hash" if mode == "smoke" else "minilm"), threads=args.torch_threads)
    gen = TextGen(args.seed + 40)
    bases_text = gen.short(cfg["bases"])
    bases = cached_embeddings(model, bases_text, args.out / "cache")
    namespaces = namespace_names(cfg["namespaces"])
    target = namespaces[len(namespaces) // 2]
    if args.big_only:
        total = cfg["per_ns"] * len(namespaces)
        rows = report_big(model, bases_text, bases, total, gen, cfg, args, tmp)
        write_json(
            args.out,
            "namespaces-big" if mode == "full" else f"namespaces-big-{mode}",
            {"big_namespace": rows},
        )
        return 0
    corpus = make_corpus(bases_text, bases, cfg["per_ns"], namespaces, args.seed + 41)
    big = Path(tempfile.mkdtemp(prefix="ns-many-", dir=tmp))
    small = Path(tempfile.mkdtemp(prefix="ns-alone-", dir=tmp))
    started = time.perf_counter()
    total = cfg["per_ns"] * len(namespaces)
    progress(f"loading {total:,} memories in {len(namespaces)} namespaces ...")
    settings = Settings(namespace_layout=LAYOUT)
    with MemoryEngine(path=big, embedder=TableEmbedder(model, corpus.table()), settings=settings) as engine:
        rate = load(engine, corpus.items)
    progress(f"  remember_many (precomputed vectors): {rate:,.0f} memories/s; now the lone namespace")
    with MemoryEngine(path=small, embedder=TableEmbedder(model, corpus.table()), settings=settings) as engine:
        load(engine, {target: corpus.items[target]})
    result: dict[str, Any] = {
        "mode": mode,
        "config": cfg,
        "embedder": model.name,
        "memories": total,
        "target": target,
        "load_per_s": rate,
    }
    rows = []
    for hybrid in (True, False):
        questions = gen.questions(cfg["queries"] + 10)
        row = isolation(model, big, small, target, questions, args.k, hybrid)
        progress(
            f"isolation {row['mode']}: {row['many_namespaces']['p50_ms']:.1f} ms vs alone "
            f"{row['alone']['p50_ms']:.1f} ms (x{row['ratio_p50']:.2f})"
        )
        rows.append(row)
    result["isolation"] = rows
    progress("isolation of writes: one remember at a time ...")
    writes = write_isolation(model, big, small, target, bases_text, bases, cfg["writes"], args.seed + 42)
    result["write_isolation"] = writes
    rows.append(
        {
            "mode": "remember",
            **writes,
            "ratio_p95": writes["many_namespaces"]["p95_ms"] / writes["alone"]["p95_ms"],
        }
    )
    table(
        f"4. Recall (and one remember) in 1 of {len(namespaces)} namespaces x {cfg['per_ns']:,} vs a store "
        f"holding only it (k={args.k}; {cfg['queries']} queries, {cfg['writes']} writes; goal <= 1.5x)",
        ["mode", f"{total:,} store p50", "p95", f"{cfg['per_ns']:,} store p50", "p95", "x p50", "x p95"],
        [
            (
                r["mode"],
                r["many_namespaces"]["p50_ms"],
                r["many_namespaces"]["p95_ms"],
                r["alone"]["p50_ms"],
                r["alone"]["p95_ms"],
                r["ratio_p50"],
                r["ratio_p95"],
            )
            for r in rows
        ],
    )
    filters = filter_check(big, small, target, cfg["queries"])
    result["filters"] = filters
    table(
        "Where the time goes: raw Chroma get(where=...) on the namespace's own collection, shared store vs alone",
        ["filter", f"{total:,} store p50 ms", f"{cfg['per_ns']:,} store p50 ms", "x p50"],
        [
            (f["filter"], f["many_namespaces"]["p50_ms"], f["alone"]["p50_ms"], f["ratio_p50"])
            for f in filters
        ],
    )
    if not args.no_design_check:
        queries = np.asarray([model.embed_query(q) for q in gen.questions(cfg["queries"])], dtype=np.float32)
        hnsw = {
            "ef_construction": settings.hnsw_ef_construction,
            "ef_search": settings.hnsw_ef_search,
            "max_neighbors": settings.hnsw_max_neighbors,
        }
        check = design_check(big, corpus.vectors, corpus.namespaces, target, queries, tmp, hnsw)
        result["design_check"] = check
        table(
            "Design check, raw Chroma (n_results=50): one collection + where ns vs a collection per namespace",
            ["layout", "p50 ms", "p95 ms"],
            [
                (
                    "one collection, where={'ns': ...}",
                    check["one_collection_where"]["p50_ms"],
                    check["one_collection_where"]["p95_ms"],
                ),
                (
                    "collection per namespace",
                    check["collection_per_namespace"]["p50_ms"],
                    check["collection_per_namespace"]["p95_ms"],
                ),
            ],
        )
    shutil.rmtree(big, ignore_errors=True)
    shutil.rmtree(small, ignore_errors=True)
    if args.big_namespace:
        result["big_namespace"] = report_big(model, bases_text, bases, total, gen, cfg, args, tmp)
    result["seconds"] = time.perf_counter() - started
    write_json(args.out, "namespaces" if mode == "full" else f"namespaces-{mode}", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
