"""Lineage: which memories read and wrote a dataset, and what lies up- and downstream of it.

A memory names the datasets, tables or jobs the work it describes read (``reads``) and
wrote (``writes``). Upstream of a dataset are the memories that wrote it, then those that
wrote what they read, and so on; downstream are the memories that read it, then those
that read what they wrote. Each step is one exact-match look-up per dataset
(``pm_reads`` / ``pm_writes`` contain the name), so a walk costs what it finds, bounded by
``depth`` and :data:`MAX_STEPS` datasets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from priomem._models import Memory
from priomem._records import dataset_where, decode, is_live
from priomem._store import ChromaStore

__all__ = ["MAX_DEPTH", "MAX_STEPS", "Lineage", "LineageStep", "walk", "walk_store"]

#: The deepest a walk goes, and the most datasets and memories it returns on each side.
MAX_DEPTH = 10
MAX_STEPS = 200
MAX_MEMORIES = 500


@dataclass(frozen=True, slots=True)
class LineageStep:
    """A memory on the way up- or downstream: how many hops from the dataset, and through
    which dataset it was reached."""

    memory: Memory
    depth: int
    via: str

    def to_dict(self) -> dict[str, Any]:
        return {"depth": self.depth, "via": self.via, "memory": self.memory.to_dict()}


@dataclass(frozen=True, slots=True)
class Lineage:
    """Where ``name`` comes from and what depends on it, in one namespace."""

    name: str
    namespace: str
    upstream: tuple[LineageStep, ...]
    downstream: tuple[LineageStep, ...]
    #: Datasets reached on each side, nearest first (``name`` itself not included).
    upstream_datasets: tuple[str, ...]
    downstream_datasets: tuple[str, ...]
    #: True when the walk stopped at ``depth`` or :data:`MAX_STEPS` with more to see.
    truncated: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "namespace": self.namespace,
            "upstream": [s.to_dict() for s in self.upstream],
            "downstream": [s.to_dict() for s in self.downstream],
            "upstream_datasets": list(self.upstream_datasets),
            "downstream_datasets": list(self.downstream_datasets),
            "truncated": self.truncated,
        }


#: Memories whose ``pm_reads`` (``"reads"``) or ``pm_writes`` (``"writes"``) contain a name.
Finder = Callable[[str, str], list[Memory]]


def _side(name: str, depth: int, find: Finder, toward: str) -> tuple[list[LineageStep], list[str], bool]:
    """One direction of the walk. Upstream: ``toward="writes"`` finds the producers of a
    dataset, whose ``reads`` are the next datasets; downstream the other way round."""
    nxt = "reads" if toward == "writes" else "writes"
    steps: list[LineageStep] = []
    seen_memories: set[str] = set()
    seen = {name}
    frontier = [name]
    datasets: list[str] = []
    truncated = False
    for level in range(1, depth + 1):
        following: list[str] = []
        for dataset in frontier:
            for memory in find(toward, dataset):
                if memory.id in seen_memories:
                    continue
                if len(steps) >= MAX_MEMORIES:
                    return steps, datasets, True
                seen_memories.add(memory.id)
                steps.append(LineageStep(memory=memory, depth=level, via=dataset))
                for other in getattr(memory, nxt):
                    if other not in seen:
                        seen.add(other)
                        following.append(other)
        if len(datasets) + len(following) > MAX_STEPS:
            following = following[: MAX_STEPS - len(datasets)]
            truncated = True
        datasets += following
        frontier = following
        if not frontier or truncated:
            return steps, datasets, truncated
    # At the depth limit: there is more only if a dataset on the edge has memories not seen.
    truncated = any(m.id not in seen_memories for dataset in frontier for m in find(toward, dataset))
    return steps, datasets, truncated


def walk_store(store: ChromaStore, namespace: str, name: str, depth: int, now_e: float) -> Lineage:
    """:func:`walk` over the live memories of ``namespace`` in ``store``."""

    def find(side: str, wanted: str) -> list[Memory]:
        rows = store.get(namespace, where=dataset_where(wanted, side=side))
        found = [decode(r.id, r.document, r.metadata, namespace) for r in rows if is_live(r.metadata, now_e)]
        return sorted(found, key=lambda m: (m.created_at, m.id), reverse=True)

    return walk(name, namespace, depth, find)


def walk(name: str, namespace: str, depth: int, find: Finder) -> Lineage:
    """The lineage of ``name`` (validated by the caller) ``depth`` hops each way."""
    up, up_data, up_cut = _side(name, depth, find, "writes")
    down, down_data, down_cut = _side(name, depth, find, "reads")
    return Lineage(
        name=name,
        namespace=namespace,
        upstream=tuple(up),
        downstream=tuple(down),
        upstream_datasets=tuple(up_data),
        downstream_datasets=tuple(down_data),
        truncated=up_cut or down_cut,
    )
