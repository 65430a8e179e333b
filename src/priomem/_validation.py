"""Validation of everything that crosses the public API, with messages naming the field.

Every check runs before anything is written, so a refused call leaves the store as it was.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from priomem._errors import InvalidInputError, WrongTypeError
from priomem._models import MetadataValue
from priomem._records import MAX_VALUE_BYTES, value_size

__all__ = [
    "MAX_DATASETS",
    "MAX_REFS",
    "content_hash",
    "validate_content",
    "validate_dataset",
    "validate_datasets",
    "validate_id",
    "validate_ids",
    "validate_k",
    "validate_metadata",
    "validate_namespace",
    "validate_stored_lists",
    "validate_tags",
    "validate_thread",
    "within_a_value",
]

NAMESPACE_RE = re.compile(r"^[A-Za-z0-9_.\-:@]{1,128}$")
METADATA_KEY_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}$")
ID_RE = re.compile(r"^[A-Za-z0-9_.\-:]{1,128}$")
THREAD_RE = re.compile(r"[A-Za-z0-9_.\-:@/#+=]{1,128}")
_TAG_EXTRA = set("-_.:/@#+")
MAX_TAG_CHARS = 64
#: Related ids a memory may carry (``refs``).
MAX_REFS = 64
#: Datasets a memory may name as read, and as written (each a Chroma metadata list).
MAX_DATASETS = 32
MAX_DATASET_CHARS = 256
#: A password in a URI's authority (``scheme://user:secret@host``).
_URI_PASSWORD = re.compile(r"://[^/@\s]*:[^/@\s]*@")
MAX_METADATA_STR = 8192
_INT64 = 2**63 - 1
_WS = re.compile(r"\s+")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 50 else text[:47] + "..."


def _check_text(text: str, field: str) -> None:
    """Refuse lone surrogates, NUL and other control characters (tab and newlines allowed)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError(
            f"{field}: contains a lone surrogate (invalid Unicode); send valid UTF-8 text.",
            field=field,
        ) from None
    for ch in text:
        if ch in "\t\n\r":
            continue
        if unicodedata.category(ch) == "Cc":
            raise InvalidInputError(
                f"{field}: contains the control character U+{ord(ch):04X}; remove control characters "
                "(tab and newlines are fine).",
                field=field,
            )


def validate_namespace(value: Any, field: str = "namespace") -> str:
    """1-128 ASCII letters, digits and ``_ . - : @``."""
    if not isinstance(value, str):
        raise WrongTypeError(f"{field}: expected a string, got {type(value).__name__}.", field=field)
    if not NAMESPACE_RE.fullmatch(value):
        raise InvalidInputError(
            f"{field}: {_short(value)} is not a valid namespace; use 1-128 ASCII letters, digits "
            "and _ . - : @ (for example 'user:alice' or 'agent-7').",
            field=field,
        )
    return value


def validate_thread(value: Any, field: str = "thread") -> str | None:
    """None, or 1-128 ASCII letters, digits and ``_ . - : @ / # + =`` (a conversation id)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise WrongTypeError(f"{field}: expected a string, got {type(value).__name__}.", field=field)
    if not THREAD_RE.fullmatch(value):
        raise InvalidInputError(
            f"{field}: {_short(value)} is not a valid thread; use 1-128 ASCII letters, digits and "
            "_ . - : @ / # + = (a conversation or session id, for example 'chat-2024-03-02').",
            field=field,
        )
    return value


def validate_content(value: Any, max_chars: int, field: str = "content") -> str:
    """Non-blank text of at most ``max_chars`` characters; surrounding whitespace is stripped."""
    if not isinstance(value, str):
        raise WrongTypeError(f"{field}: expected a string, got {type(value).__name__}.", field=field)
    if len(value) > max_chars:
        raise InvalidInputError(
            f"{field}: {len(value):,} characters is over the limit of {max_chars:,}; split it into "
            "smaller memories (or raise PRIOMEM_MAX_CONTENT_CHARS).",
            field=field,
        )
    text = value.strip()
    if not text:
        raise InvalidInputError(
            f"{field}: is empty or only whitespace; give the text to remember.", field=field
        )
    _check_text(text, field)
    return text


def content_hash(text: str, thread: str | None = None) -> str:
    """Hash of ``text`` with runs of whitespace collapsed: equal hashes mean duplicates.

    A turn of a thread is a duplicate only of the same text in the same thread ("Yes!" in
    two conversations are two turns, each with its own context).
    """
    collapsed = _WS.sub(" ", text).strip()
    if thread is not None:
        collapsed = f"{thread}\x00{collapsed}"
    return hashlib.sha256(collapsed.encode("utf-8")).hexdigest()[:32]


def validate_tags(value: Any, max_tags: int, field: str = "tags") -> tuple[str, ...]:
    """A sequence of 1-64 character tags: letters, digits and ``- _ . : / @ # +``; deduplicated."""
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Iterable) or isinstance(value, Mapping):
        raise WrongTypeError(
            f"{field}: expected a list of strings (for example ['etl', 'sla']), got {type(value).__name__}.",
            field=field,
        )
    tags: list[str] = []
    for tag in value:
        if not isinstance(tag, str):
            raise WrongTypeError(
                f"{field}: every tag must be a string, got {type(tag).__name__}.", field=field
            )
        text = tag.strip()
        if (
            not 1 <= len(text) <= MAX_TAG_CHARS
            or not all(ch.isalnum() or ch in _TAG_EXTRA for ch in text)
            or text[0] in "$"
        ):
            raise InvalidInputError(
                f"{field}: {_short(tag)} is not a valid tag; use 1-64 letters, digits and - _ . : / @ # +.",
                field=field,
            )
        _check_text(text, field)
        if text not in tags:
            tags.append(text)
    if len(tags) > max_tags:
        raise InvalidInputError(f"{field}: {len(tags)} tags is over the limit of {max_tags}.", field=field)
    return tuple(tags)


def validate_metadata(value: Any, max_keys: int, field: str = "metadata") -> dict[str, MetadataValue]:
    """A flat mapping of str keys to str, int, float (finite) or bool values."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise WrongTypeError(
            f"{field}: expected a mapping of flat values, got {type(value).__name__}.", field=field
        )
    if len(value) > max_keys:
        raise InvalidInputError(f"{field}: {len(value)} keys is over the limit of {max_keys}.", field=field)
    result: dict[str, MetadataValue] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not METADATA_KEY_RE.fullmatch(key):
            raise InvalidInputError(
                f"{field}: key {_short(key)} is not valid; use 1-64 ASCII letters, digits, _ . - "
                "(not starting with . or -).",
                field=field,
            )
        name = f"{field}.{key}"
        if isinstance(item, bool):
            result[key] = item
        elif isinstance(item, int):
            if abs(item) > _INT64:
                raise InvalidInputError(
                    f"{name}: {item} does not fit in 64 bits; store it as a string.", field=name
                )
            result[key] = item
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise InvalidInputError(
                    f"{name}: {item} is not a finite number; use a finite value or a string.",
                    field=name,
                )
            result[key] = item
        elif isinstance(item, str):
            if len(item) > MAX_METADATA_STR:
                raise InvalidInputError(
                    f"{name}: over {MAX_METADATA_STR} characters; put long text in content.",
                    field=name,
                )
            _check_text(item, name)
            result[key] = item
        else:
            raise WrongTypeError(
                f"{name}: {type(item).__name__} values are not allowed; use a string, number or "
                "boolean (flatten nested values into separate keys).",
                field=name,
            )
    return result


def validate_id(value: Any, field: str = "id") -> str:
    if not isinstance(value, str):
        raise WrongTypeError(f"{field}: expected a string id, got {type(value).__name__}.", field=field)
    if not ID_RE.fullmatch(value):
        hint = (
            " To record that a memory read or wrote a dataset, use reads= or writes= (its lineage)."
            if "://" in value
            else ""
        )
        raise InvalidInputError(
            f"{field}: {_short(value)} is not a memory id; ids are 1-128 letters, digits and _ . - :.{hint}",
            field=field,
        )
    return value


def validate_ids(value: Any, field: str = "ids", max_count: int | None = None) -> tuple[str, ...]:
    """Distinct memory ids; with ``max_count``, at most that many (refs are stored as one
    Chroma metadata list, and a list of a few thousand entries breaks a collection)."""
    if isinstance(value, str) or not isinstance(value, Iterable) or isinstance(value, Mapping):
        raise WrongTypeError(f"{field}: expected a list of ids, got {type(value).__name__}.", field=field)
    ids = tuple(dict.fromkeys(validate_id(v, field) for v in value))
    if max_count is not None and len(ids) > max_count:
        raise InvalidInputError(
            f"{field}: {len(ids)} ids is over the limit of {max_count}; keep the closest relations "
            "(or record the rest in one memory of their own).",
            field=field,
        )
    return ids


def validate_stored_lists(
    tags: tuple[str, ...],
    refs: tuple[str, ...],
    reads: tuple[str, ...],
    writes: tuple[str, ...],
    prefix: str = "",
) -> None:
    """Each list a record stores and filters by fits one metadata value (4,096 bytes as
    JSON: Chroma Cloud's limit); reads and writes are also stored together."""
    for field, values in (
        ("tags", tags),
        ("refs", refs),
        ("reads and writes", tuple(dict.fromkeys(reads + writes))),
    ):
        size = value_size(list(values))
        if size > MAX_VALUE_BYTES:
            raise InvalidInputError(
                f"{prefix}{field}: {size:,} bytes together is over the {MAX_VALUE_BYTES:,} a stored list "
                "can hold; name fewer or shorter ones.",
                field=prefix + field.split()[0],
            )


def within_a_value(values: Sequence[str]) -> tuple[str, ...]:
    """The first of ``values`` that fit one stored list (see :func:`validate_stored_lists`)."""
    kept: list[str] = []
    for value in values:
        if value_size([*kept, value]) > MAX_VALUE_BYTES:
            break
        kept.append(value)
    return tuple(kept)


def validate_dataset(value: Any, field: str = "dataset") -> str:
    """One dataset, table or job name, 1-256 characters, kept as given: a URI
    (``s3://lake/orders``, ``jdbc:postgresql://host/db``, ``urn:li:dataset:...``), a path
    (``/data/raw/orders.parquet``) or a dotted name (``raw.orders``, ``project:dataset.table``,
    ``schema."Order Items"``). Spaces only inside double quotes; no control or invisible
    formatting characters; no password in a URI."""
    if not isinstance(value, str):
        raise WrongTypeError(
            f"{field}: expected a dataset name such as 'raw.orders' or 's3://lake/orders', got "
            f"{type(value).__name__}.",
            field=field,
        )
    text = value.strip()
    unquoted = "".join(part for i, part in enumerate(text.split('"')) if i % 2 == 0)
    if (
        not 1 <= len(text) <= MAX_DATASET_CHARS
        or text.count('"') % 2
        or any(ch.isspace() for ch in unquoted)
        or any(ch in "\t\n\r" or unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} for ch in text)
        or not any(ch.isalnum() for ch in text)
    ):
        raise InvalidInputError(
            f"{field}: {_short(value)} is not a dataset name; use a URI (s3://lake/orders), a path or a "
            'dotted name (raw.orders, schema."Order Items"): at most 256 characters, spaces only inside '
            "double quotes, no control characters.",
            field=field,
        )
    if _URI_PASSWORD.search(text):
        raise InvalidInputError(
            f"{field}: the URI carries a password; name the dataset without credentials "
            "(postgres://host/db), they would be stored and shown with every memory.",
            field=field,
        )
    _check_text(text, field)
    return text


def validate_datasets(value: Any, field: str) -> tuple[str, ...]:
    """Distinct dataset names (see :func:`validate_dataset`), at most :data:`MAX_DATASETS`."""
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Iterable) or isinstance(value, Mapping):
        raise WrongTypeError(
            f"{field}: expected a list of dataset names (for example ['raw.orders']), got {type(value).__name__}.",
            field=field,
        )
    names = tuple(dict.fromkeys(validate_dataset(v, field) for v in value))
    if len(names) > MAX_DATASETS:
        raise InvalidInputError(
            f"{field}: {len(names)} datasets is over the limit of {MAX_DATASETS}; name the direct ones.",
            field=field,
        )
    return names


def validate_k(value: Any, max_k: int, field: str = "k") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise WrongTypeError(f"{field}: expected a whole number, got {type(value).__name__}.", field=field)
    if not 1 <= value <= max_k:
        raise InvalidInputError(
            f"{field}: {value} is out of range; use a number from 1 to {max_k}.", field=field
        )
    return value


def validate_limit(value: Any, maximum: int, field: str = "limit", minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise WrongTypeError(f"{field}: expected a whole number, got {type(value).__name__}.", field=field)
    if not minimum <= value <= maximum:
        raise InvalidInputError(f"{field}: {value} is out of range; use {minimum} to {maximum}.", field=field)
    return value
