"""examples/function_calling.py runs offline and shows a full call cycle."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "function_calling.py"


def test_function_calling_example_runs() -> None:
    done = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "OpenAI tools:    ['remember', 'recall', 'forget']"
    assert lines[1] == "Anthropic tools: ['remember', 'recall', 'forget']"
    results = [json.loads(line.split(" -> ", 1)[1]) for line in lines[2:]]
    critical, low, recalled, dry_run, refused = results
    assert critical["priority"] == "critical" and critical["namespace"] == "demo-user"
    assert low["expires_at"] is not None  # low memories expire by default
    assert [h["id"] for h in recalled["hits"]] == [critical["id"]]
    assert dry_run == {"namespace": "demo-user", "count": 1, "ids": [low["id"]], "dry_run": True}
    assert refused == {
        "error": "content: is empty or only whitespace; give the text to remember.",
        "field": "content",
    }
