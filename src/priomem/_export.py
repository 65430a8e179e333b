"""Snapshots: export to JSON Lines and import back, with format migration.

Format (version 2): the first line is a header
``{"format": "priomem-export", "version": 2, "model": ..., "dimension": ..., "created_at": ...,
"namespaces": [...]}``; every further line is one memory with every field of
:meth:`Memory.to_dict` (plus ``"embedding"`` when exported with embeddings).

Version 1 (the layout of priomem's first exports, still accepted on import): a header
without ``model``/``dimension``, and memories with ``text`` for the content, ``priority``
as a number, and times as epoch seconds (``created``, ``stored``, ``expires``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from priomem import _context
from priomem._errors import FormatError, InvalidInputError
from priomem._models import Memory
from priomem._priority import Priority
from priomem._progress import bar as _progress
from priomem._records import decode, encode, epoch, from_epoch
from priomem._timeparse import parse_time, utcnow
from priomem._validation import (
    MAX_REFS,
    content_hash,
    validate_content,
    validate_datasets,
    validate_id,
    validate_ids,
    validate_metadata,
    validate_namespace,
    validate_stored_lists,
    validate_tags,
    validate_thread,
)

if TYPE_CHECKING:
    from priomem._core import EngineCore

__all__ = ["FORMAT", "FORMAT_VERSION", "ImportReport", "export_memories", "import_memories"]

log = logging.getLogger("priomem")

FORMAT = "priomem-export"
FORMAT_VERSION = 2
BATCH = 256


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did."""

    count: int
    reembedded: int
    namespaces: tuple[str, ...]
    source_version: int
    #: Ids of memories not stored: their namespace's or the store's quota had no room and
    #: nothing the rules allow could be evicted for them (see ``set_quota``).
    refused: tuple[str, ...] = ()
    #: Ids of memories evicted to make room, by the same rules as any write.
    evicted: tuple[str, ...] = ()


def export_memories(
    core: EngineCore,
    dest: str | Path | IO[str],
    *,
    namespace: str | None = None,
    include_embeddings: bool = False,
    progress: bool = False,
) -> int:
    """Write the store (or one namespace) as JSON Lines; returns how many memories."""
    store = core.store
    namespaces = [core.namespace(namespace)] if namespace is not None else core.store.namespaces()
    header = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "model": core.embedder.name,
        "dimension": core.embedder.dimension,
        "created_at": utcnow().isoformat(),
        "namespaces": namespaces,
        "embeddings": include_embeddings,
    }
    own = not hasattr(dest, "write")
    handle: IO[str] = open(dest, "w", encoding="utf-8") if own else dest  # type: ignore[arg-type,assignment]  # noqa: SIM115
    count = 0
    try:
        handle.write(json.dumps(header) + "\n")
        bar = _progress(sum(store.count(ns) for ns in namespaces), "export", progress)
        for ns in namespaces:
            rows = store.get(ns, embeddings=include_embeddings)
            rows.sort(key=lambda r: r.id)
            for row in rows:
                record = decode(row.id, row.document, row.metadata, ns).to_dict()
                if include_embeddings and row.embedding is not None:
                    record["embedding"] = [round(float(x), 7) for x in row.embedding]
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                count += 1
                bar.update(1)
        bar.close()
    finally:
        if own:
            handle.close()
    return count


def _lines(src: str | Path | IO[str]) -> Iterator[tuple[int, str]]:
    if hasattr(src, "read"):
        yield from enumerate(src, start=1)  # type: ignore[arg-type]
        return
    try:
        handle = open(src, encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise InvalidInputError(
            f"src: cannot read {src}: {exc.strerror}; check the path.", field="src"
        ) from None
    with handle:
        yield from enumerate(handle, start=1)


def _migrate_v1(record: Mapping[str, Any]) -> dict[str, Any]:
    """A version-1 record in the version-2 shape."""
    out = dict(record)
    if "text" in out and "content" not in out:
        out["content"] = out.pop("text")
    if isinstance(out.get("priority"), int):
        out["priority"] = Priority.parse(out["priority"]).name
    for old, new in (
        ("created", "created_at"),
        ("stored", "stored_at"),
        ("expires", "expires_at"),
        ("accessed", "last_accessed_at"),
    ):
        if old in out:
            value = out.pop(old)
            out[new] = None if value is None else from_epoch(float(value)).isoformat()
    return out


def _opt_time(value: Any, field: str) -> Any:
    return None if value is None else parse_time(value, field=field)


def _memory(record: Mapping[str, Any], line: int, namespace_override: str | None, max_chars: int) -> Memory:
    where = f"line {line}"
    try:
        content = validate_content(record["content"], max_chars, field=f"{where}.content")
        thread = validate_thread(record.get("thread"), field=f"{where}.thread")
        ttl = record.get("ttl_seconds")
        memory = Memory(
            id=validate_id(record["id"], field=f"{where}.id"),
            content=content,
            priority=Priority.parse(record.get("priority", "MEDIUM"), field=f"{where}.priority"),
            namespace=validate_namespace(
                namespace_override or record.get("namespace") or "default", field=f"{where}.namespace"
            ),
            tags=validate_tags(record.get("tags") or (), 10_000, field=f"{where}.tags"),
            metadata=validate_metadata(record.get("metadata") or {}, 10_000, field=f"{where}.metadata"),
            created_at=parse_time(record["created_at"], field=f"{where}.created_at"),
            stored_at=_opt_time(record.get("stored_at"), f"{where}.stored_at") or utcnow(),
            last_accessed_at=_opt_time(record.get("last_accessed_at"), f"{where}.last_accessed_at"),
            access_count=int(record.get("access_count", 0)),
            expires_at=_opt_time(record.get("expires_at"), f"{where}.expires_at"),
            refs=validate_ids(record.get("refs") or (), field=f"{where}.refs", max_count=MAX_REFS),
            consolidated_from=validate_ids(
                record.get("consolidated_from") or (), field=f"{where}.consolidated_from"
            ),
            content_hash=content_hash(content, thread),
            ttl=None if not ttl else timedelta(seconds=float(ttl)),
            thread=thread,
            reads=validate_datasets(record.get("reads") or (), f"{where}.reads"),
            writes=validate_datasets(record.get("writes") or (), f"{where}.writes"),
        )
        validate_stored_lists(memory.tags, memory.refs, memory.reads, memory.writes, prefix=f"{where}.")
        return memory
    except KeyError as exc:
        raise FormatError(
            f"{where}: the field {exc.args[0]!r} is missing; is this a priomem export?"
        ) from None
    except (TypeError, ValueError) as exc:
        raise FormatError(f"{where}: {exc}") from None


def import_memories(
    core: EngineCore,
    src: str | Path | IO[str],
    *,
    reembed: str = "auto",
    namespace: str | None = None,
    progress: bool = False,
) -> ImportReport:
    """Restore an export: every field and id preserved. Returns an :class:`ImportReport`.

    ``reembed``: ``"auto"`` reuses exported embeddings when the export was made with the
    same model and dimension, else embeds again; ``"always"`` always embeds; ``"never"``
    requires reusable embeddings. ``namespace`` puts everything into one namespace.
    The whole file is validated before anything is written. Quotas apply as to any write
    (evicting by the same rules); memories that cannot be stored under them are skipped and
    named in :attr:`ImportReport.refused`.
    """
    if reembed not in {"auto", "always", "never"}:
        raise InvalidInputError(f"reembed: {reembed!r}; use auto, always or never.", field="reembed")
    target = core.namespace(namespace) if namespace is not None else None
    lines = _lines(src)
    try:
        number, first = next(lines)
    except StopIteration:
        raise FormatError("the export is empty: it has no header line.") from None
    try:
        header = json.loads(first)
    except json.JSONDecodeError:
        raise FormatError("line 1 is not JSON; a priomem export starts with a JSON header line.") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise FormatError("line 1 is not a priomem export header (format 'priomem-export').")
    version = header.get("version")
    if not isinstance(version, int) or version < 1:
        raise FormatError(f"the export's version {version!r} is not valid.")
    if version > FORMAT_VERSION:
        raise FormatError(
            f"the export has format version {version}, newer than this priomem reads ({FORMAT_VERSION}); upgrade priomem."
        )
    same_model = (
        header.get("model") == core.embedder.name and header.get("dimension") == core.embedder.dimension
    )
    memories: list[Memory] = []
    vectors: list[np.ndarray | None] = []
    for number, line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise FormatError(f"line {number}: not JSON ({exc.msg}).") from None
        if not isinstance(record, dict):
            raise FormatError(f"line {number}: expected a JSON object.")
        if version == 1:
            record = _migrate_v1(record)
        memories.append(_memory(record, number, target, core.settings.max_content_chars))
        embedding = record.get("embedding")
        usable = (
            reembed != "always"
            and same_model
            and isinstance(embedding, list)
            and len(embedding) == core.embedder.dimension
        )
        vectors.append(np.asarray(embedding, dtype=np.float32) if usable else None)
    if reembed == "never" and any(v is None for v in vectors):
        raise InvalidInputError(
            "reembed='never' but the export lacks usable embeddings (another model, or exported without them); "
            "use reembed='auto'.",
            field="reembed",
        )
    # Oldest first, so each turn of a thread is linked to the turns before it.
    order = sorted(range(len(memories)), key=lambda i: (memories[i].created_at, memories[i].id))
    memories = [memories[i] for i in order]
    vectors = [vectors[i] for i in order]
    if progress and any(v is None for v in vectors):
        warm_up = getattr(core.embedder, "warm_up", None)
        if warm_up is not None:
            warm_up()  # the model loads before the bar starts, saying so
    bar = _progress(len(memories), "import", progress)
    reembedded = 0
    namespaces: dict[str, None] = {}
    refused: list[str] = []
    evicted: list[str] = []
    for start in range(0, len(memories), BATCH):
        chunk = memories[start : start + BATCH]
        chunk_vectors = vectors[start : start + BATCH]
        missing = [i for i, v in enumerate(chunk_vectors) if v is None]
        if missing:
            fresh = core.embed_documents([chunk[i].content for i in missing])
            for j, i in enumerate(missing):
                chunk_vectors[i] = fresh[j]
            reembedded += len(missing)
        by_ns: dict[str, list[int]] = {}
        for i, memory in enumerate(chunk):
            by_ns.setdefault(memory.namespace, []).append(i)
        for ns, all_indexes in by_ns.items():
            namespaces[ns] = None
            with core.write_locks(ns):
                pressure = core.pressure
                # A memory already stored under its id is replaced in place: it needs no room.
                present = {
                    r.id for r in core.store.get(ns, ids=[chunk[i].id for i in all_indexes], documents=False)
                }
                new = [i for i in all_indexes if chunk[i].id not in present]
                plan = pressure.plan(
                    ns, [chunk[i] for i in new], pressure.policy(ns), epoch(utcnow()), partial=True
                )
                skip = {new[i] for i in plan.refused}
                refused += [chunk[i].id for i in sorted(skip)]
                indexes = [i for i in all_indexes if i not in skip]
                if not indexes:
                    continue
                encoded = [encode(chunk[i]) for i in indexes]
                matrix = np.stack([chunk_vectors[i] for i in indexes])  # type: ignore[misc]
                # Turns of a thread are linked again to the turns before them.
                links = _context.link(core.store, ns, [chunk[i] for i in indexes], epoch(utcnow()))
                core.store.upsert(
                    ns,
                    [chunk[i].id for i in indexes],
                    matrix,
                    [e[0] for e in encoded],
                    [{**e[1], **extra} for e, extra in zip(encoded, links, strict=True)],
                )
                if plan.victims:  # after storing, as a write does: a failed write evicts nothing
                    evicted += [m.id for m in pressure.evict(plan.victims, ns)]
        bar.update(len(chunk))
    bar.close()
    if refused:
        log.warning(
            "import: %d memories not stored, their quota is full: %s",
            len(refused),
            ", ".join(refused[:20]) + (" ..." if len(refused) > 20 else ""),
        )
    return ImportReport(
        count=len(memories) - len(refused),
        reembedded=reembedded,
        namespaces=tuple(namespaces),
        source_version=version,
        refused=tuple(refused),
        evicted=tuple(evicted),
    )
