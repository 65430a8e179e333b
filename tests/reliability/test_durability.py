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


def _open_when_free(store: Path, deadline_s: float = 120) -> MemoryEngine:
    """Open the store once no process holds it (a killed compaction's vacuum may still run)."""
    from priomem import StoreLockedError

    deadline = time.monotonic() + deadline_s
    while True:
        try:
            return MemoryEngine(store, embedder=HashEmbedder(), settings=Settings())
        except StoreLockedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


CHURN_KILLS = int(os.environ.get("PRIOMEM_CHURN_KILLS", "200" if LONG else "6"))


@pytest.mark.integration
def test_kills_during_every_write_deletion_compaction_and_close_lose_nothing(tmp_path: Path) -> None:
    """SIGKILL at random moments of writes, forgets, sweeps, consolidation, erasure,
    compaction and close: every acknowledged memory is there, intact, recallable; every
    acknowledged deletion stays done; no rebuild is left half-way."""
    from tests.reliability._churn import kept_text

    rng = random.Random(int(os.environ.get("PRIOMEM_SEED", "11")))
    store = tmp_path / "churn"
    kept: dict[str, tuple[str, int]] = {}
    temps: dict[str, str] = {}
    gone: set[str] = set()
    subject: dict[str, str] = {}
    n = 0
    phases: dict[str, int] = {}
    for _ in range(CHURN_KILLS):
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.reliability._churn",
                str(store),
                str(n),
                str(rng.randrange(1 << 30)),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        time.sleep(rng.uniform(1.5, 7.0))
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        for line in out.splitlines():
            parts = line.split()
            if not parts:
                continue
            phases[parts[0]] = phases.get(parts[0], 0) + 1
            if parts[0] == "W" and len(parts) == 4:
                kept[parts[1]] = (parts[2], int(parts[3]))
                n = max(n, int(parts[3]) + 1)
            elif parts[0] == "T" and len(parts) == 3:
                temps[parts[1]] = parts[2]
            elif parts[0] == "U" and len(parts) == 3:
                subject[parts[1]] = parts[2]
            elif parts[0] == "F" and len(parts) == 2:
                gone.update(i for i, ns in temps.items() if ns == parts[1])
            elif parts[0] == "E":
                gone.update(subject)
        n += 1000  # a killed write may have stored numbers it never acknowledged
        with _open_when_free(store) as engine:
            for memory_id, (ns, number) in kept.items():
                memory = engine.get(memory_id, namespace=ns)
                assert memory is not None, f"acknowledged memory {memory_id} ({number}) was lost"
                assert memory.content == kept_text(number) and memory.metadata["n"] == number
            for memory_id in gone:
                ns = temps.get(memory_id) or subject[memory_id]
                assert engine.get(memory_id, namespace=ns) is None, "a deleted memory came back"
            assert not [c for c in engine._store._client.list_collections() if c.name.endswith("-rebuild")]
            sample = rng.sample(sorted(kept), min(5, len(kept)))
            for memory_id in sample:
                ns, number = kept[memory_id]
                hits = engine.recall(kept_text(number), namespace=ns, k=5)
                assert memory_id in [h.memory.id for h in hits]
    assert kept and phases.get("X", 0) + phases.get("C", 0) + phases.get("E", 0) > 0, phases
