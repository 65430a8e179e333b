"""The load benchmark's short version: real HTTP server, concurrent clients, zero errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.integration
def test_load_smoke_has_no_errors(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "load.py"), "--smoke", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    report = json.loads((tmp_path / "load.json").read_text())
    assert report["errors"] == 0 and report["calls"] == 40
    assert report["overall"]["p50_ms"] > 0 and set(report["by_tool"]) >= {"recall", "remember"}
