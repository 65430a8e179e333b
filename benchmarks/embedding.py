"""The default model on torch (sentence-transformers) and on ONNX Runtime, in one run.

Measured here, interleaved so both backends see the same machine load:

- **load**: a fresh process imports priomem, loads the model and embeds one text (the
  part of a cold start the backend decides), alternating backends; with its peak RSS;
- **one text**: p50 / p95 of single query embeddings, alternating backends query by query;
- **batches**: texts per second through ``embed_documents`` in batches of 64, short
  notes (~15 words) and long ones (5-9 sentences), alternating backends round by round;
- **agreement**: the lowest cosine between the two backends' vectors of every text.

The ONNX export is made first if the cache has none (not timed). ``--smoke`` runs the
script end to end on a few texts.

    python benchmarks/embedding.py                 # full: 2,048 texts per kind, 200 queries
    python benchmarks/embedding.py --quick         # 512 texts, 100 queries
    python benchmarks/embedding.py --torch-threads 1
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np
from _common import TextGen, base_parser, mode_of, percentile, progress, table, warn_if_busy, write_json

from priomem import MemoryEngine, SentenceTransformerEmbedder, Settings
from priomem._onnx import OnnxEmbedder

_LOAD_PROBE = """
import json, sys, time
t = time.perf_counter()
from priomem._engine import default_embedder
from priomem import Settings
e = default_embedder(Settings(embed_backend=sys.argv[1]))
e.embed_query("when is the ETL deadline?")
took = time.perf_counter() - t
# VmHWM: this process's peak RSS (ru_maxrss would carry the parent's over exec)
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({"seconds": took, "peak_rss_mb": hwm / 1024, "torch": "torch" in sys.modules}))
"""


def load_probe(backend: str, threads: int | None) -> dict[str, Any]:
    env_threads = {"OMP_NUM_THREADS": str(threads)} if threads else {}
    import os

    done = subprocess.run(
        [sys.executable, "-c", _LOAD_PROBE, backend],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env_threads},
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = base_parser(__doc__ or "")
    args = parser.parse_args()
    mode = mode_of(args)
    n_texts, n_queries, n_loads = {"smoke": (16, 10, 1), "quick": (512, 100, 3), "full": (2048, 200, 5)}[mode]
    warn_if_busy()
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    gen = TextGen(args.seed)
    short, long, queries = gen.short(n_texts), gen.long(n_texts), gen.questions(n_queries)

    progress("loading both backends (the ONNX export is made first if missing) ...")
    torch_e = SentenceTransformerEmbedder()
    torch_e.warm_up()
    onnx_e = OnnxEmbedder(export_if_missing=True)
    onnx_e.warm_up()
    backends: dict[str, Any] = {"torch": torch_e, "onnx": onnx_e}
    for e in backends.values():
        e.embed_documents(short[:64])

    progress("agreement ...")
    worst = min(
        float(np.min(np.sum(torch_e.embed_documents(texts) * onnx_e.embed_documents(texts), axis=1)))
        for texts in (short, long, queries)
    )

    progress("single texts, interleaved ...")
    single: dict[str, list[float]] = {name: [] for name in backends}
    for q in queries:
        for name, e in backends.items():
            started = time.perf_counter()
            e.embed_query(q)
            single[name].append(time.perf_counter() - started)

    if args.tmp:
        args.tmp.mkdir(parents=True, exist_ok=True)
    progress("batches, interleaved (and remember_many on ONNX into an embedded store) ...")
    rates: dict[str, dict[str, list[float]]] = {
        kind: {name: [] for name in [*backends, "remember_many onnx"]} for kind in ("short", "long")
    }
    with (
        tempfile.TemporaryDirectory(dir=args.tmp) as folder,
        MemoryEngine(path=folder, embedder=onnx_e, settings=Settings(compact_on_close=False)) as engine,
    ):
        for kind, texts in (("short", short), ("long", long)):
            for round_, start in enumerate(range(0, len(texts), 256)):
                chunk = texts[start : start + 256]
                for name, e in backends.items():
                    started = time.perf_counter()
                    e.embed_documents(chunk)
                    rates[kind][name].append(len(chunk) / (time.perf_counter() - started))
                started = time.perf_counter()
                engine.remember_many([{"content": t, "namespace": f"{kind}{round_}"} for t in chunk])
                rates[kind]["remember_many onnx"].append(len(chunk) / (time.perf_counter() - started))

    progress("cold loads in fresh processes, interleaved ...")
    loads: dict[str, list[dict[str, Any]]] = {"torch": [], "onnx": []}
    for _ in range(n_loads):
        for name in loads:
            loads[name].append(load_probe(name, args.torch_threads))

    def ms(values: list[float], p: float) -> float:
        return 1000 * percentile(values, p)

    rows = []
    for name in backends:
        rows.append(
            [
                name,
                f"{statistics.median(r['seconds'] for r in loads[name]):.2f} s",
                f"{max(r['peak_rss_mb'] for r in loads[name]):.0f} MB",
                "yes" if any(r["torch"] for r in loads[name]) else "no",
                f"{ms(single[name], 50):.1f} ms",
                f"{ms(single[name], 95):.1f} ms",
                f"{statistics.median(rates['short'][name]):.0f}",
                f"{statistics.median(rates['long'][name]):.0f}",
            ]
        )
    ratio = {
        "single_p50": percentile(single["onnx"], 50) / percentile(single["torch"], 50),
        "short_batch": statistics.median(rates["short"]["onnx"]) / statistics.median(rates["short"]["torch"]),
        "long_batch": statistics.median(rates["long"]["onnx"]) / statistics.median(rates["long"]["torch"]),
        "remember_many_onnx_vs_torch_embed_short": statistics.median(rates["short"]["remember_many onnx"])
        / statistics.median(rates["short"]["torch"]),
        "remember_many_onnx_vs_torch_embed_long": statistics.median(rates["long"]["remember_many onnx"])
        / statistics.median(rates["long"]["torch"]),
        "load": statistics.median(r["seconds"] for r in loads["onnx"])
        / statistics.median(r["seconds"] for r in loads["torch"]),
    }
    table(
        f"all-MiniLM-L6-v2, torch vs ONNX Runtime ({mode}; {n_texts} texts per kind, {n_queries} queries)",
        [
            "backend",
            "load",
            "peak RSS",
            "imports torch",
            "one text p50",
            "p95",
            "short texts/s",
            "long texts/s",
        ],
        rows,
    )
    print(
        f"ONNX / torch: one text p50 {ratio['single_p50']:.2f}x, short batches {ratio['short_batch']:.2f}x, "
        f"long batches {ratio['long_batch']:.2f}x, load {ratio['load']:.2f}x; lowest cosine between them {worst:.7f}\n"
        f"remember_many on ONNX / raw torch batches: short {ratio['remember_many_onnx_vs_torch_embed_short']:.2f}x, "
        f"long {ratio['remember_many_onnx_vs_torch_embed_long']:.2f}x"
    )
    write_json(
        args.out,
        f"embedding-{mode}" if mode != "full" else "embedding",
        {
            "benchmark": f"embedding-{mode}" if mode != "full" else "embedding",
            "mode": mode,
            "single_seconds": single,
            "batch_texts_per_second": rates,
            "loads": loads,
            "ratios": ratio,
            "min_cosine": worst,
        },
    )


if __name__ == "__main__":
    main()
