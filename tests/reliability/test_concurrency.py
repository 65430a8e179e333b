"""Concurrency: many threads on one engine; several processes on one Chroma server."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from priomem import HashEmbedder, MemoryEngine, Settings
from tests.conftest import running_chroma

THREADS = 8
PER_THREAD = 40


def test_threads_remember_recall_and_forget_with_exact_counts(engine: MemoryEngine) -> None:
    errors: list[BaseException] = []
    forgotten: list[int] = [0] * THREADS

    def worker(n: int) -> None:
        try:
            ids = []
            for i in range(PER_THREAD):
                ids.append(engine.remember(f"thread {n} fact {i}", namespace=f"ns{n % 2}", tags=[f"t{n}"]).id)
                if i % 3 == 0:
                    engine.recall(f"fact {i}", namespace=f"ns{n % 2}", k=5)
                if i % 4 == 3:
                    forgotten[n] += engine.forget([ids.pop(0)], namespace=f"ns{n % 2}")
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(forgotten) == THREADS * (PER_THREAD // 4)
    total = engine.stats("ns0")["count"] + engine.stats("ns1")["count"]
    assert total == THREADS * PER_THREAD - sum(forgotten)
    for n in range(THREADS):
        assert (
            len(engine.list(namespace=f"ns{n % 2}", tags=[f"t{n}"], limit=1000)) == PER_THREAD - forgotten[n]
        )


WRITER = """
import sys
from priomem import HashEmbedder, MemoryEngine, Settings
with MemoryEngine(url=sys.argv[1], embedder=HashEmbedder(), settings=Settings()) as e:
    for i in range(int(sys.argv[3])):
        e.remember(f"process {sys.argv[2]} memory {i}", namespace="shared")
        e.recall("memory", namespace="shared", k=3)
"""


@pytest.mark.integration
def test_processes_share_a_chroma_server(tmp_path: Path) -> None:
    with running_chroma(tmp_path / "srv") as url:
        writers = [subprocess.Popen([sys.executable, "-c", WRITER, url, str(p), "60"]) for p in range(3)]
        assert [w.wait(timeout=300) for w in writers] == [0, 0, 0]
        with MemoryEngine(url=url, embedder=HashEmbedder(), settings=Settings()) as engine:
            assert engine.stats("shared")["count"] == 180
            assert {m.content for m in engine.list(namespace="shared", limit=1000)} == {
                f"process {p} memory {i}" for p in range(3) for i in range(60)
            }
