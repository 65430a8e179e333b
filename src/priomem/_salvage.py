"""Reading back the records of a collection Chroma can no longer read, from its database.

A collection can be left so that every read fails ("Failed to apply logs to the metadata
segment": a record Chroma accepted into its log but cannot index). Chroma still holds
everything: the records it applied, in its metadata segment (``embeddings``,
``embedding_metadata``, ``embedding_metadata_array``), and the rest in its write-ahead log
(``embeddings_queue``), in order. This module reads both, **read-only**, and replays the
log over the applied records, so ``priomem check --repair`` can write the records back
through Chroma's public API into a fresh collection. Vectors come from the log where it
still holds them; the caller re-embeds the others from their documents.

Pure ``sqlite3``; nothing here writes to Chroma's files.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Salvaged", "salvage"]

DOCUMENT_KEY = "chroma:document"
_ADD, _UPDATE, _UPSERT, _DELETE = 0, 1, 2, 3
_BATCH = 500


@dataclass(slots=True)
class Salvaged:
    """One record as Chroma last held it; ``vector`` None when only the index had it."""

    id: str
    document: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    vector: np.ndarray | None = None


def _value(string: Any, integer: Any, floating: Any, boolean: Any) -> Any:
    if string is not None:
        return string
    if integer is not None:
        return int(integer)
    if floating is not None:
        return float(floating)
    if boolean is not None:
        return bool(boolean)
    return None


def _applied(con: sqlite3.Connection, collection_id: str) -> tuple[dict[str, Salvaged], int]:
    """Records in the metadata segment, and the last log position applied to it."""
    row = con.execute(
        "SELECT id FROM segments WHERE collection = ? AND scope = 'METADATA'", (collection_id,)
    ).fetchone()
    if row is None:
        return {}, -1
    segment = str(row[0])
    seq = con.execute("SELECT seq_id FROM max_seq_id WHERE segment_id = ?", (segment,)).fetchone()
    applied = int(seq[0]) if seq is not None else -1
    keys = {
        int(r[0]): str(r[1])
        for r in con.execute("SELECT id, embedding_id FROM embeddings WHERE segment_id = ?", (segment,))
    }
    records = {rid: Salvaged(id=rid) for rid in keys.values()}
    rows = list(keys)
    for start in range(0, len(rows), _BATCH):
        chunk = rows[start : start + _BATCH]
        marks = ",".join("?" * len(chunk))
        for internal, key, s, i, f, b in con.execute(
            f"SELECT id, key, string_value, int_value, float_value, bool_value "
            f"FROM embedding_metadata WHERE id IN ({marks})",
            chunk,
        ):
            record = records[keys[int(internal)]]
            if key == DOCUMENT_KEY:
                record.document = s
            else:
                record.metadata[str(key)] = _value(s, i, f, b)
        for internal, key, s, i, f, b in con.execute(
            f"SELECT id, key, string_value, int_value, float_value, bool_value "
            f"FROM embedding_metadata_array WHERE id IN ({marks}) ORDER BY rowid",
            chunk,
        ):
            values = records[keys[int(internal)]].metadata.setdefault(str(key), [])
            if isinstance(values, list):
                values.append(_value(s, i, f, b))
    return records, applied


def _vector(blob: Any, encoding: Any) -> np.ndarray | None:
    if blob is None or str(encoding).upper() != "FLOAT32":
        return None
    return np.frombuffer(bytes(blob), dtype="<f4").astype(np.float32)


def salvage(database: Path, collection_id: str) -> dict[str, Salvaged]:
    """Every live record of collection ``collection_id`` that ``database`` still holds."""
    con = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    try:
        records, applied = _applied(con, collection_id)
        topic = f"%/{collection_id}"
        for seq_id, operation, rid, blob, encoding, raw in con.execute(
            "SELECT seq_id, operation, id, vector, encoding, metadata FROM embeddings_queue "
            "WHERE topic LIKE ? ORDER BY seq_id",
            (topic,),
        ):
            rid = str(rid)
            vector = _vector(blob, encoding)
            if int(seq_id) <= applied:  # already in the segment: only its vector is news
                if rid in records and vector is not None:
                    records[rid].vector = vector
                continue
            op = int(operation)
            if op == _DELETE:
                records.pop(rid, None)
                continue
            if op not in (_ADD, _UPDATE, _UPSERT):
                continue  # Chroma's own bookkeeping (backfill), no record change
            if op == _UPDATE and rid not in records:
                continue  # Chroma ignores updates of missing records
            if op == _ADD and rid in records:
                continue  # and adds of existing ones
            record = records.setdefault(rid, Salvaged(id=rid))
            meta = json.loads(raw) if raw else {}
            if DOCUMENT_KEY in meta:
                record.document = meta.pop(DOCUMENT_KEY)
            for key, value in meta.items():
                if value is None:
                    record.metadata.pop(key, None)
                else:
                    record.metadata[key] = value
            if vector is not None:
                record.vector = vector
        return records
    finally:
        con.close()
