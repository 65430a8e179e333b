"""The error tree of priomem.

Every error priomem raises on purpose derives from :class:`PriomemError`, and every
message says what to do next::

    PriomemError
    ├── InvalidInputError (also ValueError)      bad argument: names the field
    │   └── InvalidPriorityError                 a priority that is not LOW..CRITICAL
    ├── WrongTypeError (also TypeError)          an argument of the wrong type
    ├── NotFoundError (also KeyError)            an id or namespace that does not exist
    ├── NamespaceNotAllowedError                 a namespace outside what a caller may use
    ├── QuotaExceededError                       a write that no eviction can make room for
    ├── StoreError                               the Chroma store failed or is unusable
    │   ├── StoreLockedError                     another process owns an embedded store
    │   ├── ModelMismatchError                   store written with another embedding model
    │   └── StoreUnavailableError                a Chroma server that does not answer
    ├── EmbeddingError                           the embedding model failed to load or run
    └── FormatError                              an export file priomem cannot read

Catch :class:`PriomemError` to handle all of them. Errors raised for bad input are
raised before anything is written, so a failed call never loses stored memories.
"""

from __future__ import annotations

__all__ = [
    "EmbeddingError",
    "FormatError",
    "InvalidInputError",
    "InvalidPriorityError",
    "ModelMismatchError",
    "NamespaceNotAllowedError",
    "NotFoundError",
    "PriomemError",
    "QuotaExceededError",
    "StoreError",
    "StoreLockedError",
    "StoreUnavailableError",
    "WrongTypeError",
]


class PriomemError(Exception):
    """Root of every error priomem raises on purpose.

    ``field`` names the argument at fault when there is one (``None`` otherwise).
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message


class InvalidInputError(PriomemError, ValueError):
    """An argument has an unusable value; the message names the field and the fix."""


class InvalidPriorityError(InvalidInputError):
    """A priority that is not one of LOW, MEDIUM, HIGH, CRITICAL (or 1..4)."""


class WrongTypeError(PriomemError, TypeError):
    """An argument has the wrong type; the message names the field and the type expected."""


class NotFoundError(PriomemError, KeyError):
    """An id or namespace that does not exist."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.message


class NamespaceNotAllowedError(PriomemError):
    """A namespace the caller (a token, a locked server) may not use."""


class QuotaExceededError(PriomemError):
    """A write that would exceed a quota when nothing may be evicted to make room."""


class StoreError(PriomemError):
    """The Chroma store failed, or cannot be used as it is."""


class StoreLockedError(StoreError):
    """Another process has the embedded store open."""


class ModelMismatchError(StoreError):
    """The store was written with another embedding model or dimension."""


class StoreUnavailableError(StoreError):
    """A Chroma server that cannot be reached.

    ``unsent``: True when the request cannot have reached it (the connection was refused
    or never made), so repeating the call cannot apply anything twice; False when it
    may have (a timeout: the server may have done the work before the answer was lost).
    """

    def __init__(self, message: str, *, field: str | None = None, unsent: bool = False) -> None:
        super().__init__(message, field=field)
        self.unsent = unsent


class EmbeddingError(PriomemError):
    """The embedding model failed to load or to embed."""


class FormatError(PriomemError):
    """An export file that priomem cannot read (corrupt, or a newer format version)."""
