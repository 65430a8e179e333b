"""Retention rules: how long a memory lives, by priority, explicit ttl and data classification.

A memory's lifetime counts from ``stored_at`` (when priomem stored it), never from
``created_at``, so importing old history does not expire it on arrival.

- A memory's own ``ttl`` comes first. Without one, the lifetime of its data
  classification (``metadata["classification"]``) applies: ``sensitive`` 90 days,
  ``public`` 365 days, ``internal`` none of its own; and without that, its priority's.
- Classification lifetimes are *defaults* a memory's own ttl may override, except those a
  policy names as *caps* (``caps``), which bound every lifetime, ttl included. By default
  only ``sensitive`` is a cap: a limit on how long personal or secret data is kept is a
  privacy rule (storage limitation) no single write should stretch, while a year for
  public data is housekeeping, and a writer who says "keep this 2 years" means it.
- Namespaces may override all three (``MemoryEngine.set_retention``); the rules in force
  apply to stored memories at once (``set_retention`` recomputes their expiry), not only
  to later writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from priomem._errors import InvalidInputError
from priomem._priority import Priority
from priomem._timeparse import parse_duration

__all__ = [
    "CLASSIFICATION_KEY",
    "DEFAULT_CLASSIFICATION_CAPS",
    "DEFAULT_CLASSIFICATION_TTL",
    "RetentionPolicy",
]

CLASSIFICATION_KEY = "classification"
DEFAULT_CLASSIFICATION_TTL: Mapping[str, timedelta | None] = MappingProxyType(
    {"sensitive": timedelta(days=90), "public": timedelta(days=365), "internal": None}
)
#: Classifications whose lifetime bounds a memory's own ttl too.
DEFAULT_CLASSIFICATION_CAPS: frozenset[str] = frozenset({"sensitive"})


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
    caps: frozenset[str] = DEFAULT_CLASSIFICATION_CAPS

    def expiry(
        self, priority: Priority, ttl: timedelta | None, metadata: Mapping[str, Any], stored_at: datetime
    ) -> datetime | None:
        """When a memory stored at ``stored_at`` expires (None: never)."""
        classification = metadata.get(CLASSIFICATION_KEY)
        name = classification.lower() if isinstance(classification, str) else None
        by_class = self.by_classification.get(name) if name is not None else None
        lifetime = (
            ttl if ttl is not None else by_class if by_class is not None else self.by_priority.get(priority)
        )
        if name in self.caps and by_class is not None:
            lifetime = by_class if lifetime is None else min(lifetime, by_class)
        return None if lifetime is None else stored_at + lifetime

    def with_overrides(self, overrides: Mapping[str, Any]) -> RetentionPolicy:
        """This policy with a namespace's stored overrides applied."""
        by_priority = dict(self.by_priority)
        for name, seconds in (overrides.get("priority") or {}).items():
            by_priority[Priority.parse(name)] = None if seconds is None else timedelta(seconds=float(seconds))
        by_class = dict(self.by_classification)
        for name, seconds in (overrides.get("classification") or {}).items():
            by_class[str(name).lower()] = None if seconds is None else timedelta(seconds=float(seconds))
        caps = self.caps if overrides.get("caps") is None else frozenset(overrides["caps"])
        return RetentionPolicy(MappingProxyType(by_priority), MappingProxyType(by_class), caps)

    @staticmethod
    def overrides(
        priority: Mapping[Any, Any] | None = None,
        classification: Mapping[str, Any] | None = None,
        caps: Any = None,
    ) -> dict[str, Any]:
        """Validated overrides, as stored: seconds or None, keyed by priority / class name;
        ``caps``: the classification names whose lifetime is a cap (None: unchanged)."""
        out: dict[str, Any] = {"priority": {}, "classification": {}}
        if caps is not None:
            if isinstance(caps, str | bytes) or not isinstance(caps, Iterable):
                raise InvalidInputError(
                    f"caps: a list of classification names such as ['sensitive'], got {caps!r}.", field="caps"
                )
            caps = list(caps)
            if not all(isinstance(c, str) and c.strip() for c in caps):
                raise InvalidInputError(
                    f"caps: a list of classification names such as ['sensitive'], got {caps!r}.", field="caps"
                )
            out["caps"] = sorted({c.strip().lower() for c in caps})
            if len(out["caps"]) > 64 or any(len(c) > 64 for c in out["caps"]):
                raise InvalidInputError("caps: at most 64 names of at most 64 characters.", field="caps")
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "caps": sorted(self.caps),
            "priority": {
                p.name: (None if t is None else t.total_seconds()) for p, t in self.by_priority.items()
            },
            "classification": {
                c: (None if t is None else t.total_seconds()) for c, t in self.by_classification.items()
            },
        }
