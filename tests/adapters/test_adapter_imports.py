"""The adapters' public names are pinned, and each imports only its own framework."""

from __future__ import annotations

import subprocess
import sys

import pytest

import priomem.adapters.langchain as lc
import priomem.adapters.langgraph as lg


def loaded_frameworks(module: str) -> set[str]:
    code = (
        f"import sys, {module}\n"
        "roots = {'langchain_core', 'langchain_classic', 'langgraph', 'mcp'}\n"
        "print(','.join(sorted({m.split('.')[0] for m in sys.modules} & roots)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(filter(None, out.stdout.strip().split(",")))


@pytest.mark.parametrize(
    ("module", "allowed"),
    [
        ("priomem.adapters", set()),
        ("priomem.adapters.langchain", {"langchain_core", "langchain_classic"}),
        ("priomem.adapters.langgraph", {"langchain_core", "langgraph"}),
    ],
)
def test_dependencies_point_inward(module: str, allowed: set[str]) -> None:
    assert loaded_frameworks(module) <= allowed


def test_public_names_are_pinned() -> None:
    assert lc.__all__ == [
        "Classifier",
        "PriomemMemory",
        "PriomemRetriever",
        "default_classifier",
        "hit_to_document",
        "make_memory_tools",
    ]
    assert lg.__all__ == ["PriomemStore"]
    for module in (lc, lg):
        for name in module.__all__:
            assert getattr(module, name).__doc__, name
