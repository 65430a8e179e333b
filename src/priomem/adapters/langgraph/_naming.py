"""How LangGraph namespaces, keys and values are written into priomem memories.

A LangGraph namespace is a tuple of labels (any text without ``.`` or NUL); a priomem
namespace is 1-128 ASCII letters, digits and ``_ . - : @``. The mapping is::

    ("users", "alice")      ->  "lg.users.alice"
    ("memories", "Zoë 1")   ->  "lg.memories.Zo:c3:ab:201"

Letters, digits, ``_`` and ``-`` stand for themselves; every other character becomes
``:`` and the hex of each of its UTF-8 bytes; ``.`` separates labels. That is
reversible and collision-free. A namespace whose encoding would pass 128 characters
becomes ``lg@`` and the SHA-256 of its labels; its labels are then read back from the
memories it holds (each carries its namespace, key and value in metadata).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from typing import Any

from langgraph.store.base import InvalidNamespaceError

from priomem import InvalidInputError

__all__ = [
    "check_labels",
    "decode_namespace",
    "encode_namespace",
    "json_text",
    "key_tag",
    "safe_text",
    "validate_prefix",
]

_PLAIN = re.compile(r"[A-Za-z0-9_\-]")
_ESCAPE = re.compile(r":([0-9a-f]{2})")
_PREFIX = re.compile(r"^[A-Za-z0-9_\-]{1,32}$")
MAX_NAMESPACE = 128


def validate_prefix(prefix: str) -> str:
    """The store's namespace prefix: 1-32 ASCII letters, digits, ``_`` and ``-``."""
    if not isinstance(prefix, str) or not _PREFIX.match(prefix):
        raise InvalidInputError(
            f"prefix: {prefix!r} is not usable; use 1-32 ASCII letters, digits, _ and - (e.g. 'lg').",
            field="prefix",
        )
    return prefix


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _escape_label(label: str) -> str:
    return "".join(ch if _PLAIN.match(ch) else "".join(f":{b:02x}" for b in _utf8(ch)) for ch in label)


def _unescape_label(text: str) -> str | None:
    raw = bytearray()
    position = 0
    while position < len(text):
        ch = text[position]
        if ch == ":":
            match = _ESCAPE.match(text, position)
            if match is None:
                return None
            raw.append(int(match.group(1), 16))
            position = match.end()
        elif _PLAIN.match(ch):
            raw.extend(ch.encode("ascii"))
            position += 1
        else:
            return None
    try:
        label = raw.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return None
    # Only the canonical spelling decodes, so no two names map to one namespace.
    return label if label and _escape_label(label) == text else None


def check_labels(labels: tuple[str, ...]) -> None:
    """LangGraph's rule for namespace labels: non-empty text without ``.`` or NUL.

    ``BaseStore``'s methods check it, but ops handed straight to ``batch`` do not, and
    without it ``("a.b",)`` would address ``("a", "b")``.
    """
    for label in labels:
        if not isinstance(label, str) or not label or "." in label or "\x00" in label:
            raise InvalidNamespaceError(
                f"Invalid namespace label {label!r} in {labels!r}: labels are non-empty strings "
                "without periods ('.') or NUL bytes."
            )


def encode_namespace(prefix: str, namespace: tuple[str, ...]) -> str:
    """The priomem namespace that holds LangGraph ``namespace``."""
    readable = ".".join([prefix, *(_escape_label(label) for label in namespace)])
    if len(readable) <= MAX_NAMESPACE:
        return readable
    digest = hashlib.sha256(b"\x00".join(_utf8(label) for label in namespace)).hexdigest()
    return f"{prefix}@{digest}"


def decode_namespace(prefix: str, name: str) -> tuple[str, ...] | None:
    """The LangGraph namespace a readable priomem namespace holds.

    None when ``name`` is not one of this store's readable names (hashed names,
    ``prefix@...``, are resolved from the memories they hold).
    """
    if not name.startswith(prefix + "."):
        return None
    labels = []
    for part in name[len(prefix) + 1 :].split("."):
        label = _unescape_label(part)
        if label is None:
            return None
        labels.append(label)
    return tuple(labels)


def safe_text(text: str) -> str:
    """``text`` with what priomem refuses in content (control characters, lone
    surrogates) replaced by spaces; used for the searchable text only."""
    return "".join(
        " "
        if ch not in "\t\n\r" and (unicodedata.category(ch) == "Cc" or 0xD800 <= ord(ch) <= 0xDFFF)
        else ch
        for ch in text
    )


def json_text(value: Any, *, escape_spaces: bool = False) -> str:
    """JSON of ``value`` that priomem accepts as metadata or content and that
    ``json.loads`` turns back into ``value``.

    Control characters and lone surrogates are written as ``\\uXXXX`` escapes (and, with
    ``escape_spaces``, whitespace too, so whitespace-collapsing dedup cannot merge two
    different texts). Raises ``TypeError`` for values JSON cannot hold.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=False)
    return "".join(
        f"\\u{ord(ch):04x}"
        if unicodedata.category(ch) in ("Cc", "Cs") or (escape_spaces and ch.isspace())
        else ch
        for ch in text
    )


def key_tag(key: str) -> str:
    """The tag that finds the memory holding ``key`` (keys are any text; tags are not)."""
    return "lgk:" + hashlib.sha256(_utf8(key)).hexdigest()[:48]
