"""priomem: long-term memory for LLM agents that knows what matters.

A priority-memory engine on ChromaDB: remember text with a priority, tags, a namespace
and a time; recall it by meaning and by words, ranked by similarity, priority and
recency; forget it by id, by filter or by expiry.

    >>> from priomem import MemoryEngine, Priority
    >>> engine = MemoryEngine("./memory")                          # doctest: +SKIP
    >>> engine.remember("SLA: orders table fresh by 06:00", priority="critical")  # doctest: +SKIP

Importing priomem loads neither LangChain nor MCP nor the embedding model.
"""

from priomem._audit import AuditRecord
from priomem._consolidate import Consolidation
from priomem._embedding import (
    DEFAULT_MODEL_NAME,
    Embedder,
    HashEmbedder,
    SentenceTransformerEmbedder,
)
from priomem._engine import MemoryEngine, WriteReport
from priomem._errors import (
    EmbeddingError,
    FormatError,
    InvalidInputError,
    InvalidPriorityError,
    ModelMismatchError,
    NamespaceNotAllowedError,
    NotFoundError,
    PriomemError,
    QuotaExceededError,
    StoreError,
    StoreLockedError,
    StoreUnavailableError,
    WrongTypeError,
)
from priomem._export import ImportReport
from priomem._lineage import Lineage, LineageStep
from priomem._models import ForgetReport, Memory, RecallHit, ScoreParts
from priomem._packing import PackResult, approx_tokens, pack_hits
from priomem._priority import Priority
from priomem._quota import Quota
from priomem._repair import NamespaceCheck
from priomem._retention import RetentionPolicy
from priomem._scoring import Weights
from priomem._settings import Settings
from priomem._timeparse import parse_duration, parse_time
from priomem._validation import validate_namespace, validate_tags

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_MODEL_NAME",
    "AuditRecord",
    "Consolidation",
    "Embedder",
    "EmbeddingError",
    "ForgetReport",
    "FormatError",
    "HashEmbedder",
    "ImportReport",
    "InvalidInputError",
    "InvalidPriorityError",
    "Lineage",
    "LineageStep",
    "Memory",
    "MemoryEngine",
    "ModelMismatchError",
    "NamespaceCheck",
    "NamespaceNotAllowedError",
    "NotFoundError",
    "PackResult",
    "PriomemError",
    "Priority",
    "Quota",
    "QuotaExceededError",
    "RecallHit",
    "RetentionPolicy",
    "ScoreParts",
    "SentenceTransformerEmbedder",
    "Settings",
    "StoreError",
    "StoreLockedError",
    "StoreUnavailableError",
    "Weights",
    "WriteReport",
    "WrongTypeError",
    "__version__",
    "approx_tokens",
    "pack_hits",
    "parse_duration",
    "parse_time",
    "validate_namespace",
    "validate_tags",
]
