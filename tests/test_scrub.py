"""Scrubbing Chroma's HNSW files zeroes heap garbage and changes no search result."""

from __future__ import annotations

import struct
from pathlib import Path

from priomem import HashEmbedder, MemoryEngine, Settings
from priomem._scrub import scrub_store


def test_scrub_keeps_every_result_and_zeroes_the_garbage(tmp_path: Path) -> None:
    store = tmp_path / "s"
    embedder = HashEmbedder(64)
    settings = Settings(hybrid=False)
    with MemoryEngine(store, embedder=embedder, settings=settings) as engine:
        # More than Chroma's sync threshold (1000), so the index files hold real data.
        engine.remember_many([{"content": f"memory {i} about topic {i % 37}"} for i in range(2200)])
    queries = [embedder.embed_query(f"topic {i} memory {i * 7}") for i in range(50)]

    def results() -> list[list[tuple[str, float]]]:
        with MemoryEngine(store, embedder=embedder, settings=settings) as engine:
            return [
                [(r.id, round(r.distance or 0, 6)) for r in engine._store.query("default", q, 10)]
                for q in queries
            ]

    before = results()  # close() scrubs already; scrub once more and compare
    assert scrub_store(store) == 1
    after = results()

    def settled(rows: list[tuple[str, float]]) -> tuple[list[float], set[str]]:
        # Memories at exactly the same distance may come back in either order, and the 10th
        # place may fall inside such a tie: compare distances, and the ids above the last one.
        return [d for _, d in rows], {i for i, d in rows if d < rows[-1][1]}

    assert [settled(r) for r in after] == [settled(r) for r in before]
    folder = next(store.glob("*/header.bin")).parent
    header = (folder / "header.bin").read_bytes()
    count, per_element = struct.unpack_from("<QQ", header, 4 + 16)
    data = (folder / "data_level0.bin").read_bytes()
    # Chroma persists the index in batches; what it holds is all real, the rest is zeroes.
    assert count >= 2000 and not any(data[count * per_element :])
    for i in range(count):  # unused neighbour slots are zero
        base = i * per_element
        used = int.from_bytes(data[base : base + 2], "little")
        assert not any(data[base + 4 + 4 * used : base + 4 + 4 * 64])
