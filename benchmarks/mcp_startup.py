"""How fast a freshly spawned ``priomem-mcp`` answers: spawn -> tools/list, spawn -> first recall.

Each repetition spawns the server as a real stdio subprocess (as an MCP client does),
speaks raw JSON-RPC to it, and times from just before the spawn to each answer. The store
persists between repetitions (a user's store exists already); one warm-up run is
discarded. Between runs the benchmark waits until the shared-store keeper has stopped, so
every run pays for starting it, as a single client does.

    python benchmarks/mcp_startup.py                  # real model, 5 repetitions
    python benchmarks/mcp_startup.py --embedder hash  # without the model load
    python benchmarks/mcp_startup.py --no-share -n 9  # embedded store, 9 repetitions
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from priomem.mcp_server._sharing import ShareFiles, keeper_alive


def _reader(stream: Any, inbox: queue.Queue[bytes | None]) -> None:
    for line in stream:
        inbox.put(line)
    inbox.put(None)


def one_run(
    store: Path, embedder: str, share: bool, backend: str = "auto", timeout: float = 180.0
) -> tuple[float, float, float]:
    """Seconds from spawn to: the initialize answer, the tools/list answer, the first recall answer."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRIOMEM_") or k == "PRIOMEM_CACHE_DIR"}
    env.update(
        PRIOMEM_PATH=str(store),
        PRIOMEM_EMBEDDER=embedder,
        PRIOMEM_EMBED_BACKEND=backend,
        PRIOMEM_MCP_SHARE="true" if share else "false",
        ANONYMIZED_TELEMETRY="False",
        HF_HUB_OFFLINE="1",
    )
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "priomem.mcp_server"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    inbox: queue.Queue[bytes | None] = queue.Queue()
    threading.Thread(target=_reader, args=(proc.stdout, inbox), daemon=True).start()
    assert proc.stdin is not None

    def ask(ident: int, method: str, params: dict[str, Any]) -> float:
        proc.stdin.write(
            json.dumps({"jsonrpc": "2.0", "id": ident, "method": method, "params": params}).encode()
        )  # type: ignore[union-attr]
        proc.stdin.write(b"\n")  # type: ignore[union-attr]
        proc.stdin.flush()  # type: ignore[union-attr]
        while True:
            line = inbox.get(timeout=timeout)
            if line is None:
                raise RuntimeError(f"the server exited before answering {method}")
            message = json.loads(line)
            if message.get("id") == ident:
                if "error" in message or message.get("result", {}).get("isError"):
                    raise RuntimeError(f"{method} failed: {message}")
                return time.perf_counter() - started

    try:
        hello = {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "bench", "version": "1"},
        }
        initialized = ask(1, "initialize", hello)
        proc.stdin.write(b'{"jsonrpc": "2.0", "method": "notifications/initialized"}\n')
        proc.stdin.flush()
        listed = ask(2, "tools/list", {})
        recalled = ask(
            3, "tools/call", {"name": "recall", "arguments": {"query": "when is the ETL deadline?"}}
        )
    finally:
        proc.stdin.close()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return initialized, listed, recalled


def wait_for_keeper_exit(store: Path, timeout: float = 30.0) -> None:
    files = ShareFiles(store.resolve())
    deadline = time.monotonic() + timeout
    while keeper_alive(files) and time.monotonic() < deadline:
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", "--repeat", type=int, default=5, help="measured repetitions (default 5)")
    parser.add_argument("--embedder", choices=["default", "hash"], default="default")
    parser.add_argument("--share", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--backends",
        default="auto",
        help="comma-separated PRIOMEM_EMBED_BACKEND values, run interleaved (e.g. torch,auto); the "
        "warm-up run of 'auto' makes the ONNX export if the cache has none",
    )
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]

    with tempfile.TemporaryDirectory() as folder:
        store = Path(folder) / "store"
        runs: dict[str, list[tuple[float, float, float]]] = {b: [] for b in backends}
        for attempt in range(args.repeat + 1):
            for backend in backends:
                figures = one_run(store, args.embedder, args.share, backend)
                wait_for_keeper_exit(store)
                if attempt == 0 and backend != "torch" and args.embedder == "default":
                    from priomem._onnx import export

                    export()  # the warm-up started it in the background: wait for it
                label = "warm-up" if attempt == 0 else f"run {attempt}"
                print(
                    f"{label:>8} {backend:>5}: initialize {figures[0]:.2f}s  tools/list {figures[1]:.2f}s  "
                    f"first recall {figures[2]:.2f}s"
                )
                if attempt:
                    runs[backend].append(figures)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    for backend, measured in runs.items():
        print(
            f"\nspawn -> answer, median of {len(measured)} (embedder={args.embedder}, backend={backend}, "
            f"share={args.share}, {os.cpu_count()} CPUs, load average {load:.1f}):"
        )
        for index, name in enumerate(["initialize", "tools/list", "first recall"]):
            values = [run[index] for run in measured]
            print(
                f"  {name:<13} median {statistics.median(values):.2f}s  min {min(values):.2f}s  max {max(values):.2f}s"
            )


if __name__ == "__main__":
    main()
