"""Writers killed with SIGKILL mid-stream lose nothing they acknowledged."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from priomem import HashEmbedder, MemoryEngine, Settings
from priomem._validation import content_hash

ROOT = Path(__file__).resolve().parents[2]
LONG = os.environ.get("PRIOMEM_LONG_TESTS") == "1"
KILLS = int(os.environ.get("PRIOMEM_KILLS", "25" if LONG else "5"))


def run_and_kill(target: list[str], start: int, rng: random.Random) -> dict[str, int]:
    """Start a writer, let it write for a random while, SIGKILL it; return acknowledged ids."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability._writer", *target, str(start)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "READY"
    acked: dict[str, int] = {}
    deadline = time.monotonic() + rng.uniform(0.3, 2.0)
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        memory_id, number = line.split()
        acked[memory_id] = int(number)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    # Lines written before the kill are acknowledged too.
    for line in proc.stdout.read().splitlines():
        parts = line.split()
        if len(parts) == 2:
            acked[parts[0]] = int(parts[1])
    return acked


def check_whole(engine: MemoryEngine, acked: dict[str, int]) -> None:
    embedder = HashEmbedder()
    rows = {r.id: r for r in engine._store.get("dur", embeddings=True)}
    for memory_id, number in acked.items():
        assert memory_id in rows, f"acknowledged memory {memory_id} ({number}) was lost"
        memory = engine.get(memory_id, namespace="dur")
        assert memory is not None
        assert memory.content == f"durable memory number {number}" and dict(memory.metadata) == {"n": number}
        assert memory.tags == ("d",)
        vector = rows[memory_id].embedding
        assert vector is not None and np.allclose(vector, embedder.embed_query(memory.content), atol=1e-5)
    for row in rows.values():  # no half-written record of any kind
        memory = engine.get(row.id, namespace="dur")
        assert memory is not None and memory.content_hash == content_hash(memory.content)


@pytest.mark.integration
def test_embedded_store_survives_sigkill(tmp_path: Path) -> None:
    rng = random.Random(1234)
    store = tmp_path / "store"
    acked: dict[str, int] = {}
    for round_ in range(KILLS):
        acked.update(run_and_kill(["--path", str(store)], round_ * 100_000, rng))
        with MemoryEngine(store, embedder=HashEmbedder(), settings=Settings()) as engine:
            check_whole(engine, acked)
            engine.remember(f"written after kill {round_}", namespace="after")
    assert len(acked) > KILLS  # the writers really wrote


@pytest.mark.integration
def test_server_store_survives_a_killed_writer(tmp_path: Path) -> None:
    # The session server records the real model, so this test uses its own server folder.
    from tests.conftest import running_chroma

    with running_chroma(tmp_path / "srv") as url:
        rng = random.Random(99)
        acked: dict[str, int] = {}
        for round_ in range(max(2, KILLS // 2)):
            acked.update(run_and_kill(["--url", url], round_ * 100_000, rng))
            with MemoryEngine(url=url, embedder=HashEmbedder(), settings=Settings()) as engine:
                check_whole(engine, acked)
        assert acked
