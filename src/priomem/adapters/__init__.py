"""Adapters that put a :class:`~priomem.MemoryEngine` behind other frameworks' interfaces.

- :mod:`priomem.adapters.langchain`: a retriever, a classic ``BaseMemory`` and the
  remember/recall/forget tools (extra ``priomem[langchain]``).
- :mod:`priomem.adapters.langgraph`: a LangGraph long-term ``BaseStore``
  (extra ``priomem[langgraph]``).

The adapters import the engine's public API; the engine never imports them, so
``import priomem`` loads no framework. This package imports nothing by itself.
"""
