"""The three memory tools, defined once: ``remember``, ``recall`` and ``forget``.

The MCP server, the LangChain tools and the function-calling export all use these
argument models, descriptions and behaviours, so a model sees the same tools everywhere.

    >>> tools = MemoryTools(engine)                                     # doctest: +SKIP
    >>> tools.dispatch("remember", {"content": "Prefers dark mode", "priority": "high"})  # doctest: +SKIP
    >>> openai_tools = tool_schemas("openai")
"""

from __future__ import annotations

import asyncio
import json
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

import pydantic_core
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from priomem._engine import MemoryEngine
from priomem._errors import InvalidInputError, NamespaceNotAllowedError, PriomemError
from priomem._models import RecallHit
from priomem._packing import approx_tokens, pack_hits
from priomem._priority import Priority
from priomem._timeparse import utcnow

__all__ = [
    "TOOL_SPECS",
    "ForgetArgs",
    "ForgetResult",
    "MemoryTools",
    "RecallArgs",
    "RecallHitOut",
    "RecallResult",
    "RememberArgs",
    "RememberResult",
    "ToolSpec",
    "tool_schemas",
]

PriorityName = Literal["low", "medium", "high", "critical"]


def _priority_name(value: Any) -> Any:
    """Accept any case and 1-4 for priorities; the schema shows the lower-case names."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | str | Priority):
        try:
            return Priority.parse(value).name.lower()
        except PriomemError:
            return value  # let pydantic report it against the allowed names
    return value


PriorityArg = Annotated[PriorityName, BeforeValidator(_priority_name)]
TimeArg = Annotated[
    str,
    Field(
        description='ISO 8601 time ("2026-05-01T12:00:00Z") or a relative form ("48h", "7d", "2w") counted back from now.'
    ),
]


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class RememberArgs(_Args):
    """Arguments of remember."""

    content: str = Field(
        description="The fact, event or decision to remember, as one self-contained statement."
    )
    priority: PriorityArg = Field(
        default="medium",
        description=(
            "How much it matters. critical: SLA commitments, compliance records, data lineage "
            "(never dropped); high: current state, allocations, quality metrics, user preferences; "
            "medium: history, trends, summaries (default); low: debug notes, temporary metrics "
            "(expire after 30 days, dropped first)."
        ),
    )
    tags: list[str] = Field(
        default_factory=list, description="Short labels to filter by later, e.g. ['etl', 'orders']."
    )
    namespace: str | None = Field(
        default=None, description="Whose memory (user, agent or tenant). Omit for the default."
    )
    metadata: dict[str, str | int | float | bool] | None = Field(
        default=None,
        description="Flat key/value facts about the memory (strings, numbers, booleans).",
    )
    ttl: str | int | None = Field(
        default=None,
        description='Forget automatically after this long, e.g. "7d", "48h", or seconds. Omit to keep the default retention.',
    )
    refs: list[str] = Field(default_factory=list, description="Ids of related memories (follow-ups, causes).")
    reads: list[str] = Field(
        default_factory=list,
        description="Datasets, tables or jobs the work described read (lineage), e.g. ['raw.orders', 's3://lake/orders'].",
    )
    writes: list[str] = Field(
        default_factory=list, description="Datasets, tables or jobs the work described wrote (lineage)."
    )
    thread: str | None = Field(
        default=None,
        description=(
            "The conversation or session this is a turn of (e.g. 'chat-2024-03-02'): turns of one "
            "thread are recalled in each other's context. Omit for a self-contained note."
        ),
    )


class RememberResult(BaseModel):
    """What remember returns."""

    id: str
    namespace: str
    priority: PriorityName
    created_at: str
    expires_at: str | None
    reinforced: bool = Field(
        description="True when the same content was already remembered; it was reinforced, not copied."
    )


class RecallArgs(_Args):
    """Arguments of recall."""

    query: str = Field(
        description="What you want to know, in natural language (words and meaning both count)."
    )
    k: int = Field(default=5, ge=1, le=1000, description="How many memories to return at most.")
    namespace: str | None = Field(default=None, description="Whose memory to search. Omit for the default.")
    tags: list[str] | None = Field(default=None, description="Only memories that carry all of these tags.")
    lineage: list[str] | None = Field(
        default=None, description="Only memories that read or wrote all of these datasets."
    )
    min_priority: PriorityArg | None = Field(
        default=None, description="Only memories at least this important."
    )
    since: TimeArg | None = Field(
        default=None, description='Only memories created since then ("48h" = in the last 48 hours).'
    )
    until: TimeArg | None = Field(default=None, description="Only memories created until then.")
    max_tokens: int | None = Field(
        default=None, ge=1, description="Return only the memories that fit in this many tokens."
    )


class RecallHitOut(BaseModel):
    """One recalled memory."""

    id: str
    content: str
    priority: PriorityName
    score: float
    tags: list[str]
    created_at: str
    parts: dict[str, float] = Field(
        description=(
            "What the score was made of, each 0-1: similarity (of meaning), lexical (word matches), "
            "relevance (the two fused), and the priority, recency and access boosts."
        )
    )


class RecallResult(BaseModel):
    """What recall returns."""

    namespace: str
    hits: list[RecallHitOut]
    omitted: int = Field(default=0, description="Hits left out because they did not fit in max_tokens.")


class ForgetArgs(_Args):
    """Arguments of forget."""

    ids: list[str] | None = Field(default=None, description="Ids of the memories to forget.")
    namespace: str | None = Field(default=None, description="Whose memory. Omit for the default.")
    tags: list[str] | None = Field(default=None, description="Forget memories that carry all of these tags.")
    lineage: list[str] | None = Field(
        default=None, description="Forget memories that read or wrote all of these datasets."
    )
    before: TimeArg | None = Field(default=None, description="Forget memories created before then.")
    max_priority: PriorityArg | None = Field(
        default=None, description="Forget only memories at most this important."
    )
    dry_run: bool = Field(default=False, description="Only report what would be forgotten.")


class ForgetResult(BaseModel):
    """What forget returns."""

    namespace: str
    count: int
    ids: list[str]
    dry_run: bool


@dataclass(frozen=True)
class ToolSpec:
    """Name, description, argument and result models, and hints of one tool."""

    name: str
    description: str
    args: type[_Args]
    result: type[BaseModel]
    read_only: bool
    destructive: bool
    idempotent: bool


TOOL_SPECS: dict[str, ToolSpec] = {
    "remember": ToolSpec(
        name="remember",
        description=(
            "Store a fact, event, decision or preference in long-term memory so it can be recalled in "
            "later conversations. Write one self-contained statement. Choose the priority by what "
            "losing it would cost: critical for SLA commitments, compliance records and data lineage; "
            "high for current state, allocations, quality metrics and user preferences; medium for "
            "history, trends and summaries; low for debug notes and temporary metrics. Remembering the "
            "same content again reinforces it instead of duplicating it."
        ),
        args=RememberArgs,
        result=RememberResult,
        read_only=False,
        destructive=False,
        idempotent=False,
    ),
    "recall": ToolSpec(
        name="recall",
        description=(
            "Search long-term memory before answering anything that may depend on earlier "
            "conversations, decisions or events. Ranked by meaning, matching words, priority and "
            "recency. Narrow with tags, min_priority, or a time window (since='48h' for the last two "
            "days). Returns no hits when nothing is stored; that is not an error."
        ),
        args=RecallArgs,
        result=RecallResult,
        read_only=True,
        destructive=False,
        idempotent=True,
    ),
    "forget": ToolSpec(
        name="forget",
        description=(
            "Permanently delete memories: by ids (from recall), or by tags, age (before) and "
            "max_priority. Needs at least one of them. Use dry_run=true first to see what would go. "
            "Use it when the user asks to forget something or a memory is wrong."
        ),
        args=ForgetArgs,
        result=ForgetResult,
        read_only=False,
        destructive=True,
        idempotent=True,
    ),
}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def validation_error(exc: ValidationError, tool: str) -> InvalidInputError:
    """A pydantic error as an :class:`InvalidInputError` that names the field."""
    errors = exc.errors()
    # A misspelt name also shows up as a missing required one; the unknown name is the real fault.
    first = next((e for e in errors if e.get("type") == "extra_forbidden"), errors[0])
    field = ".".join(str(p) for p in first.get("loc", ())) or "arguments"
    message = first.get("msg", "invalid value")
    allowed = ", ".join(TOOL_SPECS[tool].args.model_fields)
    if first.get("type") == "extra_forbidden":
        message = f"unknown argument; {tool} takes {allowed}"
    elif first.get("type") == "missing":
        message = f"required; {tool} needs it (arguments: {allowed})"
    return InvalidInputError(f"{field}: {message}.", field=field)


class MemoryTools:
    """The behaviour of the three tools on an engine, with a namespace policy.

    ``namespace``: the default namespace of calls that name none. ``allowed_namespaces``:
    when given, the only namespaces calls may use (a token's, or a locked server's).
    """

    def __init__(
        self,
        engine: MemoryEngine,
        *,
        namespace: str | None = None,
        allowed_namespaces: Iterable[str] | None = None,
        max_k: int | None = None,
    ) -> None:
        self.engine = engine
        self.allowed = frozenset(allowed_namespaces) if allowed_namespaces is not None else None
        self.namespace = namespace or (
            sorted(self.allowed)[0]
            if self.allowed and engine.settings.default_namespace not in self.allowed
            else engine.settings.default_namespace
        )
        self.max_k = max_k

    def _ns(self, requested: str | None) -> str:
        namespace = self.namespace if requested is None else requested
        if self.allowed is not None and namespace not in self.allowed:
            raise NamespaceNotAllowedError(
                f"namespace: {namespace!r} is not allowed here; use one of: {', '.join(sorted(self.allowed))} "
                "(or omit namespace for your default).",
                field="namespace",
            )
        return namespace

    @staticmethod
    def parse(name: str, arguments: Any, *, max_k: int | None = None) -> _Args:
        """Validate ``arguments`` (a dict or a JSON string) for tool ``name``; ``max_k``: a
        server's limit of ``k``, said as such for any ``k`` above it."""
        spec = TOOL_SPECS.get(name)
        if spec is None:
            raise InvalidInputError(
                f"tool: unknown tool {name!r}; use one of {', '.join(TOOL_SPECS)}.", field="tool"
            )
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError as exc:
                raise InvalidInputError(
                    f"arguments: not valid JSON ({exc.msg}); send a JSON object.", field="arguments"
                ) from None
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            raise InvalidInputError(
                "arguments: expected a JSON object of named arguments.", field="arguments"
            )
        k = _whole_number(arguments.get("k"))
        if max_k is not None and k is not None and k > max_k:
            raise _over_limit(k, max_k)
        try:
            return spec.args.model_validate(arguments)
        except ValidationError as exc:
            raise validation_error(exc, name) from None

    # -- behaviours --------------------------------------------------------------------
    def remember(self, args: RememberArgs) -> RememberResult:
        started = utcnow()
        memory = self.engine.remember(
            args.content,
            priority=args.priority,
            namespace=self._ns(args.namespace),
            tags=args.tags,
            metadata=args.metadata,
            ttl=args.ttl,
            refs=args.refs,
            reads=args.reads,
            writes=args.writes,
            thread=args.thread,
        )
        return RememberResult(
            id=memory.id,
            namespace=memory.namespace,
            priority=memory.priority.name.lower(),  # type: ignore[arg-type]
            created_at=memory.created_at.isoformat(),
            expires_at=_iso(memory.expires_at),
            reinforced=memory.stored_at < started,
        )

    def recall(self, args: RecallArgs) -> RecallResult:
        k = args.k
        if self.max_k is not None and k > self.max_k:
            raise _over_limit(k, self.max_k)
        namespace = self._ns(args.namespace)
        hits = self.engine.recall(
            args.query,
            k=k,
            namespace=namespace,
            tags=args.tags,
            lineage=args.lineage,
            min_priority=args.min_priority,
            since=args.since,
            until=args.until,
        )
        out = [
            RecallHitOut(
                id=h.memory.id,
                content=h.memory.content,
                priority=h.memory.priority.name.lower(),  # type: ignore[arg-type]
                score=round(h.score, 6),
                tags=list(h.memory.tags),
                created_at=h.memory.created_at.isoformat(),
                parts=h.parts.to_dict(),
            )
            for h in hits
        ]
        if args.max_tokens is None:
            return RecallResult(namespace=namespace, hits=out, omitted=0)
        return _pack_result(namespace, hits, out, args.max_tokens)

    def forget(self, args: ForgetArgs) -> ForgetResult:
        namespace = self._ns(args.namespace)
        if args.ids is None and not (args.tags or args.lineage or args.before or args.max_priority):
            raise InvalidInputError(
                "forget needs ids, or at least one of tags, lineage, before, max_priority; nothing was deleted.",
                field="ids",
            )
        report = self.engine.forget_report(
            args.ids,
            namespace=namespace,
            tags=args.tags,
            lineage=args.lineage,
            before=args.before,
            max_priority=args.max_priority,
            dry_run=args.dry_run,
        )
        return ForgetResult(
            namespace=namespace, count=report.count, ids=list(report.ids), dry_run=report.dry_run
        )

    def run(self, name: str, arguments: Any) -> BaseModel:
        """Validate and run one call; raises :class:`PriomemError` on bad input."""
        args = self.parse(name, arguments)
        handler: Callable[[Any], BaseModel] = getattr(self, name)
        return handler(args)

    async def arun(self, name: str, arguments: Any) -> BaseModel:
        """Async :meth:`run` (the sync core in a worker thread)."""
        return await asyncio.to_thread(self.run, name, arguments)

    def dispatch(self, name: str, arguments: Any) -> dict[str, Any]:
        """Run a function call from any assistant and return a JSON-ready dict.

        Errors come back as ``{"error": message, "field": name}`` rather than raising,
        so the result can be handed straight back to the model.
        """
        try:
            return self.run(name, arguments).model_dump(mode="json")
        except PriomemError as exc:
            return {"error": exc.message, "field": exc.field}


def _whole_number(value: Any) -> int | None:
    """``value`` as the whole number validation would read it (5000, "5000", 5000.0), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _over_limit(k: int, max_k: int) -> InvalidInputError:
    return InvalidInputError(f"k: {k} is over this server's limit of {max_k}; ask for fewer.", field="k")


def _as_text(result: BaseModel) -> str:
    # What an MCP client shows the model: the SDK's indented JSON, the longest of the forms
    # a result takes (compact JSON for function calling is shorter), so a budget counted
    # on it holds on every surface.
    return pydantic_core.to_json(result, indent=2).decode()


def _pack_result(
    namespace: str, hits: list[RecallHit], out: list[RecallHitOut], max_tokens: int
) -> RecallResult:
    """The hits whose JSON fits ``max_tokens`` (envelope included), chosen by ``pack_hits``."""
    by_id = {h.memory.id: o for h, o in zip(hits, out, strict=True)}
    envelope = _as_text(RecallResult(namespace=namespace, hits=[], omitted=len(hits)))

    def line(hit: RecallHit) -> str:  # the hit as it appears nested in the result, comma included
        return textwrap.indent(_as_text(by_id[hit.memory.id]), "    ") + ","

    packed = pack_hits(hits, max_tokens, count_tokens=approx_tokens, header=envelope, line=line)
    kept = [by_id[h.memory.id] for h in packed.hits]
    result = RecallResult(namespace=namespace, hits=kept, omitted=len(hits) - len(kept))
    while kept and approx_tokens(_as_text(result)) > max_tokens:  # a margin the estimate missed
        kept.pop()
        result = RecallResult(namespace=namespace, hits=kept, omitted=len(hits) - len(kept))
    return result


def tool_schemas(
    style: Literal["openai", "anthropic", "json"] = "openai", *, max_k: int | None = None
) -> list[dict[str, Any]]:
    """The three tools as function-calling definitions.

    ``openai``: ``[{"type": "function", "function": {"name", "description", "parameters"}}]``;
    ``anthropic``: ``[{"name", "description", "input_schema"}]``; ``json``: name,
    description and JSON Schema of the arguments. ``max_k``: the largest ``k`` the caller
    will accept (a server's limit), so the schema says what the server does.
    """
    out: list[dict[str, Any]] = []
    for spec in TOOL_SPECS.values():
        schema = spec.args.model_json_schema()
        schema.pop("title", None)
        if max_k is not None and "k" in schema.get("properties", {}):
            schema["properties"]["k"]["maximum"] = min(int(schema["properties"]["k"]["maximum"]), max_k)
        if style == "openai":
            out.append(
                {
                    "type": "function",
                    "function": {
                        "name": spec.name,
                        "description": spec.description,
                        "parameters": schema,
                    },
                }
            )
        elif style == "anthropic":
            out.append({"name": spec.name, "description": spec.description, "input_schema": schema})
        elif style == "json":
            out.append({"name": spec.name, "description": spec.description, "parameters": schema})
        else:
            raise InvalidInputError(
                f"style: {style!r} is unknown; use openai, anthropic or json.", field="style"
            )
    return out
