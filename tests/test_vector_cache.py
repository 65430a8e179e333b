"""The in-memory copy of shared namespaces' vectors (``priomem._vector_cache``)."""

from __future__ import annotations

import numpy as np

from priomem._vector_cache import Kept, VectorCache


def _vectors(count: int, metas: bool = False) -> Kept:
    ids = [f"id{i}" for i in range(count)]
    return Kept(ids, np.ones((count, 4), np.float32), [{"pm_access": 0} for _ in ids] if metas else None)


def test_a_read_that_raced_a_write_is_not_kept() -> None:
    cache = VectorCache(1 << 20)
    hit, writes = cache.get("a")
    assert hit is None
    cache.stale("a")  # a write lands while the read is under way
    cache.put("a", _vectors(3), writes)
    assert cache.get("a")[0] is None
    _, writes = cache.get("a")
    cache.put("a", _vectors(3), writes)
    assert cache.get("a")[0] is not None


def test_the_least_recently_used_go_first_past_the_budget() -> None:
    one = _vectors(8).nbytes
    cache = VectorCache(3 * one)
    for name in "abc":
        cache.put(name, _vectors(8), cache.get(name)[1])
    cache.get("a")  # used: b is now the oldest
    cache.put("d", _vectors(8), cache.get("d")[1])
    assert [n for n in "abcd" if cache.get(n)[0] is not None] == ["a", "c", "d"]


def test_clear_drops_everything_and_any_read_under_way() -> None:
    cache = VectorCache(1 << 20)
    cache.put("a", _vectors(2), 0)
    _, writes = cache.get("a")
    cache.clear()
    assert cache.get("a")[0] is None
    cache.put("a", _vectors(2), writes)  # read before the clear: not kept
    assert cache.get("a")[0] is None


def test_a_patch_changes_what_is_kept_and_turns_away_a_read_under_way() -> None:
    cache = VectorCache(1 << 20)
    cache.put("a", _vectors(3, metas=True), 0)
    _, writes = cache.get("b")
    cache.patch("a", ["id1", "gone"], [{"pm_access": 4, "pm_x": None}, {"pm_access": 9}])
    kept = cache.get("a")[0]
    assert kept is not None and kept.metas == [{"pm_access": 0}, {"pm_access": 4}, {"pm_access": 0}]
    cache.patch("b", ["id0"], [{"pm_access": 1}])  # b is read meanwhile: not kept
    cache.put("b", _vectors(3, metas=True), writes)
    assert cache.get("b")[0] is None


def test_kept_metadata_counts_against_the_budget() -> None:
    assert _vectors(8, metas=True).nbytes > _vectors(8).nbytes
