from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from priomem import InvalidInputError, Priority, Settings


def test_defaults_document_retention() -> None:
    s = Settings()
    assert s.ttl_for(Priority.LOW) == timedelta(days=30)
    assert s.ttl_for(Priority.MEDIUM) is None and s.ttl_for(Priority.CRITICAL) is None
    assert s.default_namespace == "default" and s.hybrid is True and s.max_k == 1000


def test_env_is_read_and_explicit_overrides_win() -> None:
    env = {
        "PRIOMEM_PATH": "/tmp/from-env",
        "PRIOMEM_NAMESPACE": "env-ns",
        "PRIOMEM_TTL_LOW": "7d",
        "PRIOMEM_TTL_HIGH": "90d",
        "PRIOMEM_HYBRID": "false",
        "PRIOMEM_MAX_K": "50",
    }
    s = Settings.from_env(env)
    assert s.path == Path("/tmp/from-env") and s.default_namespace == "env-ns"
    assert s.ttl_for(Priority.LOW) == timedelta(days=7) and s.ttl_for(Priority.HIGH) == timedelta(days=90)
    assert s.hybrid is False and s.max_k == 50
    s2 = Settings.from_env(env, default_namespace="flag-ns", path=Path("/tmp/flag"))
    assert s2.default_namespace == "flag-ns" and s2.path == Path("/tmp/flag")
    s3 = Settings.from_env(env, default_namespace=None)  # an unset flag does not erase env
    assert s3.default_namespace == "env-ns"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PRIOMEM_HYBRID", "maybe"),
        ("PRIOMEM_MAX_K", "lots"),
        ("PRIOMEM_MAX_K", "0"),
        ("PRIOMEM_TTL_LOW", "forever-ish"),
        ("PRIOMEM_EMBEDDER", "gpt"),
    ],
)
def test_bad_env_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(InvalidInputError, match=r"PRIOMEM_|embedder"):
        Settings.from_env({name: value})


def test_unknown_override_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="unknown setting"):
        Settings.from_env({}, colour="blue")


def test_ttl_none_disables_expiry() -> None:
    assert Settings.from_env({"PRIOMEM_TTL_LOW": "none"}).ttl_for(Priority.LOW) is None


def test_settings_choose_the_embedder(chroma_client: object) -> None:
    from priomem import HashEmbedder, MemoryEngine

    with MemoryEngine(client=chroma_client, settings=Settings(embedder="hash")) as engine:
        assert isinstance(engine.embedder, HashEmbedder)


def test_the_embed_backend_is_chosen_by_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from priomem import SentenceTransformerEmbedder
    from priomem._engine import default_embedder
    from priomem._onnx import AutoEmbedder, OnnxEmbedder

    monkeypatch.setenv("PRIOMEM_EMBED_BACKEND", "torch")
    assert Settings.from_env().embed_backend == "torch"
    assert isinstance(default_embedder(Settings(embed_backend="torch")), SentenceTransformerEmbedder)
    assert isinstance(default_embedder(Settings(embed_backend="onnx")), OnnxEmbedder)
    assert isinstance(default_embedder(Settings()), AutoEmbedder)
    with pytest.raises(InvalidInputError, match="embed_backend"):
        Settings(embed_backend="cuda")


def test_replace_applies_none_and_checks_the_result() -> None:
    settings = Settings(url="http://127.0.0.1:8000", default_namespace="ops")
    cleared = settings.replace(url=None)
    assert cleared.url is None and cleared.default_namespace == "ops" and settings.url is not None
    with pytest.raises(InvalidInputError):
        settings.replace(embed_backend="gpu")
    with pytest.raises(InvalidInputError, match="leave default_namespace out to keep 'ops'"):
        settings.replace(default_namespace=None)  # None clears only what may be unset
    with pytest.raises(InvalidInputError, match="unknown setting"):
        settings.replace(nmespace="ops")
