"""Chroma for tests: a fresh in-memory client (the engine's own store code never needs one)."""

from __future__ import annotations

from typing import Any


def ephemeral_client() -> Any:
    """A fresh in-memory Chroma client, resettable between tests."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    return chromadb.EphemeralClient(settings=ChromaSettings(anonymized_telemetry=False, allow_reset=True))
