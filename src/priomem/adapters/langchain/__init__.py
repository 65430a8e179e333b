"""LangChain adapters for priomem: a retriever, a classic memory and the memory tools.

Install with ``pip install "priomem[langchain]"``. Each takes the engine as ``engine``::

    from priomem import MemoryEngine
    from priomem.adapters.langchain import PriomemMemory, PriomemRetriever, make_memory_tools

    engine = MemoryEngine("./memory")
    retriever = PriomemRetriever(engine=engine, k=3)
    memory = PriomemMemory(engine=engine, max_tokens=500)
    tools = make_memory_tools(engine, namespace="user:alice")

The LangGraph store lives in :mod:`priomem.adapters.langgraph`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from priomem._extras import require
from priomem._lazy import lazy_exports

# The retriever and the tools need only langchain-core (a LangChain v1 or LangGraph setup
# has it); the classic memory also needs langchain-classic, imported only when used.
require("langchain", "langchain_core", what="priomem.adapters.langchain")

if TYPE_CHECKING:
    from priomem.adapters.langchain.memory import Classifier, PriomemMemory, default_classifier
    from priomem.adapters.langchain.retriever import PriomemRetriever, hit_to_document
    from priomem.adapters.langchain.tools import make_memory_tools

__all__ = [
    "Classifier",
    "PriomemMemory",
    "PriomemRetriever",
    "default_classifier",
    "hit_to_document",
    "make_memory_tools",
]

_WHERE = {
    "Classifier": "memory",
    "PriomemMemory": "memory",
    "default_classifier": "memory",
    "PriomemRetriever": "retriever",
    "hit_to_document": "retriever",
    "make_memory_tools": "tools",
}


def _check(name: str, module: str) -> None:
    if module == "memory":
        require("langchain", "langchain_classic", what=f"priomem.adapters.langchain.{name} (classic memory)")


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, check=_check)
