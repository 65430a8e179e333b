"""Zero the uninitialised bytes Chroma's HNSW index files carry. Pure file work, no chromadb.

Chroma's embedded store persists each vector index (hnswlib) by writing its memory
buffers whole: ``data_level0.bin`` is ``max_elements`` slots of ``size_data_per_element``
bytes, allocated with ``malloc`` and never cleared, so slots past the element count, and
unused neighbour slots of each element, hold whatever the process heap held before —
fragments of memory text included. That would defeat erasure, so after Chroma writes
its files (on close, and during an erasure) priomem zeroes exactly those bytes:

- ``data_level0.bin``: elements at or past the element count, whole; for live elements,
  the neighbour slots past each element's neighbour count;
- ``length.bin`` (one vector norm per element): entries past the element count;
- ``link_lists.bin``: the unused neighbour slots of each upper-level list, and any bytes
  past the last element's lists.

Vectors, labels, counts and used neighbour slots are left untouched, so the index
answers exactly as before (tested).
"""

from __future__ import annotations

import logging
import struct
from pathlib import Path

__all__ = ["scrub_store"]

log = logging.getLogger("priomem")

# version:int32, offsetLevel0, max_elements, cur_element_count, size_data_per_element,
# label_offset, offsetData (size_t each), maxlevel:int32, enterpoint:uint32,
# maxM, maxM0, M (size_t), mult:double, ef_construction:size_t
_HEADER = struct.Struct("<iQQQQQQiIQQQdQ")


def _scrub_index(folder: Path) -> bool:
    header_path = folder / "header.bin"
    data_path = folder / "data_level0.bin"
    raw = header_path.read_bytes()
    if len(raw) < _HEADER.size:
        return False
    (_, _, max_elements, count, per_element, _, offset_data, _, _, max_m, max_m0, _, _, _) = (
        _HEADER.unpack_from(raw)
    )
    links_bytes = 4 + 4 * max_m0
    if offset_data != links_bytes or per_element <= offset_data or count > max_elements:
        log.warning("unexpected HNSW layout in %s; left as it is", folder)
        return False
    data = bytearray(data_path.read_bytes())
    if len(data) < count * per_element:
        log.warning("short HNSW data file in %s; left as it is", folder)
        return False
    for i in range(count):
        base = i * per_element
        used = int.from_bytes(data[base : base + 2], "little")
        start = base + 4 + 4 * min(used, max_m0)
        data[start : base + links_bytes] = bytes(base + links_bytes - start)
    data[count * per_element :] = bytes(len(data) - count * per_element)
    data_path.write_bytes(bytes(data))
    # length.bin holds one float (the vector's norm) per element: entries past the count are garbage.
    length_path = folder / "length.bin"
    if length_path.exists():
        lengths = bytearray(length_path.read_bytes())
        lengths[4 * count :] = bytes(max(len(lengths) - 4 * count, 0))
        length_path.write_bytes(bytes(lengths))
    # link_lists.bin: for each element, a uint32 byte size then that many bytes of upper-level
    # lists, each list a uint32 neighbour count and max_m neighbour slots.
    lists_path = folder / "link_lists.bin"
    if lists_path.exists():
        lists = bytearray(lists_path.read_bytes())
        level_bytes = 4 + 4 * max_m
        position = 0
        for _ in range(count):
            if position + 4 > len(lists):
                break
            size = int.from_bytes(lists[position : position + 4], "little")
            position += 4
            if size % level_bytes or position + size > len(lists):
                log.warning("unexpected upper-level link lists in %s; left as they are", folder)
                return True
            for level in range(size // level_bytes):
                base = position + level * level_bytes
                used = int.from_bytes(lists[base : base + 2], "little")
                slot = base + 4 + 4 * min(used, max_m)
                lists[slot : base + level_bytes] = bytes(base + level_bytes - slot)
            position += size
        lists[position:] = bytes(len(lists) - position)
        lists_path.write_bytes(bytes(lists))
    return True


def scrub_store(path: Path) -> int:
    """Scrub every HNSW index folder of the embedded store at ``path``; returns how many."""
    done = 0
    for header in path.glob("*/header.bin"):
        if (header.parent / "data_level0.bin").exists():
            try:
                done += _scrub_index(header.parent)
            except OSError as exc:
                log.warning("could not scrub %s: %s", header.parent, exc)
    return done
