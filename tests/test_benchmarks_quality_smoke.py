"""The quality benchmarks still run end to end, with the real model, in a small smoke mode:
LoCoMo on the first sessions of one conversation, the priority benchmark on a few hundred
memories. Figures are checked for shape and sanity, not for targets (those need the full
data: see the closing tables of issue 6 and benchmarks/README.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOCOMO = ROOT.parent / "shared" / "data" / "locomo" / "locomo10-dev.json"

pytestmark = pytest.mark.integration


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=900, check=False, cwd=ROOT
    )
    assert proc.returncode == 0, f"{args[0]} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.mark.skipif(not LOCOMO.is_file(), reason=f"LoCoMo development data not at {LOCOMO}")
def test_locomo_smoke_measures_priomem_beside_its_baselines(tmp_path: Path) -> None:
    proc = _run(
        "benchmarks/locomo.py",
        "--data",
        "../shared/data/locomo/locomo10-dev.json",
        "--conversations",
        "1",
        "--sessions",
        "3",
        "--questions",
        "15",
        "--baselines",
        "--out",
        str(tmp_path),
    )
    result = json.loads((tmp_path / "result.json").read_text(encoding="utf-8"))
    assert (tmp_path / "recall_at_k.png").stat().st_size > 0
    assert set(result["results"]) == {"priomem", "cosine", "bm25", "rrf"}
    assert result["questions"] == 15 and result["conversations"] == ["conv-26"]
    for groups in result["results"].values():
        everything = groups["all"]
        assert everything["n"] == 15
        recalls = [everything[f"R@{k}"] for k in (1, 5, 10, 25)]
        assert recalls == sorted(recalls) and all(0 <= r <= 100 for r in recalls)
        assert len(everything["curve"]) == 25
    # A handful of sessions: the right turn is rarely missed by priomem.
    assert result["results"]["priomem"]["all"]["R@25"] >= 50
    assert result["latency_ms"]["p50"] > 0
    assert "| priomem (all) | 15 |" in proc.stdout
    assert "session R@1" in proc.stdout


def test_priority_smoke_reports_top_k_windows_equal_priorities_and_latency(tmp_path: Path) -> None:
    proc = _run("benchmarks/priority.py", "--smoke", "--out", str(tmp_path))
    result = json.loads((tmp_path / "result.json").read_text(encoding="utf-8"))
    top_k = result["top_k"]
    assert {"priomem (default)", "cosine only", "priomem dense-only (hybrid=False)"} <= set(top_k)
    assert set(top_k["priomem (default)"]) == {"critical", "high", "window"}
    # The window questions are answered only by a retriever that honours since="48h".
    assert top_k["priomem (default)"]["window"]["@10"] > top_k["cosine only"]["window"]["@10"]
    # Equal priorities: the priority weight changes nothing (access counts are written in
    # the background, so allow one question's worth of timing noise per group).
    equal = result["equal_priorities"]
    for group, row in equal["priomem (default weights)"].items():
        other = equal["priomem, priority weight 0"][group]
        assert all(abs(row[f"@{k}"] - other[f"@{k}"]) <= 100 / row["n"] + 1e-9 for k in (1, 3, 5, 10))
    latency = result["latency"]
    assert latency["hybrid"]["p50"] > 0 and latency["dense"]["p50"] > 0 and latency["ratio_p50"] > 0
    assert "Recall latency" in proc.stdout


def test_ops_smoke_measures_default_dense_and_cosine_by_kind(tmp_path: Path) -> None:
    proc = _run("benchmarks/ops.py", "--smoke", "--baselines", "--out", str(tmp_path))
    result = json.loads((tmp_path / "ops.json").read_text(encoding="utf-8"))
    assert set(result["summary"]) == {"default", "dense", "cosine"}
    assert result["memories"] >= 200 and result["questions"] == 14
    for summary in result["summary"].values():
        assert set(summary) == {
            "fact",
            "obligation",
            "incident",
            "latest",
            "window",
            "identifier",
            "paraphrase",
            "all",
        }
        assert all(0 <= summary["all"][m] <= 100 for m in ("nDCG@5", "P@1", "R@5"))
    assert "nDCG@5 by question kind" in proc.stdout
