"""Records within Chroma Cloud's quotas: what does not fit on a memory's record is kept
beside it, in the store's ``priomem-spill`` collection (issue 17).

Chroma Cloud takes at most 32 metadata keys a record, keys of at most 36 bytes and values
of at most 4,096 bytes. A memory may hold 100,000 characters of text, 64 metadata keys
of its caller and values of 8,192 characters, so a record is fitted before it is written
(:func:`fit`): the text past its first 4,096 bytes, the values too large for a key, the
keys too long, and as many keys as the record has past 32 (the caller's first, those
sorted last first, then the few of priomem's own that no where clause names) are *spilled*.
What is spilled is written as JSON cut into 4,096-byte values, 28 to a spill record, and
the memory's record names them with ``pm_spill`` (``<token>.<count>``). A record that
fits, which is every record of ordinary size, is written as before and costs nothing more.

Rules that keep it right:

- What stays on the record (:data:`PINNED`) is everything a where clause selects by, the
  ids the store reads before anything is joined, and what updates set in place
  (:data:`IN_PLACE`: a memory's use and expiry), so filters, recall and those updates see
  the record alone. ``pm_renewed`` has its key counted before it is first set.
- Spill records are written before the record that names them, under a token of their
  own, so a record never names spill records that are not all there (a kill between the
  two leaves spill records nothing names: ``priomem check --repair`` deletes them, as does
  dropping the namespace). A rewrite names new ones, then deletes the old; a read that
  finds a record's spill records gone reads the record again (it was rewritten meanwhile).
- Forgetting a memory deletes its spill records first (by the digest of its namespace and
  id, whatever token), then the record; dropping a namespace deletes all of its spill
  records. The deletions are compacted like any other (``note_deletion``).
- Reading a record with ``pm_spill`` joins its spill records in (one read for a page of
  records); the record's own keys win over spilled ones of the same name.

Pure functions here; :class:`Spills` is the part of the store that writes and reads them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from priomem._chroma_calls import chroma_errors, metadatas_by_id
from priomem._records import MAX_VALUE_BYTES, USER_PREFIX, Key, one_of, value_size

if TYPE_CHECKING:
    from priomem._layout import Place

__all__ = [
    "IN_PLACE",
    "MAX_KEYS",
    "MAX_KEY_BYTES",
    "MAX_VALUE",
    "PINNED",
    "SPILL_COLLECTION",
    "Spills",
    "fit",
    "join",
]

log = logging.getLogger("priomem")

#: Chroma Cloud's quotas on a record's metadata (docs.trychroma.com, "Quotas & Limits").
MAX_KEYS = 32
MAX_KEY_BYTES = 36
MAX_VALUE = MAX_VALUE_BYTES
SPILL_COLLECTION = "priomem-spill"
SPILL = Key.SPILL
#: Values of spilled JSON a spill record holds (its other keys: of, sns, tok, i, ns, rid).
CHUNKS = MAX_KEYS - 6
SUBJECT = USER_PREFIX + "subject"
#: Seconds a server store trusts a look-up that found no spill collection, on writes.
NO_SPILLS_TRUSTED = 5.0
#: Keys a record keeps whatever its size: where clauses select by them (priority, tags,
#: terms, times, lineage, datasets, thread slots, content hash, a shared record's
#: namespace, a data subject), the store reads them before joining (its id, the pointer),
#: or updates set them in place (:data:`IN_PLACE`).
PINNED = frozenset(
    {
        Key.PRIORITY,
        Key.TAGS,
        Key.TERMS,
        Key.CREATED,
        Key.EXPIRES,
        Key.LINEAGE,
        Key.REFS,
        Key.TSLOT,
        Key.THREAD,
        Key.HASH,
        Key.NS,
        Key.ID,
        Key.DATA,
        Key.READS,
        Key.WRITES,
        Key.TEXT,
        Key.ACCESS,
        Key.ACCESSED,
        Key.RENEWED,
        SPILL,
        SUBJECT,  # erase(subject=...) selects by it (up to 256 characters; a longer one is spilled)
    }
)
#: Keys set on stored records without reading them first (``update_metadata``).
IN_PLACE = frozenset({Key.EXPIRES, Key.ACCESS, Key.ACCESSED, Key.RENEWED})
#: priomem's own keys that may be spilled, the first first (the caller's go before them).
COLD = (Key.FROM, Key.PREV2, Key.PREV, Key.TTL, Key.BYTES, Key.LEN, Key.STORED, Key.V)


def _cut(text: str, limit: int) -> str:
    """The longest start of ``text`` of at most ``limit`` UTF-8 bytes."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    end = limit
    while end > 0 and (raw[end] & 0xC0) == 0x80:  # not inside a character
        end -= 1
    return raw[:end].decode("utf-8")


def _over(main: Mapping[str, Any], spilled: bool) -> bool:
    """Whether ``main`` has too many keys, counting those it may gain later: its first
    reinforcement's, and a shared collection's namespace and long id (a move adds them)."""
    later = sum(k not in main for k in (Key.RENEWED, Key.NS, Key.ID))
    return len(main) + later + (spilled or SPILL in main) > MAX_KEYS


def _pinned(key: str, value: Any) -> bool:
    return key in PINNED and not (key == SUBJECT and value_size(value) > MAX_VALUE)


def fit(meta: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``meta`` (a record's metadata, its text in ``pm_text``) as what its record keeps
    and what is spilled (empty when it fits). The record's ``pm_spill`` is not set here."""
    main = {k: v for k, v in meta.items() if k != SPILL}
    spilled: dict[str, Any] = {}
    text = main.get(Key.TEXT)
    if isinstance(text, str) and value_size(text) > MAX_VALUE:
        head = _cut(text, MAX_VALUE)
        main[Key.TEXT] = head
        spilled[Key.TEXT] = text[len(head) :]
    for key in list(main):
        if not _pinned(key, main[key]) and (
            len(key.encode("utf-8")) > MAX_KEY_BYTES or value_size(main[key]) > MAX_VALUE
        ):
            spilled[key] = main.pop(key)
    if _over(main, bool(spilled)):
        users = sorted(
            (k for k in main if k.startswith(USER_PREFIX) and not _pinned(k, main[k])), reverse=True
        )
        for key in [*users, *(k for k in COLD if k in main)]:
            spilled[key] = main.pop(key)
            if not _over(main, True):
                break
    return main, spilled


def join(main: Mapping[str, Any], spilled: Mapping[str, Any]) -> dict[str, Any]:
    """A record's metadata with its spilled keys back (its own keys win; its text whole)."""
    out = {k: v for k, v in spilled.items() if k != Key.TEXT}
    out.update((k, v) for k, v in main.items() if k != SPILL)
    if Key.TEXT in spilled:
        out[Key.TEXT] = str(main.get(Key.TEXT, "")) + str(spilled[Key.TEXT])
    return out


def _chunks(spilled: Mapping[str, Any]) -> list[str]:
    """The spilled keys as JSON, cut into values of at most ``MAX_VALUE`` bytes."""
    text = json.dumps(dict(spilled), ensure_ascii=False, separators=(",", ":"))
    out = []
    while text:
        part = _cut(text, MAX_VALUE)
        out.append(part)
        text = text[len(part) :]
    return out


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:40]


def owner(namespace: str, record_id: str) -> str:
    """The key of a memory's spill records: its namespace and id, hashed."""
    return _digest(namespace + "\x00" + record_id)


def pointer(token: str, count: int) -> str:
    return f"{token}.{count}"


def part_ids(namespace: str, record_id: str, value: Any) -> list[str]:
    """The ids of the spill records a record's ``pm_spill`` value names."""
    token, _, count = str(value).partition(".")
    key = owner(namespace, record_id)
    return [f"{key}.{token}.{i}" for i in range(int(count or 0))]


def _token(part_id: str) -> str:
    return part_id.split(".")[1]


class Spills:
    """The part of :class:`priomem._store.ChromaStore` that keeps what does not fit."""

    def _init_spills(self) -> None:
        self._spill_col: Any | None = None
        #: no spill collection, as far as this process knows (kept only where no other
        #: process writes: a store it owns)
        self._no_spills_at: float | None = None

    def _spills(self, *, create: bool, unsure_for: float = 0.0) -> Any | None:
        """The spill collection (None when there is none and ``create`` is false). Where
        other processes write (a server), a look-up that found none is trusted for
        ``unsure_for`` seconds; in a store this process owns, until it makes one."""
        if self._spill_col is not None:
            return self._spill_col
        seen = self._no_spills_at
        if not create and seen is not None and (self._compactable or time.monotonic() - seen < unsure_for):
            return None
        with chroma_errors("open the store's spill collection"):
            if create:
                # Its metadata is never empty: a compaction's rebuild renames its copy back
                # with the original's metadata, and Chroma refuses an empty one.
                col = self._client.get_or_create_collection(
                    SPILL_COLLECTION, metadata={Key.KIND: "spill"}, embedding_function=None
                )
            else:
                col = self._get_collection(SPILL_COLLECTION)
        self._spill_col = col
        self._no_spills_at = time.monotonic() if col is None else None
        return col

    def _spill_out(
        self, namespace: str, ids: Sequence[str], metadatas: Sequence[Mapping[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[str]]:
        """``metadatas`` fitted (:func:`fit`), their spill records written; and the ids of
        those spill records (to delete if the records themselves are not written)."""
        out: list[dict[str, Any]] = []
        parts: list[tuple[str, dict[str, Any]]] = []
        for rid, meta in zip(ids, metadatas, strict=True):
            main, spilled = fit(meta)
            if spilled:
                token = os.urandom(4).hex()
                chunks = _chunks(spilled)
                groups = [chunks[i : i + CHUNKS] for i in range(0, len(chunks), CHUNKS)]
                main[SPILL] = pointer(token, len(groups))
                key, sns = owner(namespace, rid), _digest(namespace)
                for i, group in enumerate(groups):
                    record = {"of": key, "sns": sns, "tok": token, "i": i, "ns": namespace, "rid": rid}
                    record.update((f"c{j}", chunk) for j, chunk in enumerate(group))
                    parts.append((f"{key}.{token}.{i}", record))
            out.append(main)
        if parts:
            col = self._spills(create=True)
            assert col is not None  # create=True always gives it
            with chroma_errors(f"write to namespace {namespace!r}"):
                for start in range(0, len(parts), self._max_batch):
                    step = parts[start : start + self._max_batch]
                    col.upsert(
                        ids=[p[0] for p in step],
                        embeddings=[[1.0]] * len(step),
                        metadatas=[p[1] for p in step],
                    )
        return out, [p[0] for p in parts]

    def _spill_in(
        self,
        namespace: str,
        rids: Sequence[str],
        metas: list[dict[str, Any]],
        reread: Callable[[int], dict[str, Any] | None] | None = None,
    ) -> None:
        """Join the spill records of every record of ``metas`` that names some (in place).

        A record rewritten meanwhile names new spill records, and its old ones may be gone:
        ``reread(i)`` reads record ``i`` again (None: it is gone), and its new ones are read."""
        wanted = {i: m for i, m in enumerate(metas) if SPILL in m}
        for _attempt in range(3):
            if not wanted:
                return
            every = [p for i, m in wanted.items() for p in part_ids(namespace, rids[i], m[SPILL])]
            found = self._read_parts(namespace, every)
            again: dict[int, dict[str, Any]] = {}
            for i, meta in wanted.items():
                pids = part_ids(namespace, rids[i], meta[SPILL])
                if all(pid in found for pid in pids):
                    chunks = (
                        found[pid][f"c{j}"] for pid in pids for j in range(CHUNKS) if f"c{j}" in found[pid]
                    )
                    metas[i] = join(meta, json.loads("".join(map(str, chunks))))
                    continue
                fresh = reread(i) if reread is not None else None
                if fresh is not None and fresh.get(SPILL) != meta.get(SPILL):
                    metas[i] = fresh  # rewritten meanwhile: its new spill records are read next
                    if SPILL in fresh:
                        again[i] = fresh
                    continue
                log.error(
                    "memory %r in namespace %r lost part of what was kept beside it (%d of %d spill "
                    "records found): it is shown as its record holds it",
                    rids[i], namespace, sum(pid in found for pid in pids), len(pids),
                )  # fmt: skip
                metas[i] = {k: v for k, v in meta.items() if k != SPILL}
            wanted = again
        for i, meta in wanted.items():  # rewritten at every attempt: as its record holds it
            metas[i] = {k: v for k, v in meta.items() if k != SPILL}

    def joined(self, namespace: str, record_id: str, meta: Mapping[str, Any]) -> dict[str, Any]:
        """A stored record's metadata (as Chroma holds it) with its spilled keys joined."""
        out = [dict(meta)]
        self._spill_in(namespace, [record_id], out)
        return out[0]

    def _refit(
        self, place: Place, ids: Sequence[str], metadatas: Sequence[Mapping[str, Any]]
    ) -> tuple[list[str], list[Mapping[str, Any]], list[str]]:
        """The updates to send for ``metadatas``, and the spill records to delete once they
        are sent: a record that still fits whole gets its change as it is; one that does
        not (or did not) is rewritten whole, spilled anew (its new spill records written
        here, first)."""
        namespace = place.namespace
        cids = place.chroma_ids(list(ids))
        with chroma_errors(f"update namespace {namespace!r}"):
            stored = metadatas_by_id(place.col, cids, self._max_batch)
        out_ids: list[str] = []
        out: list[Mapping[str, Any]] = []
        stale: list[str] = []
        for rid, cid, change in zip(ids, cids, metadatas, strict=True):
            old = stored.get(cid)
            if old is None:
                continue  # gone: Chroma would ignore it
            merged = {k: v for k, v in {**old, **change}.items() if v is not None}
            if SPILL not in old and not fit(merged)[1]:
                out_ids.append(rid)
                out.append(change)
                continue
            new = {k: v for k, v in {**self.joined(namespace, rid, old), **change}.items() if v is not None}
            (main,), _ = self._spill_out(namespace, [rid], [new])
            out_ids.append(rid)
            out.append({**{k: None for k in old if k not in main}, **main})
            if SPILL in old:
                stale += part_ids(namespace, rid, old[SPILL])
        return out_ids, out, stale

    def _read_parts(self, namespace: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        col = self._spills(create=False)
        if col is None or not ids:
            return {}
        with chroma_errors(f"read namespace {namespace!r}"):
            return metadatas_by_id(col, ids, self._max_batch)

    def _spill_replaced(self, records: Sequence[tuple[str, str]], kept: Sequence[str]) -> None:
        """After ``records`` (namespace, id) were written whole: delete the spill records of
        their earlier versions (all but the ``kept`` ones, just written)."""
        # On every write: a server's "none" is trusted for a few seconds (another process
        # that spilled a record this one then writes over within them leaves its old spill
        # records until that memory is forgotten or its namespace dropped).
        col = self._spills(create=False, unsure_for=NO_SPILLS_TRUSTED) if records else None
        if col is None:
            return
        keep = set(kept)
        keys = [owner(namespace, rid) for namespace, rid in records]
        found: list[str] = []
        with chroma_errors("write memories"):
            for start in range(0, len(keys), self._max_batch):
                found += col.get(where=one_of("of", keys[start : start + self._max_batch]), include=[])["ids"]
            self._spill_delete([pid for pid in found if pid not in keep])

    def sweep_spills(self, namespace: str) -> int:
        """Delete the spill records of ``namespace`` that no record names (a kill between a
        long memory's spill records and its record leaves some); how many. Call under the
        namespace's write lock."""
        col = self._spills(create=False)
        if col is None:
            return 0
        place = self._place(namespace, create=False)
        with chroma_errors(f"check namespace {namespace!r}"):
            got = col.get(where={"sns": _digest(namespace)}, include=["metadatas"])
            parts: dict[str, list[str]] = {}
            for pid, meta in zip(got["ids"], got["metadatas"] or [], strict=False):
                rid = (meta or {}).get("rid")
                if rid is not None:
                    parts.setdefault(str(rid), []).append(pid)
            named: dict[str, str] = {}  # record id -> the token its record names
            if place is not None and parts:
                for cid, meta in metadatas_by_id(
                    place.col, place.chroma_ids(list(parts)), self._max_batch
                ).items():
                    rid = place.record_id(cid, meta)
                    if SPILL in meta:
                        named[rid] = str(meta[SPILL]).partition(".")[0]
            orphans = [pid for rid, pids in parts.items() for pid in pids if named.get(rid) != _token(pid)]
            self._spill_delete(orphans)
        return len(orphans)

    def _spill_delete(self, ids: Sequence[str]) -> None:
        """Delete spill records (noted for compaction first)."""
        if not ids:
            return
        col = self._spills(create=False)
        if col is None:
            return
        self.note_deletion(SPILL_COLLECTION)
        for start in range(0, len(ids), self._max_batch):
            col.delete(ids=list(ids[start : start + self._max_batch]))

    def _spill_forget(self, namespace: str, record_ids: Sequence[str] | None) -> None:
        """Delete the spill records of these memories of ``namespace`` (None: of all of
        it), whatever their token."""
        col = self._spills(create=False)
        if col is None or (record_ids is not None and not record_ids):
            return
        with chroma_errors(f"delete from namespace {namespace!r}"):
            found: list[str] = []
            if record_ids is None:
                found = col.get(where={"sns": _digest(namespace)}, include=[])["ids"]
            else:
                keys = [owner(namespace, rid) for rid in record_ids]
                for start in range(0, len(keys), self._max_batch):
                    where = one_of("of", keys[start : start + self._max_batch])
                    found += col.get(where=where, include=[])["ids"]
            self._spill_delete(found)

    if TYPE_CHECKING:
        _client: Any
        _max_batch: int
        _compactable: bool

        def _get_collection(self, name: str) -> Any | None: ...
        def note_deletion(self, collection: str | None) -> None: ...
        def _place(self, namespace: str, *, create: bool) -> Place | None: ...
