"""A bounded load test of ``priomem-mcp`` over streamable HTTP on 127.0.0.1, beside the
same calls made in-process.

Fills a store with synthetic memories, then, in interleaved rounds: runs concurrent MCP
clients against a real ``priomem-mcp --transport http`` process on it, each making a fixed
number of mixed calls (70% recall, 20% remember, 10% forget), and runs the same seeded call
mix in-process (one thread per client calling :class:`priomem.tools.MemoryTools`, the
layer the server's tools run on). Prints latency percentiles per tool and overall,
throughput, the server's throughput as a ratio of the in-process one, and the error
count (0 expected; the exit status is 1 otherwise). Traffic goes to 127.0.0.1 only, and
every loop is bounded in count.

    python benchmarks/load.py                       # 8 clients x 500 calls, 10k memories, real model
    python benchmarks/load.py --embedder hash       # the same without the model's cost
    python benchmarks/load.py --smoke               # seconds; what CI runs

The load generator shares the machine with the server, so by default its clients are lean:
each opens an MCP session (``initialize``, ``notifications/initialized``) and sends
``tools/call`` requests as JSON-RPC over streamable HTTP with httpx, reading the JSON or
SSE reply itself. ``--client sdk`` uses the MCP SDK's ``Client`` instead (about 6 ms of
CPU a call on the generator's side, which on 2 cores is taken from the server).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import httpx
from mcp import Client

from priomem import MemoryEngine, Settings
from priomem.tools import MemoryTools

HERE = Path(__file__).resolve().parent
SUBJECTS = [
    "orders ETL",
    "billing pipeline",
    "customer churn model",
    "inventory sync",
    "search index",
    "payments API",
]
EVENTS = [
    "failed at night",
    "finished in 42 minutes",
    "schema changed",
    "latency rose to 900 ms",
    "SLA at risk",
    "was rerun successfully",
    "lost 2% of rows",
    "got a new owner",
]


def log(message: str) -> None:
    sys.stderr.write(f"[load] {message}\n")
    sys.stderr.flush()


def text(rng: random.Random, i: int) -> str:
    return f"{rng.choice(SUBJECTS)} {rng.choice(EVENTS)} (event {i}, run {rng.randint(1, 999)})"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fill(store: Path, count: int, embedder: str, seed: int) -> None:
    rng = random.Random(seed)
    priorities = ["low", "medium", "medium", "high", "critical"]
    with MemoryEngine(store, settings=Settings(embedder=embedder)) as engine:
        batch = 512
        for start in range(0, count, batch):
            engine.remember_many(
                {
                    "content": text(rng, i),
                    "priority": rng.choice(priorities),
                    "tags": [rng.choice(["etl", "api", "ml"])],
                }
                for i in range(start, min(start + batch, count))
            )
            log(f"filled {min(start + batch, count)}/{count}")


def start_server(store: Path, port: int, embedder: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRIOMEM_") or k == "PRIOMEM_CACHE_DIR"}
    env["ANONYMIZED_TELEMETRY"] = "False"
    return subprocess.Popen(
        [sys.executable, "-m", "priomem.mcp_server", "--transport", "http", "--port", str(port), "--path", str(store),
         "--embedder", embedder, "--no-share"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip


async def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the server exited during start-up")
        try:
            async with Client(url) as client:
                result = await client.call_tool("recall", {"query": "warm up"})
                if not result.is_error:
                    return
        except Exception:
            await asyncio.sleep(0.2)
    raise SystemExit("the server was not ready in time")


def next_call(rng: random.Random, seed: int, i: int, mine: list[str]) -> tuple[str, dict[str, Any]]:
    """Call ``i`` of a client: the same seeded mix for the server and in-process runs."""
    roll = rng.random()
    if roll < 0.7:
        args: dict[str, Any] = {"query": f"{rng.choice(SUBJECTS)} {rng.choice(EVENTS)}", "k": 5}
        if rng.random() < 0.3:
            args["since"] = "7d"
        return "recall", args
    if roll < 0.9 or not mine:
        return "remember", {"content": f"client {seed} note {i}: {text(rng, i)}", "tags": ["load"]}
    return "forget", {"ids": [mine.pop()]}


Result = tuple[str, float, bool]


class LeanClient:
    """A minimal MCP client over streamable HTTP: one session, ``tools/call`` requests."""

    HEADERS: ClassVar[dict[str, str]] = {
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
    }

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.AsyncClient(timeout=120)
        self.headers = dict(self.HEADERS)
        self.next_id = 0

    async def __aenter__(self) -> LeanClient:
        reply = await self.post(
            "initialize",
            {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "load", "version": "1"},
            },
        )
        if "result" not in reply:
            raise RuntimeError(f"initialize failed: {reply}")
        await self.http.post(
            self.url, headers=self.headers, json={"jsonrpc": "2.0", "method": "notifications/initialized"}
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if "mcp-session-id" in self.headers:
            await self.http.delete(self.url, headers=self.headers)
        await self.http.aclose()

    async def post(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self.next_id += 1
        response = await self.http.post(
            self.url,
            headers=self.headers,
            json={"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params},
        )
        response.raise_for_status()
        if session := response.headers.get("mcp-session-id"):
            self.headers["mcp-session-id"] = session
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            for line in response.text.splitlines():
                if line.startswith("data:"):
                    message: dict[str, Any] = json.loads(line[5:])
                    if message.get("id") == self.next_id:
                        return message
            raise RuntimeError(f"no reply to {method} in the event stream")
        result: dict[str, Any] = response.json()
        return result

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        """(ok, structured content) of one tool call."""
        reply = await self.post("tools/call", {"name": name, "arguments": arguments})
        result = reply.get("result") or {}
        return "error" not in reply and not result.get("isError"), result.get("structuredContent") or {}


async def one_client(url: str, calls: int, seed: int, results: list[Result], kind: str) -> None:
    rng = random.Random(seed)
    mine: list[str] = []
    if kind == "sdk":
        async with Client(url) as client:
            for i in range(calls):
                name, args = next_call(rng, seed, i, mine)
                started = time.perf_counter()
                try:
                    result = await client.call_tool(name, args)
                    ok = not result.is_error
                    if ok and name == "remember":
                        mine.append(result.structured_content["id"])  # type: ignore[index]
                except Exception:
                    ok = False
                results.append((name, time.perf_counter() - started, ok))
        return
    async with LeanClient(url) as lean:
        for i in range(calls):
            name, args = next_call(rng, seed, i, mine)
            started = time.perf_counter()
            try:
                ok, content = await lean.call_tool(name, args)
                if ok and name == "remember":
                    mine.append(content["id"])
            except Exception:
                ok = False
            results.append((name, time.perf_counter() - started, ok))


def run_server(store: Path, args: argparse.Namespace, round_no: int) -> tuple[list[Result], float]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    proc = start_server(store, port, args.embedder)
    try:
        asyncio.run(wait_ready(url, proc))
        log(f"server: {args.clients} clients x {args.calls} calls against {url}")
        results: list[Result] = []

        async def run_all() -> float:
            started = time.perf_counter()
            await asyncio.gather(
                *(
                    one_client(url, args.calls, client_seed(args, round_no, c), results, args.client)
                    for c in range(args.clients)
                )
            )
            return time.perf_counter() - started

        return results, asyncio.run(run_all())
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_in_process(store: Path, args: argparse.Namespace, round_no: int) -> tuple[list[Result], float]:
    """The same calls through ``MemoryTools`` on an engine in this process, a thread per client."""
    results: list[Result] = []
    lock = threading.Lock()
    with MemoryEngine(store, settings=Settings(embedder=args.embedder)) as engine:
        tools = MemoryTools(engine)
        tools.run("recall", {"query": "warm up"})
        log(f"in-process: {args.clients} threads x {args.calls} calls")

        def worker(seed: int) -> None:
            rng = random.Random(seed)
            mine: list[str] = []
            for i in range(args.calls):
                name, call_args = next_call(rng, seed, i, mine)
                started = time.perf_counter()
                try:
                    result = tools.run(name, call_args)
                    ok = True
                    if name == "remember":
                        mine.append(result.id)  # type: ignore[attr-defined]
                except Exception:
                    ok = False
                with lock:
                    results.append((name, time.perf_counter() - started, ok))

        threads = [
            threading.Thread(target=worker, args=(client_seed(args, round_no, c),))
            for c in range(args.clients)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
    return results, wall


def client_seed(args: argparse.Namespace, round_no: int, client: int) -> int:
    return args.seed * 100_000 + round_no * 1000 + client


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000

    return {
        "n": len(values),
        "p50_ms": at(0.5),
        "p95_ms": at(0.95),
        "p99_ms": at(0.99),
        "mean_ms": statistics.fmean(values) * 1000,
    }


def summary(results: list[Result], wall: float) -> dict[str, Any]:
    return {
        "calls": len(results),
        "errors": sum(1 for _, _, ok in results if not ok),
        "wall_s": round(wall, 3),
        "throughput_calls_per_s": round(len(results) / wall, 2),
        "overall": percentiles([d for _, d, _ in results]),
        "by_tool": {
            name: percentiles([d for n, d, _ in results if n == name])
            for name in ("recall", "remember", "forget")
            if any(n == name for n, _, _ in results)
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--calls", type=int, default=500, help="calls per client")
    parser.add_argument("--memories", type=int, default=10_000, help="memories in the store before the run")
    parser.add_argument("--embedder", choices=["default", "hash"], default="default")
    parser.add_argument("--rounds", type=int, default=2, help="server and in-process runs, interleaved")
    parser.add_argument(
        "--client",
        choices=["lean", "sdk"],
        default="lean",
        help="the load generator's MCP client (see above)",
    )
    parser.add_argument("--no-baseline", action="store_true", help="the server only")
    parser.add_argument(
        "--smoke", action="store_true", help="2 clients x 20 calls on 300 memories, hash embedder, 1 round"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=HERE / "out")
    args = parser.parse_args()
    if args.smoke:
        args.clients, args.calls, args.memories, args.embedder, args.rounds = 2, 20, 300, "hash", 1
    server: list[Result] = []
    local: list[Result] = []
    server_wall = local_wall = 0.0
    with tempfile.TemporaryDirectory(prefix="priomem-load-") as tmp:
        store = Path(tmp) / "store"
        log(f"filling {args.memories} memories ({args.embedder} embedder)")
        fill(store, args.memories, args.embedder, args.seed)
        for round_no in range(args.rounds):
            # Alternate which side goes first, so a drift of the machine or of the store
            # (each round adds about a tenth of its calls as memories) hits both alike.
            sides = ["server", "in-process"] if round_no % 2 == 0 else ["in-process", "server"]
            for side in sides:
                if side == "server":
                    results, wall = run_server(store, args, round_no)
                    server += results
                    server_wall += wall
                elif not args.no_baseline:
                    results, wall = run_in_process(store, args, round_no)
                    local += results
                    local_wall += wall
    report: dict[str, Any] = {
        "clients": args.clients, "calls_per_client": args.calls, "memories": args.memories,
        "embedder": args.embedder, "rounds": args.rounds, "client": args.client, "load_average": os.getloadavg(),
        **summary(server, server_wall),
    }  # fmt: skip
    if local:
        report["in_process"] = summary(local, local_wall)
        report["server_vs_in_process"] = round(
            report["throughput_calls_per_s"] / report["in_process"]["throughput_calls_per_s"], 3
        )
    errors = report["errors"] + (report["in_process"]["errors"] if local else 0)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "load.json").write_text(json.dumps(report, indent=2))
    for label, part in [("server", report), *([("in-process", report["in_process"])] if local else [])]:
        print(f"{label}: {part['calls']} calls by {args.clients} clients in {part['wall_s']} s: "
              f"{part['throughput_calls_per_s']} calls/s, {part['errors']} errors, "
              f"p99/p50 {part['overall']['p99_ms'] / part['overall']['p50_ms']:.2f}")  # fmt: skip
        print(f"  {'tool':<10}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}")
        for name, stats in [("overall", part["overall"]), *part["by_tool"].items()]:
            print(
                f"  {name:<10}{stats['n']:>6}{stats['p50_ms']:>10.1f}{stats['p95_ms']:>10.1f}{stats['p99_ms']:>10.1f}"
            )
    if local:
        print(f"server throughput / in-process: {report['server_vs_in_process']:.2f}x")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
