"""Range conditions on a shared namespace: checked by priomem (now) vs sent to embedded
Chroma (before), interleaved in one process on one store.

A store of ``--namespaces`` x 20 memories (shared collections, hash embedder) answers
``list(namespace=..., since="7d", min_priority="high")`` in a random namespace, the two
ways alternating: with the store's own range check, and with it turned off (the range
clauses sent to Chroma, which weighs them against every record of the store).

    python benchmarks/shared_ranges.py --namespaces 2000 --calls 300
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import TextGen, progress, table, write_json  # noqa: E402

from priomem import HashEmbedder, MemoryEngine, Settings  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namespaces", type=int, default=2000)
    parser.add_argument("--calls", type=int, default=300, help="list calls a side")
    parser.add_argument("--out", type=Path, default=HERE / "out")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    gen = TextGen(args.seed)
    names = [f"t-{i}" for i in range(args.namespaces)]
    with tempfile.TemporaryDirectory(prefix="priomem-ranges-") as tmp:
        settings = Settings(compact_on_close=False)
        with MemoryEngine(Path(tmp) / "s", embedder=HashEmbedder(384), settings=settings) as engine:
            progress(f"filling {args.namespaces} namespaces x 20")
            for i in range(0, len(names), 200):
                engine.remember_many(
                    [{"content": text, "priority": ["low", "medium", "high", "critical"][j % 4], "namespace": ns}
                     for ns in names[i : i + 200] for j, text in enumerate(gen.short(20))]
                )  # fmt: skip
            store = engine._store
            here = store._ranges_here
            rng = random.Random(args.seed)
            times: dict[str, list[float]] = {"sent": [], "here": []}
            for i in range(args.calls):
                for side in ("sent", "here") if i % 2 else ("here", "sent"):
                    store._ranges_here = (lambda place: False) if side == "sent" else here  # type: ignore[method-assign]
                    started = time.perf_counter()
                    got = engine.list(namespace=rng.choice(names), since="7d", min_priority="high", limit=10)
                    times[side].append(time.perf_counter() - started)
                    assert len(got) == 10
    sent, here_ms = (statistics.median(times[s]) * 1000 for s in ("sent", "here"))
    table(
        f"list(since, min_priority) in 1 of {args.namespaces:,} shared namespaces x 20 ({args.calls} a side)",
        ["ranges sent to Chroma p50 ms", "checked by priomem p50 ms", "ratio"],
        [[round(sent, 2), round(here_ms, 2), round(here_ms / sent, 3)]],
    )
    write_json(args.out, "shared_ranges", {"namespaces": args.namespaces, "times": times})
    return 0


if __name__ == "__main__":
    sys.exit(main())
