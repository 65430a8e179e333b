"""A writer process for the durability tests: remembers forever, printing each acknowledged id.

Usage: python -m tests.reliability._writer (--path DIR | --url URL) START
"""

from __future__ import annotations

import argparse
import sys

from priomem import HashEmbedder, MemoryEngine, Settings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--path")
    parser.add_argument("--url")
    parser.add_argument("start", type=int)
    args = parser.parse_args()
    with MemoryEngine(args.path, url=args.url, embedder=HashEmbedder(), settings=Settings()) as engine:
        print("READY", flush=True)
        i = args.start
        while True:
            memory = engine.remember(
                f"durable memory number {i}", tags=["d"], metadata={"n": i}, namespace="dur"
            )
            print(f"{memory.id} {i}", flush=True)
            i += 1


if __name__ == "__main__":
    sys.exit(main())
