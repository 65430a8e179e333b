"""How a LangGraph item is written into one priomem memory, and read back.

The memory's content is the item's searchable text (the value's indexed fields) followed
by its key; its metadata holds, as JSON that priomem accepts, the key (``lg_key``), the
namespace (``lg_ns``), the value in chunks (``lg_v.0``, ``lg_v.1``, ... and their count
``lg_vn``), when the key was first put (``lg_created``), the TTL in minutes
(``lg_ttl``) and whether the item is indexed (``lg_indexed``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from langgraph.store.base import Item, PutOp, SearchItem, get_text_at_path

from priomem import InvalidInputError, Memory, Settings, WrongTypeError
from priomem.adapters.langgraph._naming import json_text, safe_text

__all__ = ["CHUNK", "StoredItem", "decode_item", "encode_item", "search_text"]

#: Characters of JSON per metadata field (priomem caps metadata strings at 8,192).
CHUNK = 8000
#: Metadata fields besides the value's chunks: lg_key, lg_ns, lg_created, lg_vn, lg_ttl, lg_indexed.
OWN_FIELDS = 6


@dataclass(frozen=True, slots=True)
class StoredItem:
    """A memory that holds a LangGraph item, decoded."""

    memory: Memory
    namespace: tuple[str, ...]
    key: str
    value: dict[str, Any]
    created_at: datetime
    ttl: float | None
    indexed: bool

    def item(self) -> Item:
        """As a LangGraph ``Item``."""
        return Item(
            value=self.value,
            key=self.key,
            namespace=self.namespace,
            created_at=self.created_at,
            updated_at=self.memory.stored_at,
        )

    def search_item(self, score: float | None) -> SearchItem:
        """As a LangGraph ``SearchItem`` with ``score``."""
        return SearchItem(
            namespace=self.namespace,
            key=self.key,
            value=self.value,
            created_at=self.created_at,
            updated_at=self.memory.stored_at,
            score=score,
        )


def decode_item(memory: Memory) -> StoredItem | None:
    """The item a memory holds, or None when a PriomemStore did not write it."""
    meta = memory.metadata
    try:
        value = json.loads("".join(str(meta[f"lg_v.{i}"]) for i in range(int(meta["lg_vn"]))))
        key = json.loads(str(meta["lg_key"]))
        labels = json.loads(str(meta["lg_ns"]))
        created = datetime.fromtimestamp(float(meta["lg_created"]), tz=UTC)
    except (KeyError, TypeError, ValueError):
        return None  # not written by a PriomemStore
    if not isinstance(value, dict) or not isinstance(key, str) or not isinstance(labels, list):
        return None
    ttl = meta.get("lg_ttl")
    return StoredItem(
        memory=memory,
        namespace=tuple(str(label) for label in labels),
        key=key,
        value=value,
        created_at=created,
        ttl=float(ttl) if isinstance(ttl, int | float) and not isinstance(ttl, bool) else None,
        indexed=bool(meta.get("lg_indexed", True)),
    )


def encode_item(op: PutOp, *, fields: tuple[str, ...], settings: Settings) -> tuple[str, dict[str, Any]]:
    """The content and metadata of the memory that holds ``op``; checked before any write."""
    if not isinstance(op.value, Mapping):
        raise WrongTypeError(f"value: expected a dict, got {type(op.value).__name__}.", field="value")
    if op.ttl is not None and (
        isinstance(op.ttl, bool) or not isinstance(op.ttl, int | float) or not op.ttl > 0
    ):
        raise InvalidInputError(
            f"ttl: {op.ttl!r} is not a positive number of minutes; use e.g. 60, or None to keep.",
            field="ttl",
        )
    value = dict(op.value)
    try:
        value_json = json_text(value)
    except (TypeError, ValueError) as exc:
        raise WrongTypeError(
            f"value: cannot be stored as JSON ({exc}); use dicts, lists, strings, numbers, "
            "booleans and None.",
            field="value",
        ) from None
    key_json = json_text(op.key)
    if len(key_json) > CHUNK:
        raise InvalidInputError(f"key: over {CHUNK:,} characters; use a shorter key.", field="key")
    chunks = [value_json[i : i + CHUNK] for i in range(0, len(value_json), CHUNK)]
    room = settings.max_metadata_keys - OWN_FIELDS
    if len(chunks) > room:
        raise InvalidInputError(
            f"value: {len(value_json):,} characters of JSON is over this store's limit of "
            f"{room * CHUNK:,}; keep large blobs elsewhere and store a reference to them.",
            field="value",
        )
    metadata: dict[str, Any] = {
        "lg_key": key_json,
        "lg_ns": json_text(list(op.namespace)),
        "lg_vn": len(chunks),
        "lg_indexed": op.index is not False,
        **{f"lg_v.{i}": chunk for i, chunk in enumerate(chunks)},
    }
    if op.ttl is not None:
        metadata["lg_ttl"] = float(op.ttl)
    # The key makes the content unique in its namespace, so two keys with equal values
    # stay two memories (priomem merges equal content); it is written without spaces.
    label = f"[key {json_text(op.key, escape_spaces=True)}]"
    text = safe_text(search_text(value, op.index, fields)).strip()
    room_chars = settings.max_content_chars - len(label) - 1
    content = f"{text[:room_chars]}\n{label}" if text else label
    return content, metadata


def search_text(value: dict[str, Any], index: Any, fields: tuple[str, ...]) -> str:
    """The text of ``value`` that recall searches: its ``index`` paths, or ``fields``."""
    if index is False:
        return ""
    paths = fields if index is None else tuple(index)
    return "\n".join(text for path in paths for text in get_text_at_path(value, path))
