"""How priomem calls a Chroma client: what it raises becomes a :class:`StoreError` that
says what failed, and a ``where`` clause past Chroma Cloud's eight predicates is sent in
parts, with what is left checked here. Works on client and collection objects; imports no
``chromadb`` (only :mod:`priomem._store` does).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np

from priomem._errors import StoreError, StoreUnavailableError
from priomem._records import matches_where, narrow_where, split_where

__all__ = ["Where", "chroma_errors", "get_records", "metadatas_by_id", "query_records", "read_again"]

Where = dict[str, Any]
T = TypeVar("T")
#: What a Chroma server says when a read with vectors meets a record whose write another
#: client's call is still applying (its metadata is there, its vector not yet: chroma-core
#: issue 1979). Asked again, it answers.
_IN_FLIGHT = "error finding id"


def read_again(call: Callable[[], T], attempts: int = 4) -> T:
    """``call()`` (a read), asked again after a pause when Chroma reports a record whose
    write is still being applied (see ``_IN_FLIGHT``)."""
    for attempt in range(attempts):
        try:
            return call()
        except Exception as exc:  # chromadb raises its own types
            if _IN_FLIGHT not in str(exc).lower() or attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


@contextmanager
def chroma_errors(action: str) -> Iterator[None]:
    try:
        yield
    except StoreError:
        raise
    except Exception as exc:  # chromadb, httpx and the Rust bindings raise their own types
        raise _translate(exc, action) from exc


def _translate(exc: Exception, action: str) -> StoreError:
    text = str(exc) or type(exc).__name__
    lowered = text.lower()
    if any(w in lowered for w in ("connect", "refused", "timed out", "timeout", "unreachable")):
        return StoreUnavailableError(
            f"could not {action}: the Chroma server did not answer ({text}). Check that it runs "
            "and that --url / PRIOMEM_URL points at it.",
            unsent=not any(w in lowered for w in ("timed out", "timeout", "reset", "aborted")),
        )
    return StoreError(f"could not {action}: Chroma said: {text}")


def metadatas_by_id(col: Any, ids: Sequence[str], step: int) -> dict[str, dict[str, Any]]:
    """The metadata of the records of ``col`` among ``ids`` (``step`` ids a call), by id."""
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), step):
        got = col.get(ids=list(ids[start : start + step]), include=["metadatas"])
        found.update(zip(got["ids"], (dict(m or {}) for m in got["metadatas"] or []), strict=False))
    return found


def get_records(
    col: Any, *, where: Where | None, include: list[str], ranges_here: bool = False, **kwargs: Any
) -> dict[str, Any]:
    """``col.get`` within Chroma Cloud's predicates a where clause: conditions past them
    are checked here on what the rest match (:func:`priomem._records.narrow_where`), and a wide
    ``$or`` is read in parts (:func:`priomem._records.split_where`); limit and offset then apply to
    what passes."""
    sent, rest = narrow_where(where, ranges_here=ranges_here)
    parts = split_where(sent)
    if len(parts) == 1 and not rest:
        return dict(read_again(lambda: col.get(where=where, include=include, **kwargs)))
    limit = kwargs.pop("limit", None)
    offset = kwargs.pop("offset", None) or 0
    asked = include if not rest or "metadatas" in include else [*include, "metadatas"]
    merged: dict[str, Any] = {"ids": [], **{k: [] for k in include}}
    seen: set[str] = set()
    for part in parts:
        got = read_again(
            lambda part=part: col.get(  # type: ignore[misc]
                where=part, include=asked, limit=None if rest or offset else limit, **kwargs
            )
        )
        for i, cid in enumerate(got["ids"]):
            if cid in seen or (rest and not all(matches_where(got["metadatas"][i] or {}, r) for r in rest)):
                continue
            seen.add(cid)
            merged["ids"].append(cid)
            for k in include:
                merged[k].append(got[k][i])
    end = None if limit is None else offset + limit
    return {k: v[offset:end] for k, v in merged.items()}


def query_records(
    col: Any, vector: np.ndarray, n: int, where: Where | None, include: list[str]
) -> dict[str, Any]:
    """``col.query`` for one vector, a where clause kept within Chroma Cloud's predicates
    as in :func:`get_records`: the ``n`` nearest that pass (more are asked for when conditions
    are checked here, since some will not pass)."""
    sent, rest = narrow_where(where)
    parts = split_where(sent)
    if len(parts) == 1 and not rest:
        return dict(col.query(query_embeddings=[vector], n_results=n, where=where, include=include))
    keys = ["ids", *include]
    asked = list(dict.fromkeys([*include, "distances", *(["metadatas"] if rest else [])]))
    found: dict[str, tuple[float, dict[str, Any]]] = {}
    for part in parts:
        # Conditions checked here: ask for more until n pass or Chroma has no more.
        wanted = n * 4 if rest else n
        while True:
            got = col.query(query_embeddings=[vector], n_results=wanted, where=part, include=asked)
            passed = 0
            for i, cid in enumerate(got["ids"][0]):
                if rest and not all(matches_where(got["metadatas"][0][i] or {}, r) for r in rest):
                    continue
                passed += 1
                found[cid] = (float(got["distances"][0][i]), {k: got[k][0][i] for k in keys})
            if not rest or passed >= n or len(got["ids"][0]) < wanted:
                break
            wanted *= 4
    best = sorted(found.values(), key=lambda pair: pair[0])[:n]
    return {k: [[row[k] for _, row in best]] for k in keys}
