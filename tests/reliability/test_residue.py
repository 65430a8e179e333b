"""Deletion is real: after forget, sweep, eviction, consolidation and erase, no file holds it.

Every path deletes, the store closes (which compacts it), then every file under the store
is scanned for the deleted memories' text and for their vectors (any float32 run with
cosine >= 0.99), while the live memories must still be found by the same scans and by
recall, so a scan that finds nothing cannot pass by looking in the wrong place.
"""

from __future__ import annotations

import random
import string
import time
from pathlib import Path

import numpy as np

from priomem import HashEmbedder, MemoryEngine, Settings
from tests.reliability._residue import files_holding, vectors_on_disk

EMBEDDER = HashEmbedder(64)


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(4, 9)))


def _text(rng: random.Random, token: str) -> str:
    return f"{token} " + " ".join(_word(rng) for _ in range(8))


def _vectors(texts: list[str]) -> np.ndarray:
    return np.asarray(EMBEDDER.embed_documents(texts), dtype=np.float32)


def test_every_deletion_path_leaves_no_text_and_no_vector(tmp_path: Path) -> None:
    rng = random.Random(7)
    store = tmp_path / "store"
    gone: dict[str, str] = {}  # token -> full text of each deleted memory
    kept: dict[str, str] = {}
    with MemoryEngine(store, embedder=EMBEDDER, settings=Settings()) as engine:
        # Past Chroma's sync threshold (1000), so the index files on disk hold real vectors.
        items = []
        for i in range(1300):
            token = f"Kiwi{i:05d}Zq"
            items.append(
                {
                    "content": _text(rng, token),
                    "namespace": "a",
                    "tags": ["tmp"] if i % 10 == 1 else [],
                    "metadata": {"subject": "carol"} if i % 10 == 2 else {},
                    "priority": "high",
                }
            )
        memories = engine.remember_many(items)
        by_token = {m.content.split()[0]: m for m in memories}
        forgotten = [m for i, m in enumerate(memories) if i % 10 == 0]
        assert engine.forget([m.id for m in forgotten], namespace="a") == len(forgotten)
        assert engine.forget(namespace="a", tags=["tmp"]) == 130
        assert engine.erase(subject="carol") == 130
        for i, m in enumerate(memories):
            (gone if i % 10 in (0, 1, 2) else kept)[m.content.split()[0]] = m.content
        # Sweep: memories that expired long ago.
        expired = [_text(rng, f"Plum{i:04d}Zq") for i in range(40)]
        engine.remember_many([{"content": t, "namespace": "b", "priority": "low"} for t in expired])
        engine.set_retention("b", priority={"low": "1s"})
        time.sleep(1.2)
        assert engine.sweep() == 40
        gone.update({t.split()[0]: t for t in expired})
        # Eviction: a full namespace drops its LOW memories first.
        engine.set_quota("q", max_memories=30, compliance_reserve=0)
        low = [_text(rng, f"Fig{i:04d}Zq") for i in range(25)]
        engine.remember_many([{"content": t, "namespace": "q", "priority": "low"} for t in low])
        high = [_text(rng, f"Date{i:04d}Zq") for i in range(20)]
        engine.remember_many([{"content": t, "namespace": "q", "priority": "high"} for t in high])
        present = {m.content for m in engine.list(namespace="q", limit=100)}
        evicted = [t for t in low if t not in present]
        assert len(evicted) == 20
        gone.update({t.split()[0]: t for t in evicted})
        kept.update({t.split()[0]: t for t in high})
        # Consolidation: near-duplicates merge; the originals' vectors must go.
        base = "disk usage on host web-3 crossed eighty percent during the nightly backup run"
        dupes = [f"{base} sample {i}" for i in range(6)]
        stored = engine.remember_many([{"content": t, "namespace": "c", "priority": "low"} for t in dupes])
        merged = engine.consolidate("c", min_similarity=0.8)
        merged_ids = {i for g in merged for i in g.merged_ids}
        assert len(merged_ids) >= 2
        # Their text lives on in the merged memory; their own vectors must not.
        originals = [m.content for m in stored if m.id in merged_ids]
        # A text whose pieces a full-text index would keep: every two-character fragment of
        # it is distinctive, so any index of it (trigrams, positions) would show.
        cjk = engine.remember("患者の秘密情報漏洩診断書", namespace="a")
        assert engine.forget([cjk.id], namespace="a") == 1
        # Erase of a whole namespace.
        whole = [_text(rng, f"Lime{i:04d}Zq") for i in range(25)]
        engine.remember_many([{"content": t, "namespace": "gone-space"} for t in whole])
        assert engine.erase(namespace="gone-space") == 25
        gone.update({t.split()[0]: t for t in whole})
    assert by_token  # the store is closed (and compacted) here

    leftovers = files_holding(store, sorted(gone))
    assert leftovers == {}, f"deleted text still on disk: {dict(list(leftovers.items())[:5])}"
    secret = "患者の秘密情報漏洩診断書"
    pieces = files_holding(store, [secret[i : i + 2] for i in range(len(secret) - 1)])
    assert pieces == {}, f"fragments of a deleted text still on disk: {pieces}"
    sample_kept = sorted(kept)[:50]
    assert len(files_holding(store, sample_kept)) == len(sample_kept)  # the scan sees live text

    dead = _vectors(list(gone.values()) + originals)
    live = _vectors([kept[t] for t in sample_kept])
    assert vectors_on_disk(store, live).all()  # the scan sees live vectors
    # Leave out any deleted vector that a live memory's vector resembles (it would be found
    # through the live one): with random words there should be none.
    all_live = _vectors(list(kept.values()))
    unit = lambda m: m / np.linalg.norm(m, axis=1, keepdims=True)  # noqa: E731
    distinct = (unit(dead) @ unit(all_live).T).max(axis=1) < 0.99
    assert distinct.mean() > 0.95
    found = vectors_on_disk(store, dead[distinct])
    assert not found.any(), f"{int(found.sum())} deleted vectors still on disk"

    with MemoryEngine(store, embedder=EMBEDDER, settings=Settings()) as engine:
        assert engine.stats()["count"] >= len(kept)
        for token in sample_kept[:10]:
            ns = "a" if token.startswith("Kiwi") else "q"
            assert engine.recall(kept[token], namespace=ns, k=1)[0].memory.content == kept[token]
