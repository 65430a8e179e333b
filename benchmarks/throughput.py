"""Speed of priomem against its own floor, in one run on the same data (issue 2).

Every figure is a ratio against a baseline measured in the same run, interleaved with
it, so a noisy machine moves both sides together:

1. ``embed``: raw batched embedding (``SentenceTransformerEmbedder.embed_documents`` on N
   texts) vs ``MemoryEngine.remember_many`` on the same N texts, for batch sizes
   16/32/64/128, short and long notes. Goal: remember_many >= 0.9x raw.
2. ``single``: one ``remember`` p50 vs one ``embed`` p50 (goal: at most +3 ms), with a raw
   Chroma single upsert of the same record shape (the floor) and the dedup look-up, on
   the temp folder's disk and on tmpfs (no fsync cost).
3. ``recall``: ``recall`` p50/p95 at 10k and 100k memories over 100 namespaces vs a raw
   Chroma query plus query embedding on the same collection (goal <= 1.3x), hybrid
   (default) and dense-only (``Settings(hybrid=False)``).

Bulk loading uses precomputed vectors (real MiniLM embeddings of a few thousand seeded
notes, reused with noise: see ``_common.derive``); every query is embedded by the real
model on both sides.

Run: ``python benchmarks/throughput.py`` (full, about 10 minutes), ``--quick``, ``--smoke``,
``--sections embed,single,recall``.
"""

from __future__ import annotations

import shutil
import statistics
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

from priomem import MemoryEngine, SentenceTransformerEmbedder, Settings

#: These figures compare priomem with raw Chroma on a namespace's own collection, so every
#: namespace here has one (the layout of large namespaces; many small ones:
#: many_namespaces.py).
LAYOUT = "own"

SIZES: dict[str, dict[str, Any]] = {
    "full": {
        "short": 256,
        "long": 64,
        "batch_sizes": [16, 32, 64, 128],
        "reps": 5,
        "single": 80,
        "single_prefill": 1000,
        "namespaces": 100,
        "recall_per_ns": [20, 100, 1000],
        "recall_one_ns": [2000, 10000, 100000],
        "bases": 2000,
        "queries": 200,
    },
    "quick": {
        "short": 128,
        "long": 32,
        "batch_sizes": [32, 64],
        "reps": 2,
        "single": 30,
        "single_prefill": 200,
        "namespaces": 100,
        "recall_per_ns": [20, 100],
        "recall_one_ns": [2000, 10000],
        "bases": 300,
        "queries": 60,
    },
    "smoke": {
        "short": 16,
        "long": 4,
        "batch_sizes": [16],
        "reps": 1,
        "single": 5,
        "single_prefill": 20,
        "namespaces": 3,
        "recall_per_ns": [10],
        "recall_one_ns": [30],
        "bases": 20,
        "queries": 6,
    },
}


class TimedEmbedder:
    """Wraps an embedder and adds up the time spent in it (to split engine time)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.seconds = 0.0

    @property
    def name(self) -> str:
        return str(self.inner.name)

    @property
    def dimension(self) -> int:
        return int(self.inner.dimension)

    def embed_documents(self, texts: Any) -> Any:
        start = time.perf_counter()
        try:
            return self.inner.embed_documents(texts)
        finally:
            self.seconds += time.perf_counter() - start

    def embed_query(self, text: str) -> Any:
        start = time.perf_counter()
        try:
            return self.inner.embed_query(text)
        finally:
            self.seconds += time.perf_counter() - start


def with_batch_size(model: Any, batch_size: int) -> Any:
    """The same loaded model behind an embedder with another batch size."""
    if not isinstance(model, SentenceTransformerEmbedder):
        return model
    clone = SentenceTransformerEmbedder(batch_size=batch_size)
    clone._model = model._get_model()  # share the loaded weights: no second load
    return clone


def new_folder(tmp: Path, prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix, dir=tmp))


# -- 1. batched embedding vs remember_many -----------------------------------------------
def bench_embed(model: Any, cfg: dict[str, Any], seed: int, tmp: Path) -> list[dict[str, Any]]:
    gen = TextGen(seed + 10)
    kinds = {"short": gen.short(cfg["short"]), "long": gen.long(cfg["long"])}
    rows = []
    for kind, texts in kinds.items():
        words = statistics.fmean(len(t.split()) for t in texts)
        for bs in cfg["batch_sizes"]:
            embedder = with_batch_size(model, bs)
            timed_embedder = TimedEmbedder(embedder)
            folder = new_folder(tmp, f"embed-{kind}-{bs}-")
            raw: list[float] = []
            eng: list[float] = []
            inside: list[float] = []
            with MemoryEngine(
                path=folder,
                embedder=timed_embedder,
                settings=Settings(embed_batch_size=bs, namespace_layout=LAYOUT),
            ) as engine:
                engine.remember("warm up the store", namespace="warm")
                for rep in range(cfg["reps"]):
                    items = [{"content": t, "namespace": f"rep-{rep}"} for t in texts]
                    for side in ("raw", "engine") if rep % 2 == 0 else ("engine", "raw"):
                        timed_embedder.seconds = 0.0
                        start = time.perf_counter()
                        if side == "raw":
                            embedder.embed_documents(texts)
                            raw.append(time.perf_counter() - start)
                        else:
                            engine.remember_many(items)
                            eng.append(time.perf_counter() - start)
                            inside.append(timed_embedder.seconds)
            shutil.rmtree(folder, ignore_errors=True)
            raw_s, eng_s, emb_s = statistics.median(raw), statistics.median(eng), statistics.median(inside)
            row = {
                "texts": kind,
                "n": len(texts),
                "words_per_text": words,
                "batch_size": bs,
                "raw_per_s": len(texts) / raw_s,
                "engine_per_s": len(texts) / eng_s,
                "ratio": raw_s / eng_s,
                # each repetition's raw and engine runs are adjacent in time: the median of
                # their ratios is the figure least moved by other processes
                "paired_ratio": statistics.median(r / e for r, e in zip(raw, eng, strict=True)),
                "engine_embed_share": emb_s / eng_s,
                # > 1: embedding inside remember_many is slower than one raw call (chunking)
                "engine_embed_vs_raw": emb_s / raw_s,
                "engine_overhead_ms_per_item": (eng_s - emb_s) * 1000 / len(texts),
                "raw_s": raw,
                "engine_s": eng,
            }
            progress(
                f"embed {kind} bs={bs}: raw {row['raw_per_s']:.0f}/s, remember_many "
                f"{row['engine_per_s']:.0f}/s, ratio {row['ratio']:.2f}"
            )
            rows.append(row)
    return rows


# -- 2. single remember vs single embed ----------------------------------------------------
def bench_single(model: Any, cfg: dict[str, Any], seed: int, folder_root: Path, label: str) -> dict[str, Any]:
    gen = TextGen(seed + 20)
    n = cfg["single"]
    prefill = gen.short(cfg["single_prefill"])
    texts = gen.short(4 * n + 8)
    embed_texts, remember_texts, raw_texts = texts[:n], texts[n : 2 * n], texts[2 * n : 3 * n]
    warm = texts[3 * n :]
    folder = new_folder(folder_root, "single-")
    ns = "bench"
    embed_s, query_s, remember_s, upsert_s, dedup_s = [], [], [], [], []
    with MemoryEngine(path=folder, embedder=model, settings=Settings(namespace_layout=LAYOUT)) as engine:
        engine.remember_many([{"content": t, "namespace": ns} for t in prefill])
        client = chroma_client(folder)
        try:
            engine_col = namespace_collections(client)[ns]
            template = engine_col.get(limit=1, include=["metadatas"])["metadatas"][0]
            raw_col = client.create_collection(
                "raw-single",
                configuration={
                    "hnsw": {
                        "space": "cosine",
                        "ef_construction": engine.settings.hnsw_ef_construction,
                        "ef_search": engine.settings.hnsw_ef_search,
                        "max_neighbors": engine.settings.hnsw_max_neighbors,
                    }
                },
                embedding_function=None,
            )
            vectors = np.asarray(model.embed_documents(raw_texts), dtype=np.float32)
            raw_col.upsert(ids=["prefill"], embeddings=vectors[:1], documents=["x"], metadatas=[template])
            for t in warm:
                engine.remember(t, namespace=ns)
                model.embed_documents([t])
            for i in range(n):
                meta = {**template, "pm_hash": f"h{i:08d}"}

                def do_embed(i: int = i) -> None:
                    start = time.perf_counter()
                    model.embed_documents([embed_texts[i]])
                    embed_s.append(time.perf_counter() - start)
                    start = time.perf_counter()
                    model.embed_query(embed_texts[i])
                    query_s.append(time.perf_counter() - start)

                def do_remember(i: int = i) -> None:
                    start = time.perf_counter()
                    engine.remember(remember_texts[i], namespace=ns)
                    remember_s.append(time.perf_counter() - start)

                def do_raw(i: int = i, meta: dict[str, Any] = meta) -> None:
                    start = time.perf_counter()
                    raw_col.upsert(
                        ids=[f"raw-{i}"],
                        embeddings=vectors[i : i + 1],
                        documents=[raw_texts[i]],
                        metadatas=[meta],
                    )
                    upsert_s.append(time.perf_counter() - start)
                    start = time.perf_counter()
                    engine_col.get(where={"pm_hash": {"$in": [meta["pm_hash"]]}})
                    dedup_s.append(time.perf_counter() - start)

                steps = [do_embed, do_remember, do_raw]
                for step in steps[i % 3 :] + steps[: i % 3]:
                    step()
        finally:
            client.close()
    shutil.rmtree(folder, ignore_errors=True)
    result = {
        "where": label,
        "folder": str(folder_root),
        "prefilled": len(prefill),
        "embed_documents_1": ms(embed_s),
        "embed_query": ms(query_s),
        "remember": ms(remember_s),
        "raw_upsert": ms(upsert_s),
        "raw_dedup_get": ms(dedup_s),
    }
    result["remember_minus_embed_p50_ms"] = (
        result["remember"]["p50_ms"] - result["embed_documents_1"]["p50_ms"]
    )
    progress(
        f"single ({label}): remember p50 {result['remember']['p50_ms']:.1f} ms, embed p50 "
        f"{result['embed_documents_1']['p50_ms']:.1f} ms, raw upsert p50 {result['raw_upsert']['p50_ms']:.1f} ms"
    )
    return result


# -- 3. recall vs raw Chroma query ---------------------------------------------------------
def bench_recall_once(
    model: Any, path: Path, queries: list[tuple[str, str]], k: int, hybrid: bool, warm: list[tuple[str, str]]
) -> dict[str, Any]:
    engine_s: list[float] = []
    raw_s: list[float] = []
    pool_s: list[float] = []
    settings = Settings(hybrid=hybrid, namespace_layout=LAYOUT)
    with MemoryEngine(path=path, embedder=TableEmbedder(model, {}), settings=settings) as engine:
        client = chroma_client(path)
        try:
            cols = namespace_collections(client)

            def raw(q: str, ns: str, n: int) -> None:
                vector = model.embed_query(q)
                cols[ns].query(query_embeddings=[vector], n_results=n)

            for q, ns in warm:
                engine.recall(q, k=k, namespace=ns)
                raw(q, ns, k)
            for i, (q, ns) in enumerate(queries):

                def do_engine(q: str = q, ns: str = ns) -> None:
                    start = time.perf_counter()
                    engine.recall(q, k=k, namespace=ns)
                    engine_s.append(time.perf_counter() - start)

                def do_raw(q: str = q, ns: str = ns) -> None:
                    start = time.perf_counter()
                    raw(q, ns, k)
                    raw_s.append(time.perf_counter() - start)

                def do_pool(q: str = q, ns: str = ns) -> None:
                    start = time.perf_counter()
                    raw(q, ns, max(4 * k, 50))
                    pool_s.append(time.perf_counter() - start)

                steps = [do_engine, do_raw, do_pool]
                for step in steps[i % 3 :] + steps[: i % 3]:
                    step()
        finally:
            client.close()
    engine_ms, raw_ms, pool_ms = ms(engine_s), ms(raw_s), ms(pool_s)
    return {
        "mode": "hybrid" if hybrid else "dense",
        "k": k,
        "engine": engine_ms,
        "raw": raw_ms,
        "raw_pool": pool_ms,
        "ratio_p50": engine_ms["p50_ms"] / raw_ms["p50_ms"],
        "ratio_p95": engine_ms["p95_ms"] / raw_ms["p95_ms"],
    }


def bench_recall(
    model: Any, cfg: dict[str, Any], seed: int, tmp: Path, k: int, cache: Path
) -> list[dict[str, Any]]:
    """Recall at each size, all memories in one namespace, then spread over ``namespaces``."""
    gen = TextGen(seed + 30)
    bases_text = gen.short(cfg["bases"])
    bases = cached_embeddings(model, bases_text, cache)
    rng = np.random.default_rng(seed + 31)
    sizes = [(1, per_ns) for per_ns in cfg["recall_one_ns"]]
    sizes += [(cfg["namespaces"], per_ns) for per_ns in cfg["recall_per_ns"]]
    questions = gen.questions(2 * (cfg["queries"] + 10) * len(sizes) + 40)
    rows = []
    for layout in sorted({n for n, _ in sizes}):
        namespaces = namespace_names(layout)
        folder = new_folder(tmp, "recall-")
        loaded_per_ns = 0
        for step, (_, per_ns) in enumerate([s for s in sizes if s[0] == layout]):
            corpus = make_corpus(bases_text, bases, per_ns - loaded_per_ns, namespaces, seed + 32 + step)
            total = per_ns * len(namespaces)
            progress(f"recall: loading to {total:,} memories in {len(namespaces)} namespaces ...")
            with MemoryEngine(
                path=folder,
                embedder=TableEmbedder(model, corpus.table()),
                settings=Settings(namespace_layout=LAYOUT),
            ) as engine:
                rate = load(engine, corpus.items)
            progress(f"  remember_many (precomputed vectors): {rate:,.0f} memories/s")
            loaded_per_ns = per_ns
            for hybrid in (True, False):
                take = [questions.pop() for _ in range(cfg["queries"] + 10)]
                picks = [namespaces[int(i)] for i in rng.integers(len(namespaces), size=len(take))]
                pairs = list(zip(take, picks, strict=True))
                row = bench_recall_once(model, folder, pairs[10:], k, hybrid, pairs[:10])
                row.update({"memories": total, "namespaces": len(namespaces), "load_per_s": rate})
                progress(
                    f"  recall {row['mode']} at {total:,}: p50 {row['engine']['p50_ms']:.1f} ms vs raw "
                    f"{row['raw']['p50_ms']:.1f} ms (x{row['ratio_p50']:.2f})"
                )
                rows.append(row)
        shutil.rmtree(folder, ignore_errors=True)
    return rows


# -- main ------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--sections", default="embed,single,recall", help="comma-separated subset")
    parser.add_argument("--embedder", choices=("minilm", "hash"), default=None)
    parser.add_argument("--k", type=int, default=5, help="k of each recall (priomem's default: 5)")
    parser.add_argument(
        "--tmpfs", type=Path, default=Path("/dev/shm"), help="a tmpfs folder for the no-fsync single run"
    )
    args = parser.parse_args(argv)
    mode = mode_of(args)
    warn_if_busy()
    cfg = SIZES[mode]
    sections = set(args.sections.split(","))
    tmp = args.tmp or Path(tempfile.gettempdir())
    tmp.mkdir(parents=True, exist_ok=True)
    model = model_for(args.embedder or ("hash" if mode == "smoke" else "minilm"), threads=args.torch_threads)
    result: dict[str, Any] = {"mode": mode, "config": cfg, "embedder": model.name}
    started = time.perf_counter()

    if "embed" in sections:
        rows = bench_embed(model, cfg, args.seed, tmp)
        result["embed"] = rows
        table(
            f"1. Batched embedding vs remember_many (same texts; median of {cfg['reps']} interleaved runs; "
            "goal ratio >= 0.9)",
            [
                "texts",
                "N",
                "words",
                "batch",
                "raw/s",
                "remember_many/s",
                "ratio",
                "paired ratio",
                "embed share",
                "embed vs raw",
                "overhead ms/item",
            ],
            [
                (
                    r["texts"],
                    r["n"],
                    r["words_per_text"],
                    r["batch_size"],
                    r["raw_per_s"],
                    r["engine_per_s"],
                    r["ratio"],
                    r["paired_ratio"],
                    r["engine_embed_share"],
                    r["engine_embed_vs_raw"],
                    r["engine_overhead_ms_per_item"],
                )
                for r in rows
            ],
        )

    if "single" in sections:
        runs = [bench_single(model, cfg, args.seed, tmp, "disk")]
        if args.tmpfs.is_dir():
            runs.append(bench_single(model, cfg, args.seed, args.tmpfs, "tmpfs"))
        result["single"] = runs
        table(
            f"2. One remember vs one embed (p50/p95 ms over {cfg['single']}; goal: remember - embed <= 3 ms)",
            [
                "store on",
                "embed (1 doc)",
                "embed_query",
                "remember",
                "remember - embed",
                "raw upsert",
                "dedup get",
            ],
            [
                (
                    r["where"],
                    _pp(r["embed_documents_1"]),
                    _pp(r["embed_query"]),
                    _pp(r["remember"]),
                    r["remember_minus_embed_p50_ms"],
                    _pp(r["raw_upsert"]),
                    _pp(r["raw_dedup_get"]),
                )
                for r in runs
            ],
        )

    if "recall" in sections:
        rows = bench_recall(model, cfg, args.seed, tmp, args.k, args.out / "cache")
        result["recall"] = rows
        table(
            f"3. recall vs raw Chroma query + query embedding (k={args.k}; {cfg['queries']} queries; goal <= 1.3x)",
            [
                "memories",
                "ns",
                "mode",
                "recall p50",
                "recall p95",
                "raw p50",
                "raw p95",
                "x p50",
                "x p95",
                "raw n=50 p50",
            ],
            [
                (
                    f"{r['memories']:,}",
                    r["namespaces"],
                    r["mode"],
                    r["engine"]["p50_ms"],
                    r["engine"]["p95_ms"],
                    r["raw"]["p50_ms"],
                    r["raw"]["p95_ms"],
                    r["ratio_p50"],
                    r["ratio_p95"],
                    r["raw_pool"]["p50_ms"],
                )
                for r in rows
            ],
        )
    result["seconds"] = time.perf_counter() - started
    write_json(args.out, "throughput" if mode == "full" else f"throughput-{mode}", result)
    return 0


def _pp(stats: dict[str, float]) -> str:
    return f"{stats['p50_ms']:.1f} / {stats['p95_ms']:.1f}"


if __name__ == "__main__":
    raise SystemExit(main())
