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
