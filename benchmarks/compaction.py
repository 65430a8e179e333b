"""What making deletion real costs: compaction time, and the heap clearing's effect on speed.

1. **Compaction.** For each size, one namespace of N memories, 1% forgotten, then
   ``engine.compact()`` (rebuild of the namespace from its live records, ``chroma vacuum``,
   orphan folders) is timed, against closing and reopening the same store (the floor any
   close pays).
2. **Heap clearing.** ``mallopt(M_PERTURB)`` fills every malloc'd block, so it may slow
   allocation-heavy work. In one process, rounds with it on and off are interleaved:
   ``remember_many`` of 200 memories and 200 recalls per round (on 2,000 stored); the ratio on/off is
   reported (goal: within 1.05x).

The hash embedder is used (embedding is not what is measured); ``--real-model`` runs the
heap-clearing rounds with all-MiniLM-L6-v2, where a write is mostly embedding. Run: ``python benchmarks/compaction.py`` (about 3 minutes),
``--quick``, ``--smoke``.
"""

from __future__ import annotations

import ctypes
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import base_parser, mode_of, progress, real_embedder, table, warn_if_busy, write_json

from priomem import HashEmbedder, MemoryEngine, Settings

SIZES: dict[str, dict[str, Any]] = {
    "full": {"sizes": [1_000, 10_000, 50_000], "rounds": 8, "base": 2000, "calls": 200},
    "quick": {"sizes": [1_000, 10_000], "rounds": 4, "base": 2000, "calls": 200},
    "smoke": {"sizes": [200], "rounds": 2, "base": 100, "calls": 10},
}
EMBEDDER = HashEmbedder(384)


def _texts(n: int, salt: str) -> list[dict[str, Any]]:
    return [
        {"content": f"{salt} note {i}: pipeline p{i % 97} on host h{i % 31} finished step {i % 7}"}
        for i in range(n)
    ]


def compaction(size: int, folder: Path) -> dict[str, float]:
    store = folder / f"c{size}"
    settings = Settings(compact_on_close=False)
    with MemoryEngine(store, embedder=EMBEDDER, settings=settings) as engine:
        memories = []
        for start in range(0, size, 5000):
            memories += engine.remember_many(_texts(min(5000, size - start), f"s{start}"))
    started = time.perf_counter()
    with MemoryEngine(store, embedder=EMBEDDER, settings=settings):
        pass
    reopen = time.perf_counter() - started
    with MemoryEngine(store, embedder=EMBEDDER, settings=settings) as engine:
        engine.forget([m.id for m in memories[::100]])
        started = time.perf_counter()
        rebuilt = engine.compact()
        compact = time.perf_counter() - started
        assert rebuilt == ["default"]
        assert engine.stats()["count"] == size - len(memories[::100])
    shutil.rmtree(store)
    return {"memories": size, "compact_s": compact, "reopen_s": reopen, "per_10k_s": compact / size * 10_000}


def _perturb(on: bool) -> None:
    ctypes.CDLL(None).mallopt(-6, 0x5A if on else 0)


def heap_clearing(rounds: int, base: int, calls: int, folder: Path, embedder: Any) -> dict[str, float]:
    times: dict[str, dict[str, list[float]]] = {m: {"write": [], "recall": []} for m in ("on", "off")}
    with MemoryEngine(folder / "h", embedder=embedder, settings=Settings(compact_on_close=False)) as engine:
        engine.remember_many(_texts(base, "base"))
        for r in range(rounds):
            for mode in ("on", "off") if r % 2 == 0 else ("off", "on"):
                _perturb(mode == "on")
                started = time.perf_counter()
                engine.remember_many(_texts(calls, f"r{r}{mode}"))
                times[mode]["write"].append(time.perf_counter() - started)
                started = time.perf_counter()
                for q in range(calls):
                    engine.recall(f"pipeline p{(q * 7 + r) % 97} host h{q % 31}", k=10)
                times[mode]["recall"].append((time.perf_counter() - started) / calls)
    _perturb(True)  # as priomem leaves it
    med = {m: {k: statistics.median(v) for k, v in d.items()} for m, d in times.items()}
    return {
        "write_ratio": med["on"]["write"] / med["off"]["write"],
        "recall_ratio": med["on"]["recall"] / med["off"]["recall"],
        "write_on_s": med["on"]["write"],
        "write_off_s": med["off"]["write"],
        "recall_on_ms": 1000 * med["on"]["recall"],
        "recall_off_ms": 1000 * med["off"]["recall"],
    }


def main() -> None:
    parser = base_parser(__doc__ or "")
    parser.add_argument(
        "--real-model",
        action="store_true",
        help="heap clearing with all-MiniLM-L6-v2 instead of the hash embedder",
    )
    args = parser.parse_args()
    plan = SIZES[mode_of(args)]
    warn_if_busy()
    if args.tmp is not None:
        args.tmp.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="priomem-compaction-", dir=args.tmp))
    try:
        rows = []
        for size in plan["sizes"]:
            progress(f"compaction at {size} memories")
            rows.append(compaction(size, folder))
        table(
            "Compaction of one namespace, 1% forgotten",
            ["memories", "compact s", "reopen s", "s per 10k"],
            [[r["memories"], r["compact_s"], r["reopen_s"], r["per_10k_s"]] for r in rows],
        )
        progress("heap clearing on/off, interleaved")
        embedder = real_embedder(threads=args.torch_threads) if args.real_model else EMBEDDER
        heap = heap_clearing(plan["rounds"], plan["base"], plan["calls"], folder, embedder)
        table(
            "Heap clearing (M_PERTURB) on vs off, medians of interleaved rounds",
            ["measure", "on", "off", "on/off"],
            [
                [
                    f"remember_many({plan['calls']}) s",
                    heap["write_on_s"],
                    heap["write_off_s"],
                    heap["write_ratio"],
                ],
                ["recall ms", heap["recall_on_ms"], heap["recall_off_ms"], heap["recall_ratio"]],
            ],
        )
        mode = mode_of(args)
        name = "compaction" if mode == "full" else f"compaction-{mode}"
        payload = {"mode": mode, "compaction": rows, "heap_clearing": heap, "real_model": args.real_model}
        write_json(args.out, name, payload)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
