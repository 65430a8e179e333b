"""The LangChain and LangGraph examples run offline and do what they say."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from priomem import SentenceTransformerEmbedder

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.integration
def test_langchain_agent(
    tmp_path: Path, real_embedder: SentenceTransformerEmbedder, capsys: pytest.CaptureFixture[str]
) -> None:
    load("langchain_agent").main(str(tmp_path), real_embedder)
    out = capsys.readouterr().out
    conversation_2 = out.split("Conversation 2\n", 1)[1]
    assert conversation_2.splitlines()[2] == (
        "  tool recall: [critical] The nightly ETL must finish by 06:00 UTC (finance SLA)."
    )
    assert "tool forget: 1 memory forgotten" in out
    assert out.endswith("Memories left for user:alice: 1\n")


@pytest.mark.integration
def test_classic_memory(
    tmp_path: Path, real_embedder: SentenceTransformerEmbedder, capsys: pytest.CaptureFixture[str]
) -> None:
    load("classic_memory").main(str(tmp_path), real_embedder)
    out = capsys.readouterr().out
    assert "stored [CRITICAL] Human: The orders ETL must land by 06:00 UTC" in out
    assert "stored [LOW] Human: By the way" in out
    shown = out.split("the model was shown ", 1)[1].splitlines()
    assert shown[2].startswith("    - [CRITICAL ") and "06:00 UTC" in shown[2]
    assert "team:web still holds its one" in out


@pytest.mark.integration
def test_langgraph_store(
    tmp_path: Path, real_embedder: SentenceTransformerEmbedder, capsys: pytest.CaptureFixture[str]
) -> None:
    load("langgraph_store").main(str(tmp_path), real_embedder)
    out = capsys.readouterr().out
    assert "    - is vegetarian and loves spicy Thai food\n    - has a grey cat called Miso" in out
    assert "non-empty carts: [('alice', {'items': 3, 'total': 42.5})]" in out
    assert "namespaces: [('facts', 'alice'), ('sessions', 'alice'), ('sessions', 'bob')]" in out


def run_script(name: str, tmp_path: Path) -> str:
    """Run an example the way a reader does, offline: no network for the model either."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TMPDIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-W", "error", str(EXAMPLES / f"{name}.py")],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("priomem-example-")]  # store removed
    return done.stdout


@pytest.mark.integration
def test_langchain_agent_runs_as_a_script(tmp_path: Path) -> None:
    out = run_script("langchain_agent", tmp_path)
    assert "tool recall: [critical] The nightly ETL must finish by 06:00 UTC" in out
    assert out.endswith("Memories left for user:alice: 1\n")
