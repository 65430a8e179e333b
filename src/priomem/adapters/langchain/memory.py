"""``PriomemMemory``: a classic LangChain ``BaseMemory`` that recalls into a token budget."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, Protocol, runtime_checkable

from langchain_classic.base_memory import BaseMemory
from langchain_core.messages import BaseMessage, SystemMessage
from pydantic import ConfigDict, Field, field_validator

from priomem import InvalidInputError, MemoryEngine, PackResult, Priority, RecallHit, approx_tokens, pack_hits

__all__ = ["Classifier", "PriomemMemory", "default_classifier"]


@runtime_checkable
class Classifier(Protocol):
    """Decides the priority of an exchange from the chain's inputs and outputs.

    Any callable ``(inputs, outputs) -> priority`` will do; the priority may be a
    :class:`~priomem.Priority`, its name or 1-4::

        def classify(inputs, outputs):
            return "critical" if "SLA" in inputs["input"] else "medium"
    """

    def __call__(self, inputs: dict[str, Any], outputs: dict[str, Any], /) -> Priority | str | int: ...


def default_classifier(inputs: dict[str, Any], outputs: dict[str, Any]) -> Priority:
    """Every exchange is MEDIUM (history); pass ``classifier=`` to decide otherwise."""
    return Priority.MEDIUM


def _single_key(values: Mapping[str, Any], ignore: set[str], what: str) -> str:
    keys = [k for k in values if k not in ignore]
    if len(keys) != 1:
        raise InvalidInputError(
            f"{what}_key: cannot tell which of {sorted(keys)} is the {what}; set {what}_key=.",
            field=f"{what}_key",
        )
    return keys[0]


class PriomemMemory(BaseMemory):
    """Long-term memory for classic LangChain chains, packed into a token budget.

    ``load_memory_variables`` recalls the memories relevant to the chain's input and
    packs them, best first (CRITICAL ones ahead of others of similar score), into
    ``max_tokens``: the header and every line count, and a memory that does not fit is
    left out whole, never cut. ``save_context`` remembers each exchange with the
    priority ``classifier`` gives it and ``tags``; ``clear`` forgets this memory's
    namespace and nothing else::

        memory = PriomemMemory(engine=engine, namespace="user:alice", max_tokens=500,
                               classifier=lambda i, o: "critical" if "SLA" in i["input"] else "medium")
        chain = ConversationChain(llm=model, memory=memory)

    ``return_messages=True`` returns the packed text as one ``SystemMessage`` (no
    message when nothing fits) instead of a string. ``count_tokens`` is pluggable: the
    default counts about one token per four characters and needs no download; pass a
    real tokenizer's counter (e.g. ``lambda s: len(enc.encode(s))``) for exact budgets.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    engine: MemoryEngine = Field(exclude=True)
    """The engine to remember into and recall from."""
    namespace: str | None = None
    """Whose memory; None is the engine's default namespace."""
    max_tokens: int = Field(default=1000, ge=1)
    """Budget of everything ``load_memory_variables`` returns, header included."""
    k: int = Field(default=20, ge=1)
    """How many memories to recall before packing."""
    min_priority: Priority | None = None
    """Recall only memories at least this important."""
    memory_key: str = "history"
    """The variable the packed memories are returned under."""
    input_key: str | None = None
    """The input that holds the user's message (None: the only input that is not memory)."""
    output_key: str | None = None
    """The output that holds the answer (None: the only output)."""
    return_messages: bool = False
    """Return a list of messages instead of a string."""
    header: str = "Relevant long-term memories (most important first):"
    """The first line of the packed text; it counts against ``max_tokens``."""
    count_tokens: Callable[[str], int] = approx_tokens
    """Counts the tokens of a text; the default needs no download."""
    classifier: Classifier = default_classifier
    """Gives each saved exchange its priority."""
    tags: list[str] = Field(default_factory=list)
    """Tags every saved exchange carries."""
    thread: str | None = None
    """The conversation the saved exchanges are turns of: recalled in each other's context
    (None: each exchange is judged on its own)."""
    ttl: timedelta | str | float | None = None
    """Forget saved exchanges after this long (None: the priority's default retention)."""
    human_prefix: str = "Human"
    """How the user's turn is labelled in a saved exchange."""
    ai_prefix: str = "AI"
    """How the answer is labelled in a saved exchange."""

    @field_validator("min_priority", mode="before")
    @classmethod
    def _parse_priority(cls, value: Any) -> Priority | None:
        return None if value is None else Priority.parse(value, field="min_priority")

    @property
    def memory_variables(self) -> list[str]:
        """The one variable this memory adds to a chain's inputs: ``memory_key``."""
        return [self.memory_key]

    # -- load --------------------------------------------------------------------------
    def _query(self, inputs: dict[str, Any]) -> str | None:
        key = self.input_key or _single_key(inputs, {self.memory_key, "stop"}, "input")
        value = inputs.get(key)
        return value if isinstance(value, str) and value.strip() else None

    def _recall_kwargs(self) -> dict[str, Any]:
        return {"k": self.k, "namespace": self.namespace, "min_priority": self.min_priority}

    def pack(self, hits: list[RecallHit]) -> PackResult:
        """Pack ``hits`` into ``max_tokens`` with this memory's header and token counter."""
        return pack_hits(hits, self.max_tokens, count_tokens=self.count_tokens, header=self.header)

    def _variables(self, hits: list[RecallHit]) -> dict[str, Any]:
        text = self.pack(hits).text
        if self.return_messages:
            messages: list[BaseMessage] = [SystemMessage(content=text)] if text else []
            return {self.memory_key: messages}
        return {self.memory_key: text}

    def load_memory_variables(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """The memories relevant to the chain's input, packed into ``max_tokens``."""
        query = self._query(inputs)
        hits = self.engine.recall(query, **self._recall_kwargs()) if query else []
        return self._variables(hits)

    async def aload_memory_variables(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Async :meth:`load_memory_variables` (the engine's async recall)."""
        query = self._query(inputs)
        hits = await self.engine.arecall(query, **self._recall_kwargs()) if query else []
        return self._variables(hits)

    # -- save --------------------------------------------------------------------------
    def _exchange(self, inputs: dict[str, Any], outputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        in_key = self.input_key or _single_key(inputs, {self.memory_key, "stop"}, "input")
        out_key = self.output_key or _single_key(outputs, set(), "output")
        content = f"{self.human_prefix}: {inputs[in_key]}\n{self.ai_prefix}: {outputs[out_key]}"
        return content, {
            "priority": self.classifier(inputs, outputs),
            "namespace": self.namespace,
            "tags": self.tags,
            "ttl": self.ttl,
            "thread": self.thread,
            "metadata": {"kind": "exchange"},
        }

    def save_context(self, inputs: dict[str, Any], outputs: dict[str, Any]) -> None:
        """Remember the exchange, with the classifier's priority and the configured tags."""
        content, kwargs = self._exchange(inputs, outputs)
        self.engine.remember(content, **kwargs)

    async def asave_context(self, inputs: dict[str, Any], outputs: dict[str, Any]) -> None:
        """Async :meth:`save_context` (the engine's async remember)."""
        content, kwargs = self._exchange(inputs, outputs)
        await self.engine.aremember(content, **kwargs)

    # -- clear -------------------------------------------------------------------------
    def clear(self) -> None:
        """Forget every memory of this memory's namespace; other namespaces are untouched."""
        self.engine.forget(namespace=self.namespace, everything=True)

    async def aclear(self) -> None:
        """Async :meth:`clear`."""
        await self.engine.aforget(namespace=self.namespace, everything=True)
