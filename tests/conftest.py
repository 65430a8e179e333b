"""Shared fixtures: a fake embedder on in-memory Chroma for unit tests, and the real
things (packaged model, a `chroma run` server) for integration tests."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from priomem import HashEmbedder, MemoryEngine, SentenceTransformerEmbedder, Settings
from tests._chroma import ephemeral_client

# Exports of the model to ONNX (made by servers and the CLI on their first start) go to a
# folder of this test session, never to the developer's cache; subprocesses inherit it.
if "PRIOMEM_CACHE_DIR" not in os.environ:
    import tempfile

    os.environ["PRIOMEM_CACHE_DIR"] = tempfile.mkdtemp(prefix="priomem-test-cache-")


@pytest.fixture
def chroma_client() -> Iterator[object]:
    """A fresh in-memory Chroma client (Chroma shares one in-process system; reset it)."""
    client = ephemeral_client()
    client.reset()
    yield client
    client.reset()


@pytest.fixture
def settings() -> Settings:
    """Defaults, untouched by the developer's PRIOMEM_* environment."""
    return Settings()


@pytest.fixture
def engine(chroma_client: object, settings: Settings) -> Iterator[MemoryEngine]:
    """An engine with the deterministic hash embedder on in-memory Chroma."""
    with MemoryEngine(client=chroma_client, embedder=HashEmbedder(64), settings=settings) as eng:
        yield eng


@pytest.fixture(scope="session")
def real_embedder() -> SentenceTransformerEmbedder:
    """The packaged all-MiniLM-L6-v2 model, loaded once per test session."""
    embedder = SentenceTransformerEmbedder()
    embedder.warm_up()
    return embedder


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return
        except Exception as exc:  # not up yet
            last = exc
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up in {timeout}s: {last}")


def chroma_executable() -> str:
    candidate = Path(sys.executable).parent / "chroma"
    found = str(candidate) if candidate.exists() else shutil.which("chroma")
    if not found:
        raise RuntimeError("the 'chroma' command (installed with chromadb) is missing")
    return found


@contextmanager
def running_chroma(folder: Path) -> Iterator[str]:
    """A real `chroma run` on a free 127.0.0.1 port with its data in ``folder``; yields its
    URL and stops it on exit (the data folder stays, for tests that inspect it)."""
    port = free_port()
    proc = subprocess.Popen(
        [chroma_executable(), "run", "--path", str(folder), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/api/v2/heartbeat")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `chroma run` server on a free 127.0.0.1 port for the whole session; yields its URL.

    One store records one embedding model: tests on it use the real model."""
    with running_chroma(tmp_path_factory.mktemp("chroma-server") / "data") as url:
        yield url
