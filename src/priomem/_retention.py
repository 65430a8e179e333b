"""Retention rules: how long a memory lives, by priority, explicit ttl and data classification.

A memory's lifetime counts from ``stored_at`` (when priomem stored it), never from
``created_at``, so importing old history does not expire it on arrival.

- The priority's retention applies unless the memory has its own ``ttl``.
- A data classification in ``metadata["classification"]`` caps the lifetime whatever the
  priority or ttl: ``sensitive`` at most 90 days, ``public`` at most 365 days, ``internal``
  unlimited unless configured.
- Namespaces may override both tables (``MemoryEngine.set_retention``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from priomem._errors import InvalidInputError
from priomem._priority import Priority
from priomem._timeparse import parse_duration

__all__ = ["CLASSIFICATION_KEY", "DEFAULT_CLASSIFICATION_TTL", "RetentionPolicy"]

CLASSIFICATION_KEY = "classification"
DEFAULT_CLASSIFICATION_TTL: Mapping[str, timedelta | None] = MappingProxyType(
    {"sensitive": timedelta(days=90), "public": timedelta(days=365), "internal": None}
)


def _duration(value: Any, field_name: str) -> timedelta | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in {"none", "never"}):
        return None
    return parse_duration(value, field=field_name)


@dataclass(frozen=True)
class RetentionPolicy:
    """Retention by priority and by classification; None keeps memories until forgotten."""

    by_priority: Mapping[Priority, timedelta | None]
    by_classification: Mapping[str, timedelta | None] = field(
        default_factory=lambda: DEFAULT_CLASSIFICATION_TTL
    )

    def expiry(
        self, priority: Priority, ttl: timedelta | None, metadata: Mapping[str, Any], stored_at: datetime
    ) -> datetime | None:
        """When a memory stored at ``stored_at`` expires (None: never)."""
        lifetime = ttl if ttl is not None else self.by_priority.get(priority)
        classification = metadata.get(CLASSIFICATION_KEY)
        if isinstance(classification, str):
            cap = self.by_classification.get(classification.lower())
            if cap is not None:
                lifetime = cap if lifetime is None else min(lifetime, cap)
        return None if lifetime is None else stored_at + lifetime

    def with_overrides(self, overrides: Mapping[str, Any]) -> RetentionPolicy:
        """This policy with a namespace's stored overrides applied."""
        by_priority = dict(self.by_priority)
        for name, seconds in (overrides.get("priority") or {}).items():
            by_priority[Priority.parse(name)] = None if seconds is None else timedelta(seconds=float(seconds))
        by_class = dict(self.by_classification)
        for name, seconds in (overrides.get("classification") or {}).items():
            by_class[str(name).lower()] = None if seconds is None else timedelta(seconds=float(seconds))
        return RetentionPolicy(MappingProxyType(by_priority), MappingProxyType(by_class))

    @staticmethod
    def overrides(
        priority: Mapping[Any, Any] | None = None, classification: Mapping[str, Any] | None = None
    ) -> dict[str, dict[str, float | None]]:
        """Validated overrides, as stored: seconds or None, keyed by priority / class name."""
        out: dict[str, dict[str, float | None]] = {"priority": {}, "classification": {}}
        for key, value in (priority or {}).items():
            ttl = _duration(value, f"priority.{key}")
            out["priority"][Priority.parse(key).name] = None if ttl is None else ttl.total_seconds()
        for key, value in (classification or {}).items():
            if not isinstance(key, str) or not key.strip() or len(key) > 64:
                raise InvalidInputError(
                    f"classification: {key!r} is not a classification name.", field="classification"
                )
            ttl = _duration(value, f"classification.{key}")
            out["classification"][key.strip().lower()] = None if ttl is None else ttl.total_seconds()
        return out

    def to_dict(self) -> dict[str, dict[str, float | None]]:
        return {
            "priority": {
                p.name: (None if t is None else t.total_seconds()) for p, t in self.by_priority.items()
            },
            "classification": {
                c: (None if t is None else t.total_seconds()) for c, t in self.by_classification.items()
            },
        }
