"""A worker for the kill loop: every kind of write and deletion, compaction and close, forever.

Usage: python -m tests.reliability._churn PATH START SEED

Prints one line per acknowledged step, flushed, after the call returned:
``W <id> <ns> <n>`` a kept memory (never deleted by anyone), ``T <id> <ns>`` a temporary one, ``U <id> <ns>`` one of the data subject,
``F <ns>`` every temporary memory of ``ns`` acknowledged before is forgotten,
``E`` every memory of the subject acknowledged before is erased, ``C`` compacted,
``O`` / ``X`` the store opened / closed.
"""

from __future__ import annotations

import random
import sys

from priomem import HashEmbedder, MemoryEngine, Settings

NAMESPACES = ("k1", "k2")


def kept_text(n: int) -> str:
    return f"kept memory number {n} about pipeline p{n % 13} and owner o{n % 7}"


def main() -> None:
    path, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    embedder = HashEmbedder()

    def say(line: str) -> None:
        print(line, flush=True)

    while True:
        with MemoryEngine(path, embedder=embedder, settings=Settings()) as engine:
            say("O")
            for _ in range(rng.randint(2, 6)):
                ns = rng.choice(NAMESPACES)
                op = rng.choice(["write", "write", "forget", "sweep", "consolidate", "erase", "compact"])
                if op == "write":
                    items = [
                        {
                            "content": kept_text(n + i),
                            "namespace": ns,
                            "priority": "high",
                            "metadata": {"n": n + i},
                        }
                        for i in range(rng.randint(1, 40))
                    ]
                    temps = [
                        {"content": f"temporary note {n}-{i} on {ns}", "namespace": ns, "tags": ["tmp"]}
                        for i in range(rng.randint(0, 5))
                    ]
                    subject = [
                        {"content": f"subject note {n}-{i}", "namespace": ns, "metadata": {"subject": "sub"}}
                        for i in range(rng.randint(0, 3))
                    ]
                    stored = engine.remember_many(items + temps + subject)
                    for i, memory in enumerate(stored):
                        kind = "W" if i < len(items) else "T" if i < len(items) + len(temps) else "U"
                        say(f"W {memory.id} {ns} {n + i}" if kind == "W" else f"{kind} {memory.id} {ns}")
                    n += len(items)
                elif op == "forget":
                    engine.forget(namespace=ns, tags=["tmp"])
                    say(f"F {ns}")
                elif op == "sweep":
                    engine.remember_many(
                        [
                            {"content": f"short-lived {n}-{i}", "namespace": ns, "priority": "low"}
                            for i in range(3)
                        ]
                    )
                    engine.set_retention(ns, priority={"low": "1s"})
                    engine.sweep()
                    say("S")
                elif op == "consolidate":
                    base = f"disk usage on host web-{rng.randint(1, 3)} crossed eighty percent overnight"
                    engine.remember_many(
                        [
                            {"content": f"{base} sample {i}", "namespace": ns, "priority": "low"}
                            for i in range(4)
                        ]
                    )
                    engine.consolidate(ns, min_similarity=0.8)
                    say("M")
                elif op == "erase":
                    engine.erase(subject="sub")
                    say("E")
                else:
                    engine.compact()
                    say("C")
        say("X")


if __name__ == "__main__":
    sys.exit(main())
