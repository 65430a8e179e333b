"""A namespace Chroma can no longer read is found by check and repaired from what it holds.

priomem's own inputs are bounded so that no call can break a namespace (see
``test_bad_input.py``); the damage is made here the only way left, by writing the record
that breaks Chroma (a 6,000-entry metadata list) with Chroma's own client.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import chromadb
import numpy as np
import pytest
from chromadb.config import Settings as ChromaSettings

from priomem import HashEmbedder, MemoryEngine, Settings
from priomem._store import collection_name

EMBEDDER = HashEmbedder(64)


def _break(store: Path, namespace: str, dimension: int = 64) -> None:
    client = chromadb.PersistentClient(str(store), settings=ChromaSettings(anonymized_telemetry=False))
    col = client.get_collection(collection_name(namespace), embedding_function=None)
    with pytest.raises(Exception, match="metadata segment"):
        col.add(
            ids=["poison"],
            embeddings=[np.ones(dimension, np.float32).tolist()],
            documents=["poison"],
            metadatas=[{"refs": [f"r{i}" for i in range(6000)]}],
        )


@pytest.mark.parametrize("size", [40, 1300])  # 1300: past Chroma's index sync, log partly purged
def test_check_finds_and_repair_recovers_a_broken_namespace(tmp_path: Path, size: int) -> None:
    store = tmp_path / "store"
    with MemoryEngine(store, embedder=EMBEDDER, settings=Settings(namespace_layout="own")) as engine:
        team = engine.remember_many(
            [
                {"content": f"team note {i}: job j{i % 17} owned by o{i % 5}", "namespace": "team",
                 "tags": ["ops"] if i % 2 else [], "metadata": {"n": i}, "priority": "high" if i % 3 else "low"}
                for i in range(size)
            ]
        )  # fmt: skip
        engine.forget([team[0].id], namespace="team")
        other = engine.remember("an unrelated note", namespace="other")
    _break(store, "team")
    with MemoryEngine(store, embedder=EMBEDDER, settings=Settings(namespace_layout="own")) as engine:
        with pytest.raises(Exception):  # noqa: B017 - whatever Chroma raises, reads fail
            engine.list(namespace="team")
        found = {c.namespace: c for c in engine.check()}
        assert found["other"].status == "ok"
        assert found["team"].status == "damaged" and "metadata segment" in (found["team"].error or "")
        repaired = {c.namespace: c for c in engine.check(repair=True)}["team"]
        assert repaired.status == "repaired", repaired
        assert repaired.recovered == size - 1 and repaired.lost == ("poison",)
        if size > 1000:
            assert repaired.reembedded > 0  # vectors the broken index alone held
        assert {c.status for c in engine.check()} == {"ok"}
        listed = {m.id: m for m in engine.list(namespace="team", limit=1000)}
        for memory in team[1:]:
            again = engine.get(memory.id, namespace="team")
            assert again is not None and again.content == memory.content
            assert again.tags == memory.tags and again.metadata == memory.metadata
            assert again.priority == memory.priority and again.created_at == memory.created_at
        assert team[0].id not in listed  # forgotten before the damage: still forgotten
        hit = engine.recall(team[7].content, namespace="team", k=1)[0]
        assert hit.memory.id == team[7].id
        engine.remember("writable again", namespace="team")
        assert engine.get(other.id, namespace="other") is not None


def test_the_cli_reports_damage_and_repairs(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with MemoryEngine(store, embedder=HashEmbedder(384), settings=Settings(namespace_layout="own")) as engine:
        engine.remember_many([{"content": f"note {i}", "namespace": "team"} for i in range(5)])
    _break(store, "team", 384)
    exe = [sys.executable, "-m", "priomem", "--path", str(store)]
    env_args = {"capture_output": True, "text": True, "timeout": 120}
    env = {"PRIOMEM_EMBEDDER": "hash", "PATH": "/usr/bin:/bin"}
    found = subprocess.run([*exe, "check"], env=env, **env_args)  # type: ignore[call-overload]
    assert found.returncode == 1 and "namespace 'team' is damaged" in found.stderr
    assert "priomem check --repair" in found.stderr
    fixed = subprocess.run([*exe, "check", "--repair"], env=env, **env_args)  # type: ignore[call-overload]
    assert fixed.returncode == 0, fixed.stderr
    assert "team: repaired, 5 recovered" in fixed.stdout and "1 lost: poison" in fixed.stdout
