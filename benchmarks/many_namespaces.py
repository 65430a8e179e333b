"""Many small namespaces: peak memory, fill time, and recall / remember in a random
namespace, against a 100-namespace store measured in the same run, interleaved.

For each size (``--sizes``), a fresh store of that many namespaces x ``--per`` memories
is filled through ``MemoryEngine.remember_many`` (``--batch`` namespaces a call, 200 by
default, 1 for a call each; hash embedder: the store's cost, not the model's) in a process of its own, which reports its peak RSS
(embedded) or the ``chroma run`` server's (``VmHWM``, server). Then one process opens that
store and the 100-namespace baseline and alternates: a recall (k=5) in a random namespace
of one, then of the other; then one ``remember``. Ratios are size / baseline p50s.

    python benchmarks/many_namespaces.py                                  # 100, 1,000, 10,000 x 20
    python benchmarks/many_namespaces.py --backends server --per 10 --sizes 100000
    python benchmarks/many_namespaces.py --layout own --sizes 100,1000   # one collection each
    python benchmarks/many_namespaces.py --smoke                          # seconds; what CI runs
    python benchmarks/many_namespaces.py --threshold 20,250,1000         # shared vs own, by size
    python benchmarks/many_namespaces.py --fill-compare 500              # one call a namespace vs --batch

``--threshold``: for each namespace size, one namespace of that many memories beside 200
of 20, in a store of each layout (shared: the namespace in a shared collection, never
moved; own: its own collection), recall in it interleaved between the two (one process,
embedded): what ``own_collection_at`` is chosen on.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import TextGen, base_parser, mode_of, progress, table, write_json  # noqa: E402

from priomem import HashEmbedder, MemoryEngine, Settings  # noqa: E402

BASELINE = 100


def _settings(layout: str) -> Settings:
    return Settings(namespace_layout=layout, compact_on_close=False)


def _open(target: str, layout: str) -> MemoryEngine:
    settings = _settings(layout)
    if target.startswith("http"):
        return MemoryEngine(url=target, embedder=HashEmbedder(384), settings=settings)
    return MemoryEngine(Path(target), embedder=HashEmbedder(384), settings=settings)


def _names(count: int) -> list[str]:
    return [f"tenant-{i:06d}" for i in range(count)]


def fill_child(target: str, count: int, per: int, layout: str, seed: int, batch: int = 1) -> dict[str, Any]:
    """Fill ``target`` (a path or URL) with ``count`` namespaces x ``per`` memories,
    ``batch`` namespaces a ``remember_many`` call."""
    gen = TextGen(seed)
    started = time.perf_counter()
    names = _names(count)
    with _open(target, layout) as engine:
        for i in range(0, count, batch):
            engine.remember_many(
                [{"content": text, "priority": ["low", "medium", "high", "critical"][j % 4], "namespace": ns}
                 for ns in names[i : i + batch] for j, text in enumerate(gen.short(per))]
            )  # fmt: skip
            done = min(count, i + batch)
            if done // max(1, count // 10) != i // max(1, count // 10):
                progress(f"filled {done} of {count} namespaces")
        fill = time.perf_counter() - started
        rng = random.Random(seed)
        for _ in range(50):  # the query path's memory is part of the peak too
            engine.recall("what broke on db-07 last night?", namespace=rng.choice(names), k=5)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"fill_s": round(fill, 1), "client_peak_rss_mb": round(peak, 1)}


def measure_child(
    target: str, baseline: str, sizes: tuple[int, int], layout: str, queries: int, seed: int
) -> dict[str, Any]:
    """Recall and remember in random namespaces of ``target`` and ``baseline``, interleaved."""
    gen = TextGen(seed + 1)
    questions = gen.questions(queries)
    rng = random.Random(seed)
    times: dict[str, dict[str, list[float]]] = {
        side: {"recall": [], "remember": []} for side in ("size", "base")
    }
    with _open(target, layout) as big, _open(baseline, layout) as base:
        engines = {"size": (big, _names(sizes[0])), "base": (base, _names(sizes[1]))}
        for engine, names in engines.values():  # warm both (first-use costs, caches)
            for _ in range(20):
                engine.recall(questions[0], namespace=rng.choice(names), k=5)
        for i, question in enumerate(questions):
            order = ["size", "base"] if i % 2 == 0 else ["base", "size"]
            for side in order:
                engine, names = engines[side]
                ns = rng.choice(names)
                t = time.perf_counter()
                engine.recall(question, namespace=ns, k=5)
                times[side]["recall"].append(time.perf_counter() - t)
            if i % 4 == 0:
                note = gen.sentence()
                for side in order:
                    engine, names = engines[side]
                    t = time.perf_counter()
                    engine.remember(f"{note} ({side} {i})", namespace=rng.choice(names))
                    times[side]["remember"].append(time.perf_counter() - t)
    out: dict[str, Any] = {}
    for side, parts in times.items():
        for op, values in parts.items():
            out[f"{side}_{op}_p50_ms"] = round(statistics.median(values) * 1000, 2)
            out[f"{side}_{op}_samples"] = len(values)
    return out


def fill_compare(count: int, per: int, batch: int, rounds: int, root: Path, seed: int) -> dict[str, Any]:
    """Fill fresh embedded stores with ``count`` namespaces x ``per`` memories, one
    ``remember_many`` a namespace and ``batch`` namespaces a call, alternating."""
    times: dict[str, list[float]] = {"one": [], "batched": []}
    for r in range(rounds):
        order = [("one", 1), ("batched", batch)] if r % 2 == 0 else [("batched", batch), ("one", 1)]
        for side, size in order:
            folder = root / f"fill-{side}-{r}"
            times[side].append(fill_child(str(folder), count, per, "shared", seed + r, size)["fill_s"])
            shutil.rmtree(folder, ignore_errors=True)
    one, batched = statistics.median(times["one"]), statistics.median(times["batched"])
    return {
        "namespaces": count,
        "per": per,
        "batch": batch,
        "one_s": times["one"],
        "batched_s": times["batched"],
        "one_ms_per_namespace": round(one / count * 1000, 2),
        "batched_ms_per_namespace": round(batched / count * 1000, 2),
        "speedup": round(one / batched, 2),
    }


def threshold(sizes: list[int], root: Path, queries: int) -> list[dict[str, Any]]:
    rows = []
    for n in sizes:
        engines = {}
        for layout in ("shared", "own"):
            settings = Settings(namespace_layout=layout, own_collection_at=10**9, compact_on_close=False)
            engine = MemoryEngine(
                root / f"threshold-{layout}-{n}", embedder=HashEmbedder(384), settings=settings
            )
            for i in range(200):
                engine.remember_many(
                    [
                        {"content": f"neighbour {i} fact {j} about db-{j}", "namespace": f"n{i}"}
                        for j in range(20)
                    ]
                )
            for s in range(0, n, 1000):
                engine.remember_many(
                    [{"content": f"target fact {j} on service s{j % 37} host web-{j % 91}", "namespace": "t"}
                     for j in range(s, min(n, s + 1000))]
                )  # fmt: skip
            engines[layout] = engine
        questions = [
            f"what happened on service s{i % 37} host web-{i % 53} ({i})" for i in range(queries + 10)
        ]
        for engine in engines.values():
            for q in questions[:10]:
                engine.recall(q, namespace="t", k=5)
        times: dict[str, list[float]] = {"shared": [], "own": []}
        for i, q in enumerate(questions[10:]):
            for layout in ("shared", "own") if i % 2 == 0 else ("own", "shared"):
                t = time.perf_counter()
                engines[layout].recall(q, namespace="t", k=5)
                times[layout].append(time.perf_counter() - t)
        for engine in engines.values():
            engine.close()
        shared_ms, own_ms = (statistics.median(times[k]) * 1000 for k in ("shared", "own"))
        rows.append({"size": n, "shared_p50_ms": round(shared_ms, 2), "own_p50_ms": round(own_ms, 2),
                     "ratio": round(shared_ms / own_ms, 2)})  # fmt: skip
        progress(f"threshold {n}: {rows[-1]}")
    return rows


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A ``chroma run`` on its own data folder, for the server backend."""

    def __init__(self, folder: Path) -> None:
        exe = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
        self.port = _free_port()
        self.proc = subprocess.Popen(
            [exe, "run", "--path", str(folder), "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{self.port}"
        import httpx

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/api/v2/heartbeat", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise SystemExit("chroma run did not start")

    def peak_rss_mb(self) -> float | None:
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
        except OSError:
            return None
        return None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _child(args: list[str]) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, *args], check=False, stdout=subprocess.PIPE, text=True)
    if out.returncode != 0:
        return {"error": f"exit {out.returncode}"}
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run_backend(backend: str, sizes: list[int], args: argparse.Namespace, root: Path) -> list[dict[str, Any]]:
    rows = []
    servers: list[Server] = []

    def store(count: int) -> tuple[str, Server | None]:
        folder = root / f"{backend}-{args.layout}-{count}"
        if backend == "embedded":
            return str(folder), None
        server = Server(folder)
        servers.append(server)
        return server.url, server

    try:
        base_target, _ = store(BASELINE)
        progress(f"{backend}: filling the baseline, {BASELINE} namespaces x {args.per}")
        base_fill = _child(
            [
                "--fill",
                base_target,
                str(BASELINE),
                str(args.per),
                args.layout,
                str(args.seed),
                str(args.batch),
            ]
        )
        for count in sizes:
            target, server = store(count)
            progress(f"{backend}: filling {count} namespaces x {args.per} ({args.layout} layout)")
            fill = _child(
                ["--fill", target, str(count), str(args.per), args.layout, str(args.seed), str(args.batch)]
            )
            row: dict[str, Any] = {
                "backend": backend,
                "layout": args.layout,
                "namespaces": count,
                "per": args.per,
                **fill,
            }
            if server is not None:
                row["server_alive"] = server.alive()
                row["server_peak_rss_mb_after_fill"] = server.peak_rss_mb()
            if "error" not in fill and (server is None or server.alive()):
                progress(f"{backend}: recall / remember in {count} vs {BASELINE} namespaces, interleaved")
                row.update(
                    _child(["--measure", target, base_target, str(count), str(BASELINE), args.layout,
                            str(args.queries), str(args.seed)])
                )  # fmt: skip
                if "size_recall_p50_ms" in row:
                    row["recall_ratio"] = round(row["size_recall_p50_ms"] / row["base_recall_p50_ms"], 2)
                    row["remember_ratio"] = round(
                        row["size_remember_p50_ms"] / row["base_remember_p50_ms"], 2
                    )
            if server is not None:
                row["server_peak_rss_mb"] = server.peak_rss_mb()
                row["server_alive_at_end"] = server.alive()
                server.stop()
                servers.remove(server)
            row["baseline_fill_s"] = base_fill.get("fill_s")
            rows.append(row)
            progress(f"{backend} {count}: {row}")
            if backend == "embedded":
                shutil.rmtree(target, ignore_errors=True)
            else:
                shutil.rmtree(root / f"{backend}-{args.layout}-{count}", ignore_errors=True)
    finally:
        for server in servers:
            server.stop()
    return rows


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--fill":
        target, count, per, layout, seed, batch = sys.argv[2:8]
        print(json.dumps(fill_child(target, int(count), int(per), layout, int(seed), int(batch))))
        return 0
    if len(sys.argv) > 1 and sys.argv[1] == "--measure":
        target, baseline, count, base_count, layout, queries, seed = sys.argv[2:9]
        print(
            json.dumps(
                measure_child(
                    target, baseline, (int(count), int(base_count)), layout, int(queries), int(seed)
                )
            )
        )
        return 0
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000", help="namespace counts, comma-separated")
    parser.add_argument("--per", type=int, default=20, help="memories per namespace")
    parser.add_argument(
        "--batch", type=int, default=200, help="namespaces a remember_many call fills (1: one call each)"
    )
    parser.add_argument(
        "--backends", default="embedded,server", help="embedded, server (chroma run), or both"
    )
    parser.add_argument("--layout", choices=["shared", "own"], default="shared")
    parser.add_argument(
        "--fill-compare",
        type=int,
        default=0,
        metavar="N",
        help="only compare filling N namespaces one call each with --batch a call (embedded)",
    )
    parser.add_argument("--rounds", type=int, default=4, help="--fill-compare rounds")
    parser.add_argument("--queries", type=int, default=200, help="recalls a side")
    parser.add_argument(
        "--threshold", default=None, help="namespace sizes: shared vs own collection (see above)"
    )
    args = parser.parse_args()
    if args.tmp is not None:
        args.tmp.mkdir(parents=True, exist_ok=True)
    if args.threshold:
        with tempfile.TemporaryDirectory(prefix="priomem-threshold-", dir=args.tmp) as tmp:
            found = threshold([int(x) for x in args.threshold.split(",")], Path(tmp), args.queries)
        table(
            "Recall in one namespace: a shared collection vs its own (ratio: shared / own p50)",
            ["memories", "shared p50 ms", "own p50 ms", "ratio"],
            [[r["size"], r["shared_p50_ms"], r["own_p50_ms"], r["ratio"]] for r in found],
        )
        write_json(args.out, "many_namespaces-threshold", {"rows": found})
        return 0
    if args.fill_compare:
        with tempfile.TemporaryDirectory(prefix="priomem-fill-", dir=args.tmp) as tmp:
            got = fill_compare(args.fill_compare, args.per, args.batch, args.rounds, Path(tmp), args.seed)
        table(
            f"Filling {got['namespaces']:,} namespaces x {got['per']} (embedded, hash embedder, "
            f"{args.rounds} rounds alternating)",
            ["one call a namespace, ms/ns", f"{got['batch']} namespaces a call, ms/ns", "speed-up"],
            [[got["one_ms_per_namespace"], got["batched_ms_per_namespace"], got["speedup"]]],
        )
        write_json(args.out, "many_namespaces-fill", got)
        return 0
    if args.smoke:
        args.sizes, args.per, args.queries, args.backends = "150", 3, 20, "embedded"
    sizes = [int(s) for s in args.sizes.split(",")]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="priomem-many-", dir=args.tmp) as tmp:
        for backend in args.backends.split(","):
            rows += run_backend(backend, sizes, args, Path(tmp))
    columns = ["backend", "namespaces", "fill s", "peak RSS MB", "recall p50 ms", "base", "ratio",
               "remember p50 ms", "base", "ratio"]  # fmt: skip
    body = [
        [r["backend"], r["namespaces"], r.get("fill_s"), r.get("server_peak_rss_mb") or r.get("client_peak_rss_mb"),
         r.get("size_recall_p50_ms"), r.get("base_recall_p50_ms"), r.get("recall_ratio"),
         r.get("size_remember_p50_ms"), r.get("base_remember_p50_ms"), r.get("remember_ratio")]
        for r in rows
    ]  # fmt: skip
    title = f"Many namespaces ({args.layout} layout, {args.per} memories each; ratios against {BASELINE} namespaces)"
    table(title, columns, body)
    name = "many_namespaces" + ("-smoke" if args.smoke else "")
    write_json(args.out, name, {"mode": mode_of(args), "layout": args.layout, "per": args.per, "rows": rows})
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
