"""LangGraph adapter for priomem: :class:`PriomemStore`, a long-term ``BaseStore``.

Install with ``pip install "priomem[langgraph]"``::

    from priomem import MemoryEngine
    from priomem.adapters.langgraph import PriomemStore

    store = PriomemStore(engine=MemoryEngine("./memory"))
    graph = builder.compile(store=store)
"""

from priomem._extras import require

require("langgraph", "langgraph", what="priomem.adapters.langgraph")

from priomem.adapters.langgraph.store import PriomemStore  # noqa: E402

__all__ = ["PriomemStore"]
