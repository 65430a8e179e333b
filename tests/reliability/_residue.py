"""Scans of a store folder for what deletion should have removed: text, and vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def files_holding(folder: Path, needles: list[str]) -> dict[str, list[str]]:
    """For each needle found anywhere under ``folder``, the files holding it (raw bytes)."""
    found: dict[str, list[str]] = {}
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = file.read_bytes()
        for needle in needles:
            if needle.encode("utf-8") in data:
                found.setdefault(needle, []).append(str(file.relative_to(folder)))
    return found


def vectors_in(data: bytes, vectors: np.ndarray, threshold: float = 0.99) -> np.ndarray:
    """Which of ``vectors`` (rows) appear in ``data`` as float32 runs with cosine >= threshold.

    Every run of ``dim`` float32 values of about unit length, at every byte offset, is
    compared, so a vector is found wherever it is stored (Chroma's log, SQLite pages, HNSW
    files), whatever the alignment.
    """
    dim = vectors.shape[1]
    unit = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float64)
    hit = np.zeros(len(vectors), dtype=bool)
    for shift in range(4):
        usable = (len(data) - shift) // 4
        if usable < dim:
            continue
        with np.errstate(invalid="ignore", over="ignore"):
            flat = np.frombuffer(data, dtype="<f4", count=usable, offset=shift).astype(np.float64)
        # A stored embedding has unit length (the model's, and the index normalises for
        # cosine): values past 10 are no part of one.
        flat = np.where(np.isfinite(flat) & (np.abs(flat) < 10), flat, 0.0)
        squares = np.concatenate([[0.0], np.cumsum(flat**2)])
        norms = np.sqrt(np.maximum(squares[dim:] - squares[:-dim], 0.0))
        starts = np.flatnonzero((norms > 0.5) & (norms < 2.0))
        for chunk in range(0, len(starts), 1 << 14):
            at = starts[chunk : chunk + (1 << 14)]
            windows = flat[at[:, None] + np.arange(dim)]
            exact = np.linalg.norm(windows, axis=1)
            cosines = (windows @ unit.T) / np.maximum(exact, 1e-12)[:, None]
            hit |= (cosines >= threshold).any(axis=0)
    return hit


def vectors_on_disk(folder: Path, vectors: np.ndarray, threshold: float = 0.99) -> np.ndarray:
    """Which of ``vectors`` appear in any file under ``folder`` (see :func:`vectors_in`)."""
    hit = np.zeros(len(vectors), dtype=bool)
    for file in (p for p in folder.rglob("*") if p.is_file()):
        hit |= vectors_in(file.read_bytes(), vectors, threshold)
    return hit
