"""Integration: the real packaged model, and a real `chroma run` server shared by engines."""

from __future__ import annotations

from pathlib import Path

import pytest

from priomem import MemoryEngine, Priority, SentenceTransformerEmbedder, Settings, StoreUnavailableError
from tests.conftest import free_port

pytestmark = pytest.mark.integration


def test_real_model_recalls_by_meaning(tmp_path: Path, real_embedder: SentenceTransformerEmbedder) -> None:
    with MemoryEngine(tmp_path / "s", embedder=real_embedder, settings=Settings()) as engine:
        engine.remember_many(
            [
                {
                    "content": "The customer prefers to be contacted by email, never by phone.",
                    "priority": "high",
                },
                {"content": "Quarterly revenue grew 12% driven by the APAC region."},
                {"content": "The cat knocked a glass off the kitchen table."},
            ]
        )
        hits = engine.recall("How should we reach out to the client?", k=1)
        assert hits[0].memory.content.startswith("The customer prefers")
        assert hits[0].parts.similarity > 0.3
    assert real_embedder.dimension == 384 and real_embedder.name == "all-MiniLM-L6-v2"


def test_real_model_priority_breaks_near_ties(
    tmp_path: Path, real_embedder: SentenceTransformerEmbedder
) -> None:
    with MemoryEngine(tmp_path / "s", embedder=real_embedder, settings=Settings()) as engine:
        engine.remember("The orders table must be refreshed by 6 am.", priority="low")
        engine.remember("The orders table must be refreshed by 6 am!", priority="critical")
        hits = engine.recall("when must the orders table be refreshed", k=2)
        assert hits[0].memory.priority is Priority.CRITICAL


def test_two_engines_share_a_chroma_server(
    chroma_server: str, real_embedder: SentenceTransformerEmbedder
) -> None:
    with (
        MemoryEngine(url=chroma_server, embedder=real_embedder, settings=Settings()) as a,
        MemoryEngine(url=chroma_server, embedder=real_embedder, settings=Settings()) as b,
    ):
        m = a.remember("Deploy freeze starts on Friday at noon.", namespace="srv-shared", tags=["deploy"])
        hits = b.recall("when does the deploy freeze begin", namespace="srv-shared", k=1)
        # One memory: no word is specific in the namespace, so meaning alone finds it.
        assert hits and hits[0].memory.id == m.id and hits[0].parts.similarity > 0.5
        assert b.forget([m.id], namespace="srv-shared") == 1
        assert a.recall("deploy freeze", namespace="srv-shared") == []
        assert a.get(m.id, namespace="srv-shared") is None


def test_server_store_persists_filters_and_expiry(
    chroma_server: str, real_embedder: SentenceTransformerEmbedder
) -> None:
    # One store records one model: every test on the shared server uses the real one.
    with MemoryEngine(url=chroma_server, embedder=real_embedder, settings=Settings()) as engine:
        engine.remember("low note", priority="low", namespace="srv-filters")
        engine.remember("critical note", priority="critical", namespace="srv-filters", ttl="1h")
        assert [
            h.memory.content for h in engine.recall("note", namespace="srv-filters", min_priority="high")
        ] == ["critical note"]
        assert engine.stats("srv-filters")["count"] == 2
    with MemoryEngine(url=chroma_server, embedder=real_embedder, settings=Settings()) as engine:
        assert len(engine.list(namespace="srv-filters")) == 2


def test_unreachable_server_is_a_clear_error() -> None:
    from priomem import HashEmbedder

    with pytest.raises(StoreUnavailableError, match="did not answer"):
        MemoryEngine(url=f"http://127.0.0.1:{free_port()}", embedder=HashEmbedder(), settings=Settings())


def test_purge_completes_erasure_on_a_stopped_server_folder(tmp_path: Path) -> None:
    """A real `chroma run` server: erase through it, stop it, `priomem purge` its folder."""
    import subprocess
    import sys

    from priomem import HashEmbedder
    from tests.conftest import running_chroma

    data = tmp_path / "server-data"
    # Leaving the block closes the engine, then stops the server.
    with (
        running_chroma(data) as url,
        MemoryEngine(url=url, embedder=HashEmbedder(), settings=Settings()) as engine,
    ):
        engine.remember("Qwertzlemon secret address", metadata={"subject": "dave"}, namespace="p")
        engine.remember("an ordinary note", namespace="p")
        assert engine.erase(subject="dave") == 1
    leftover = subprocess.run(
        ["grep", "-rla", "Qwertzlemon", str(data)], capture_output=True, text=True
    ).stdout
    assert leftover  # the server's own log still holds it: that is why purge exists
    exe = Path(sys.executable).parent / "priomem"
    done = subprocess.run(
        [str(exe), "purge", "--path", str(data)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert (
        subprocess.run(["grep", "-rla", "Qwertzlemon", str(data)], capture_output=True, text=True).stdout
        == ""
    )
    assert subprocess.run(["grep", "-rla", "ordinary note", str(data)], capture_output=True, text=True).stdout
