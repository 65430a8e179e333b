"""Configuration: one immutable object, read from ``PRIOMEM_*`` environment variables.

Precedence, highest first: explicit arguments (``MemoryEngine(path=...)``, CLI flags),
then environment variables, then the defaults below. ``Settings.from_env()`` is called
once by entry points (CLI, MCP server) and the object is passed down; nothing reads the
environment at import time.

| variable | field | default |
|---|---|---|
| ``PRIOMEM_PATH`` | ``path`` | per-user data folder (platformdirs) + ``/store`` |
| ``PRIOMEM_URL`` | ``url`` | unset (embedded store) |
| ``PRIOMEM_CHROMA_TOKEN`` | ``chroma_token`` | unset |
| ``PRIOMEM_NAMESPACE`` | ``default_namespace`` | ``default`` |
| ``PRIOMEM_TTL_LOW`` .. ``PRIOMEM_TTL_CRITICAL`` | ``retention`` | LOW ``30d``, others ``none`` |
| ``PRIOMEM_HYBRID`` | ``hybrid`` | ``true`` |
| ``PRIOMEM_COMPACT_ON_CLOSE`` | ``compact_on_close`` | ``true`` (embedded stores with deletions) |
| ``PRIOMEM_MAX_K`` | ``max_k`` | ``1000`` |
| ``PRIOMEM_MAX_CONTENT_CHARS`` | ``max_content_chars`` | ``100000`` |
| ``PRIOMEM_MAX_MEMORIES`` | ``max_memories`` (per namespace) | unlimited |
| ``PRIOMEM_MAX_MEMORIES_TOTAL`` | ``max_memories_total`` (whole store) | unlimited |
| ``PRIOMEM_CRITICAL_RESERVE`` | ``critical_reserve`` | ``0.15`` |
| ``PRIOMEM_COMPLIANCE_RESERVE`` | ``compliance_reserve`` | ``0.05`` |
| ``PRIOMEM_LOG_LEVEL`` | ``log_level`` | ``WARNING`` |
| ``PRIOMEM_EMBED_BACKEND`` | ``embed_backend`` | ``auto``: ONNX Runtime once its export is cached (made in the background on first start), torch until then; ``onnx``; ``torch`` |
| ``PRIOMEM_NAMESPACE_LAYOUT`` | ``namespace_layout`` | ``shared``: small namespaces share collections, a large one gets its own; ``own``: one collection per namespace |
| ``PRIOMEM_OWN_COLLECTION_AT`` | ``own_collection_at`` | ``1000`` memories (embedded stores this process owns) |
| ``PRIOMEM_EMBEDDER`` | ``embedder`` | ``default`` (all-MiniLM-L6-v2); ``hash``: the fast, meaning-blind test embedder |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

from priomem._errors import InvalidInputError
from priomem._priority import Priority
from priomem._scoring import Weights
from priomem._timeparse import parse_duration

__all__ = ["DEFAULT_RETENTION", "Settings", "default_store_path"]

#: Retention by priority, counted from ``stored_at``. None keeps a memory until forgotten.
DEFAULT_RETENTION: Mapping[Priority, timedelta | None] = MappingProxyType(
    {
        Priority.LOW: timedelta(days=30),
        Priority.MEDIUM: None,
        Priority.HIGH: None,
        Priority.CRITICAL: None,
    }
)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def default_store_path() -> Path:
    """The per-user data folder for the embedded store (``PRIOMEM_PATH`` overrides)."""
    import platformdirs  # cheap, but only needed when no path is given

    return Path(platformdirs.user_data_dir("priomem", appauthor=False)) / "store"


@dataclass(frozen=True)
class Settings:
    """Every knob of priomem in one immutable object; see the module docstring."""

    path: Path | None = None
    url: str | None = None
    chroma_token: str | None = None
    default_namespace: str = "default"
    retention: Mapping[Priority, timedelta | None] = field(default_factory=lambda: DEFAULT_RETENTION)
    weights: Weights = field(default_factory=Weights)
    hybrid: bool = True
    max_k: int = 1000
    max_list_limit: int = 1000
    max_content_chars: int = 100_000
    max_tags: int = 64
    max_metadata_keys: int = 64
    # Quotas (None: unlimited). Per namespace, and for the whole store; set_quota overrides
    # a namespace's at run time. A share of each quota is reserved for CRITICAL memories,
    # and one for compliance records (classified, tagged compliance, or with lineage).
    max_memories: int | None = None
    max_bytes: int | None = None
    max_memories_total: int | None = None
    max_bytes_total: int | None = None
    critical_reserve: float = 0.15
    compliance_reserve: float = 0.05
    #: Lifetime caps by metadata["classification"] (see priomem._retention).
    classification_retention: Mapping[str, timedelta | None] = field(
        default_factory=lambda: MappingProxyType(
            {"sensitive": timedelta(days=90), "public": timedelta(days=365), "internal": None}
        )
    )
    embed_batch_size: int = 64
    # HNSW build/search breadth: measured for top-10 recall >= 0.98 at 100k (benchmarks/).
    hnsw_ef_construction: int = 200
    hnsw_ef_search: int = 128
    hnsw_max_neighbors: int = 32
    log_level: str = "WARNING"
    embedder: str = "default"
    #: How the default model runs: "auto" (ONNX once exported, torch until then), "onnx", "torch".
    embed_backend: str = "auto"
    #: Compact an embedded store with deletions when it closes (see ``MemoryEngine.compact``).
    compact_on_close: bool = True
    #: Where namespaces live (``priomem._layout``): "shared" (small ones share a few
    #: collections; one past ``own_collection_at`` memories moves to its own) or "own"
    #: (a collection per namespace: for a Chroma that offers that cheaply, such as Chroma Cloud).
    namespace_layout: str = "shared"
    own_collection_at: int = 1000

    def __post_init__(self) -> None:
        for name in ("max_k", "max_list_limit", "max_content_chars", "embed_batch_size", "own_collection_at"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise InvalidInputError(f"settings.{name}: must be a positive integer, got {value!r}.")
        if self.embedder not in {"default", "hash"}:
            raise InvalidInputError(
                f"settings.embedder: {self.embedder!r} is unknown; use 'default' or 'hash'.", field="embedder"
            )
        if self.embed_backend not in {"auto", "onnx", "torch"}:
            raise InvalidInputError(
                f"settings.embed_backend: {self.embed_backend!r} is unknown; use 'auto', 'onnx' or 'torch' "
                "(PRIOMEM_EMBED_BACKEND).",
                field="embed_backend",
            )
        if self.namespace_layout not in {"shared", "own"}:
            raise InvalidInputError(
                f"settings.namespace_layout: {self.namespace_layout!r} is unknown; use 'shared' or 'own' "
                "(PRIOMEM_NAMESPACE_LAYOUT).",
                field="namespace_layout",
            )
        if self.path is not None and not isinstance(self.path, Path):
            object.__setattr__(self, "path", Path(self.path))

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied, checked like a new one. None clears an optional
        setting (``url``, ``path``, ``chroma_token``) and is refused for the others;
        :meth:`from_env` is where None means "not given"."""
        for name, value in changes.items():
            spec = _FIELDS.get(name)
            if spec is None:
                raise InvalidInputError(
                    f"settings: unknown setting {name!r}; known: {', '.join(sorted(_FIELDS))}.", field=name
                )
            if value is None and spec.default is not None:
                raise InvalidInputError(
                    f"settings.{name}: None is not a value here; give one, or leave {name} out to keep "
                    f"{getattr(self, name)!r}.",
                    field=name,
                )
        return replace(self, **changes)

    def ttl_for(self, priority: Priority) -> timedelta | None:
        """The default retention of ``priority``."""
        return self.retention.get(priority)

    def resolved_path(self) -> Path:
        return self.path if self.path is not None else default_store_path()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``PRIOMEM_*`` variables, then ``overrides`` (None ignored)."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}

        def get(name: str) -> str | None:
            raw = env.get("PRIOMEM_" + name)
            return raw.strip() if raw is not None and raw.strip() else None

        if (raw := get("PATH")) is not None:
            values["path"] = Path(raw).expanduser()
        if (raw := get("URL")) is not None:
            values["url"] = raw
        if (raw := get("CHROMA_TOKEN")) is not None:
            values["chroma_token"] = raw
        if (raw := get("NAMESPACE")) is not None:
            values["default_namespace"] = raw
        if (raw := get("LOG_LEVEL")) is not None:
            values["log_level"] = raw.upper()
        if (raw := get("EMBEDDER")) is not None:
            values["embedder"] = raw.lower()
        if (raw := get("EMBED_BACKEND")) is not None:
            values["embed_backend"] = raw.strip().lower()
        if (raw := get("NAMESPACE_LAYOUT")) is not None:
            values["namespace_layout"] = raw.lower()
        if (raw := get("HYBRID")) is not None:
            values["hybrid"] = parse_bool(raw, "PRIOMEM_HYBRID")
        if (raw := get("COMPACT_ON_CLOSE")) is not None:
            values["compact_on_close"] = parse_bool(raw, "PRIOMEM_COMPACT_ON_CLOSE")
        for name, example in (("CRITICAL_RESERVE", "0.15"), ("COMPLIANCE_RESERVE", "0.05")):
            if (raw := get(name)) is not None:
                try:
                    values[name.lower()] = float(raw)
                except ValueError:
                    raise InvalidInputError(
                        f"PRIOMEM_{name}: {raw!r} is not a number such as {example}."
                    ) from None
        for name, attr in (
            ("MAX_K", "max_k"),
            ("MAX_CONTENT_CHARS", "max_content_chars"),
            ("MAX_MEMORIES", "max_memories"),
            ("MAX_MEMORIES_TOTAL", "max_memories_total"),
            ("OWN_COLLECTION_AT", "own_collection_at"),
        ):
            if (raw := get(name)) is not None:
                values[attr] = _parse_int(raw, "PRIOMEM_" + name)
        retention = dict(DEFAULT_RETENTION)
        for priority in Priority:
            if (raw := get("TTL_" + priority.name)) is not None:
                retention[priority] = (
                    None
                    if raw.lower() in {"none", "never", "0"}
                    else parse_duration(raw, field="PRIOMEM_TTL_" + priority.name)
                )
        values["retention"] = MappingProxyType(retention)
        known = {f.name for f in fields(cls)}
        for key, value in overrides.items():
            if key not in known:
                raise InvalidInputError(
                    f"settings: unknown setting {key!r}; known: {', '.join(sorted(known))}."
                )
            if value is not None:
                values[key] = value
        return cls(**values)


#: The settings by name, with their defaults (for :meth:`Settings.replace`).
_FIELDS = {f.name: f for f in fields(Settings)}


def parse_bool(raw: str, name: str) -> bool:
    """``raw`` (an environment variable's text) as a boolean: true/false, yes/no, on/off, 1/0."""
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise InvalidInputError(f"{name}: {raw!r} is not a boolean; use true or false.", field=name)


def _parse_int(raw: str, name: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInputError(f"{name}: {raw!r} is not a whole number.", field=name) from None
    if value < 1:
        raise InvalidInputError(f"{name}: must be at least 1, got {value}.", field=name)
    return value
