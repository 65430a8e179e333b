"""Validated write requests: what ``remember`` and ``remember_many`` accept, checked whole
before anything is written."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from priomem._errors import InvalidInputError, WrongTypeError
from priomem._priority import Priority
from priomem._settings import Settings
from priomem._timeparse import parse_duration, parse_time
from priomem._validation import (
    MAX_REFS,
    content_hash,
    validate_content,
    validate_datasets,
    validate_ids,
    validate_metadata,
    validate_namespace,
    validate_stored_lists,
    validate_tags,
    validate_thread,
)

__all__ = ["REMEMBER_KEYS", "Item", "prepare_item", "prepare_items"]

REMEMBER_KEYS = frozenset(
    {
        "content",
        "priority",
        "namespace",
        "tags",
        "metadata",
        "ttl",
        "created_at",
        "refs",
        "thread",
        "reads",
        "writes",
    }
)


@dataclass(frozen=True, slots=True)
class Item:
    """A validated remember request."""

    content: str
    priority: Priority
    namespace: str
    tags: tuple[str, ...]
    metadata: dict[str, Any]
    ttl: timedelta | None
    created_at: datetime | None
    refs: tuple[str, ...]
    hash: str
    thread: str | None = None
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()


def prepare_item(
    settings: Settings,
    content: Any,
    *,
    priority: Any = Priority.MEDIUM,
    namespace: Any = None,
    tags: Any = (),
    metadata: Any = None,
    ttl: Any = None,
    created_at: Any = None,
    refs: Any = (),
    thread: Any = None,
    reads: Any = (),
    writes: Any = (),
) -> Item:
    """One request, validated (raises a :class:`PriomemError` naming the field)."""
    text = validate_content(content, settings.max_content_chars)
    thread_id = validate_thread(thread)
    item = Item(
        content=text,
        priority=Priority.parse(priority),
        namespace=validate_namespace(settings.default_namespace if namespace is None else namespace),
        tags=validate_tags(tags, settings.max_tags),
        metadata=validate_metadata(metadata, settings.max_metadata_keys),
        ttl=None if ttl is None else parse_duration(ttl, field="ttl"),
        created_at=None if created_at is None else parse_time(created_at, field="created_at"),
        refs=validate_ids(refs or (), field="refs", max_count=MAX_REFS),
        hash=content_hash(text, thread_id),
        thread=thread_id,
        reads=validate_datasets(reads, "reads"),
        writes=validate_datasets(writes, "writes"),
    )
    validate_stored_lists(item.tags, item.refs, item.reads, item.writes)
    return item


def prepare_items(settings: Settings, items: Iterable[Mapping[str, Any]]) -> list[Item]:
    """Every request of a batch, validated; the error names the item's index and field."""
    prepared: list[Item] = []
    for index, raw in enumerate(items):
        if not isinstance(raw, Mapping):
            raise WrongTypeError(
                f"items[{index}]: expected a mapping such as {{'content': ...}}, got {type(raw).__name__}.",
                field=f"items[{index}]",
            )
        unknown = set(raw) - REMEMBER_KEYS
        if unknown:
            raise InvalidInputError(
                f"items[{index}]: unknown keys {sorted(map(str, unknown))}; allowed: {sorted(REMEMBER_KEYS)}.",
                field=f"items[{index}]",
            )
        if "content" not in raw:
            raise InvalidInputError(f"items[{index}]: 'content' is missing.", field=f"items[{index}].content")
        try:
            prepared.append(prepare_item(settings, **raw))
        except (InvalidInputError, WrongTypeError) as exc:
            raise type(exc)(f"items[{index}].{exc.message}", field=f"items[{index}].{exc.field}") from None
    return prepared
