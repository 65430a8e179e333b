"""Without an extra, every entry point names the extra it needs (issue 15, case 2).

A base install is simulated in a subprocess: a finder at the front of ``sys.meta_path``
makes the extras' packages unimportable, as they are when only ``pip install priomem``
ran (``importlib.util.find_spec`` then finds nothing, and ``import`` fails).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

HIDE = """
import importlib.abc, sys
HIDDEN = set(sys.argv[1].split(","))
class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Hide())
"""


def run(hidden: str, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", HIDE + code, hidden], capture_output=True, text=True, timeout=120
    )


def test_the_mcp_server_names_its_extra() -> None:
    done = run("mcp,uvicorn,starlette", "from priomem.mcp_server.__main__ import main; sys.exit(main([]))")
    assert done.returncode == 2, done.stderr
    assert "pip install 'priomem[mcp]'" in done.stderr and "Traceback" not in done.stderr


def test_langchain_tools_and_retriever_need_only_langchain_core() -> None:
    done = run(
        "langchain_classic",
        "from priomem.adapters.langchain import make_memory_tools, PriomemRetriever; print('ok')",
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
    classic = run("langchain_classic", "from priomem.adapters.langchain import PriomemMemory")
    assert "pip install 'priomem[langchain]'" in classic.stderr and "langchain_classic" in classic.stderr


@pytest.mark.parametrize(
    ("hidden", "code", "extra"),
    [
        ("langchain_core,langchain_classic", "import priomem.adapters.langchain", "langchain"),
        ("langgraph", "from priomem.adapters.langgraph import PriomemStore", "langgraph"),
    ],
)
def test_adapters_name_their_extra(hidden: str, code: str, extra: str) -> None:
    done = run(hidden, code)
    assert done.returncode != 0 and f"pip install 'priomem[{extra}]'" in done.stderr
