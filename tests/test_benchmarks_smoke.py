"""The speed benchmarks still run: each one in its tiny ``--smoke`` mode (a fake embedder,
a few dozen memories), checked for its table on stdout and its JSON result.

No timing is asserted here: speed goals live in the benchmarks, as ratios against a
baseline measured in the same run (see benchmarks/README.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def run_smoke(script: str, tmp_path: Path, *extra: str) -> tuple[str, dict[str, object]]:
    out = tmp_path / "out"
    work = tmp_path / "work"
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--smoke", "--out", str(out), "--tmp", str(work), *extra],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout}\n{proc.stderr}"
    name = script.removesuffix(".py")
    result = json.loads((out / f"{name}-smoke.json").read_text(encoding="utf-8"))
    assert result["benchmark"] == f"{name}-smoke"
    assert result["mode"] == "smoke"
    assert result["machine"]["cores"] >= 1
    return proc.stdout, result


def test_throughput_smoke_reports_all_three_comparisons(tmp_path: Path) -> None:
    stdout, result = run_smoke("throughput.py", tmp_path, "--tmpfs", str(tmp_path / "fast"))
    for heading in (
        "1. Batched embedding vs remember_many",
        "2. One remember vs one embed",
        "3. recall vs raw",
    ):
        assert heading in stdout
    embed = result["embed"]
    assert isinstance(embed, list) and {row["texts"] for row in embed} == {"short", "long"}
    assert all(row["ratio"] > 0 for row in embed)
    single = result["single"]
    assert isinstance(single, list) and single[0]["remember"]["n"] > 0
    recall = result["recall"]
    assert isinstance(recall, list) and {row["mode"] for row in recall} == {"hybrid", "dense"}
    assert all(row["engine"]["p50_ms"] > 0 and row["raw"]["p50_ms"] > 0 for row in recall)


def test_ann_recall_smoke_measures_recall_against_exact_search(tmp_path: Path) -> None:
    stdout, result = run_smoke("ann_recall.py", tmp_path)
    assert "ANN recall@10 vs exact search" in stdout
    rows = result["rows"]
    assert isinstance(rows, list) and {row["dataset"] for row in rows} == {"minilm", "clustered"}
    # 1,500 vectors: HNSW finds most true neighbours (a broken comparison finds ~1%)
    assert all(0.5 <= row["recall_at_10"] <= 1.0 for row in rows)


def test_namespaces_smoke_compares_a_shared_store_with_a_lone_namespace(tmp_path: Path) -> None:
    stdout, result = run_smoke("namespaces.py", tmp_path, "--big-namespace")
    assert "### 4. Recall" in stdout and " in 1 of " in stdout and "Design check" in stdout
    isolation = result["isolation"]
    assert isinstance(isolation, list) and {row["mode"] for row in isolation} >= {"hybrid", "dense"}
    assert all(row["ratio_p50"] > 0 for row in isolation)
    assert result["design_check"]["ratio_p50"] > 0
    big = result["big_namespace"]
    assert len(big) == 2 and all(
        row["moved_vs_own_p50"] > 0 and row["own_layout"]["p50_ms"] > 0 for row in big
    )


@pytest.mark.parametrize("script", ["throughput.py", "ann_recall.py", "namespaces.py"])
def test_benchmark_help_describes_the_modes(script: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--help"], capture_output=True, text=True, check=True
    )
    assert "--quick" in proc.stdout and "--smoke" in proc.stdout and "--out" in proc.stdout


def test_compaction_smoke_times_compaction_and_the_heap_clearing(tmp_path: Path) -> None:
    stdout, result = run_smoke("compaction.py", tmp_path)
    assert "Compaction of one namespace" in stdout and "Heap clearing" in stdout
    rows = result["compaction"]
    assert isinstance(rows, list) and rows[0]["compact_s"] > 0
    heap = result["heap_clearing"]
    assert isinstance(heap, dict) and heap["recall_ratio"] > 0


@pytest.mark.integration
def test_embedding_smoke_compares_both_backends(tmp_path: Path) -> None:
    stdout, result = run_smoke("embedding.py", tmp_path)
    assert "torch vs ONNX Runtime" in stdout and "lowest cosine between them" in stdout
    assert result["min_cosine"] >= 0.999
    assert {"single_p50", "short_batch", "long_batch", "load"} <= set(result["ratios"])
    assert [r["torch"] for r in result["loads"]["onnx"]] == [False]  # no torch import once exported


@pytest.mark.parametrize("layout", ["own", "shared"])
def test_cloud_limits_checks_every_call_priomem_makes(tmp_path: Path, layout: str) -> None:
    # Issue 17: every call priomem makes keeps within Chroma Cloud's quotas: metadata keys
    # per record and their size, metadata values, documents, where predicates, records
    # per write, ids and collection names (the largest memory priomem accepts included).
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "cloud_limits.py"), "--out", str(tmp_path), "--layout", layout],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((tmp_path / "cloud-limits.json").read_text())
    assert sum(report["calls"].values()) > 50 and {"upsert", "get", "delete"} <= set(report["calls"])
    assert report["over"] == []
    assert report["limits"]["keys"] == 32 and report["limits"]["key"] == 36
    assert "calls to Chroma checked" in done.stdout


def test_many_namespaces_smoke_measures_memory_fill_and_ratios(tmp_path: Path) -> None:
    _, result = run_smoke("many_namespaces.py", tmp_path)
    (row,) = result["rows"]  # type: ignore[misc]
    assert row["namespaces"] == 150 and row["fill_s"] > 0 and row["client_peak_rss_mb"] > 0
    assert row["recall_ratio"] > 0 and row["remember_ratio"] > 0
    assert row["size_recall_samples"] == row["base_recall_samples"] == 20


def test_many_namespaces_compares_filling_one_call_a_namespace_with_batches(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / "many_namespaces.py"), "--fill-compare", "12", "--per", "2",
         "--batch", "5", "--rounds", "2", "--out", str(tmp_path), "--tmp", str(tmp_path)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    got = json.loads((tmp_path / "many_namespaces-fill.json").read_text(encoding="utf-8"))
    assert len(got["one_s"]) == len(got["batched_s"]) == 2 and got["batch"] == 5 and got["speedup"] > 0
