"""``PriomemMemory`` in a chain: what matters comes back, within a token budget.

A chat chain loads its memory before each turn and saves the exchange after it. The
memory recalls what is relevant to the new message and packs it, most important first,
into ``max_tokens``; a classifier decides each exchange's priority. The chat model is
LangChain's scripted fake, so the example runs offline; the memory is real.

    python examples/classic_memory.py
"""

from __future__ import annotations

import re
import tempfile
from operator import itemgetter
from typing import Any

from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.prompt_values import PromptValue
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import Runnable, RunnableLambda, RunnablePassthrough

from priomem import Embedder, MemoryEngine, Priority
from priomem.adapters.langchain import PriomemMemory

PROMPT = ChatPromptTemplate.from_messages(
    [("system", "You are a data-platform assistant.\n{history}"), ("human", "{input}")]
)


def classify(inputs: dict[str, Any], outputs: dict[str, Any]) -> Priority:
    """Commitments are CRITICAL, preferences HIGH, asides LOW, the rest MEDIUM."""
    text = inputs["input"].lower()
    if re.search(r"\b(must|sla|deadline|compliance)\b", text):
        return Priority.CRITICAL
    if re.search(r"\b(prefer|always|never)\b", text):
        return Priority.HIGH
    if text.startswith("by the way"):
        return Priority.LOW
    return Priority.MEDIUM


def build_chain(memory: PriomemMemory, answers: list[str], seen: list[str]) -> Runnable[dict[str, Any], Any]:
    """input -> {input, history} -> prompt -> model; ``seen`` collects each system prompt."""

    def record(prompt: PromptValue) -> PromptValue:
        seen.append(str(prompt.to_messages()[0].content))
        return prompt

    load = RunnableLambda(memory.load_memory_variables) | itemgetter(memory.memory_key)
    model = FakeListChatModel(responses=answers)
    return RunnablePassthrough.assign(history=load) | PROMPT | RunnableLambda(record) | model


def chat(chain: Runnable[dict[str, Any], Any], memory: PriomemMemory, text: str) -> str:
    """One turn: run the chain, then save the exchange into long-term memory."""
    answer = str(chain.invoke({"input": text}).content)
    memory.save_context({"input": text}, {"output": answer})
    print(f"  user: {text}\n  assistant: {answer}")
    return answer


def main(folder: str, embedder: Embedder | None = None) -> None:
    """Two sessions on a store in ``folder`` (default embedder: the packaged model)."""
    with MemoryEngine(folder, embedder=embedder) as engine:
        memory = PriomemMemory(
            engine=engine, namespace="team:data", max_tokens=60, classifier=classify, tags=["chat"]
        )
        seen: list[str] = []
        print("Session 1")
        chain = build_chain(
            memory,
            ["Understood, 06:00 UTC it is.", "Noted, UTC everywhere.", "Ha, noted.", "Thanks, noted."],
            seen,
        )
        chat(chain, memory, "The orders ETL must land by 06:00 UTC every day, that is our SLA.")
        chat(chain, memory, "I prefer all timestamps in UTC.")
        chat(chain, memory, "By the way, the ETL server is called Pluto.")
        chat(chain, memory, "Last week's ETL runs took about 40 minutes.")
        for m in engine.list(namespace="team:data"):
            print(f"  stored [{m.priority.name}] {m.content.splitlines()[0]}")

        print("Session 2")
        question = "When does the orders ETL have to be done?"
        chain = build_chain(memory, ["It must land by 06:00 UTC."], seen)
        chat(chain, memory, question)
        context = seen[-1].split("\n", 1)[1]
        shown = sum(line.startswith("- [") for line in context.splitlines())
        print(f"  the model was shown {shown} of 4 memories (all that fit in 60 tokens):")
        print("    " + context.replace("\n", "\n    "))
        assert memory.count_tokens(context) <= 60
        assert context.splitlines()[1].startswith("- [CRITICAL"), context

        engine.remember("Web deploys happen on Thursdays.", namespace="team:web")
        memory.clear()  # forgets team:data only
        assert engine.list(namespace="team:data") == []
        assert len(engine.list(namespace="team:web")) == 1
        print("After clear(): team:data holds no memories; team:web still holds its one")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="priomem-example-") as tmp:
        main(tmp)
