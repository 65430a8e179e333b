"""The public surface is explicit and the engine stays free of LangChain and MCP."""

from __future__ import annotations

import subprocess
import sys

import priomem

EXPECTED = {
    "AuditRecord",
    "Consolidation",
    "ImportReport",
    "Quota",
    "RetentionPolicy",
    "WriteReport",
    "DEFAULT_MODEL_NAME",
    "Embedder",
    "EmbeddingError",
    "ForgetReport",
    "NamespaceCheck",
    "FormatError",
    "HashEmbedder",
    "InvalidInputError",
    "InvalidPriorityError",
    "Lineage",
    "LineageStep",
    "Memory",
    "MemoryEngine",
    "ModelMismatchError",
    "NamespaceNotAllowedError",
    "NotFoundError",
    "PackResult",
    "PriomemError",
    "Priority",
    "QuotaExceededError",
    "RecallHit",
    "ScoreParts",
    "SentenceTransformerEmbedder",
    "Settings",
    "StoreError",
    "StoreLockedError",
    "StoreUnavailableError",
    "Weights",
    "WrongTypeError",
    "__version__",
    "approx_tokens",
    "pack_hits",
    "parse_duration",
    "parse_time",
    "validate_namespace",
    "validate_tags",
}


def test_all_is_pinned() -> None:
    assert set(priomem.__all__) == EXPECTED
    assert len(priomem.__all__) == len(EXPECTED)
    for name in priomem.__all__:
        assert hasattr(priomem, name), name


def test_import_loads_no_framework_and_no_model() -> None:
    code = (
        "import sys, priomem, priomem.tools, priomem.cli\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "{'langchain_core', 'langchain_classic', 'langgraph', 'mcp', 'sentence_transformers', 'torch', 'chromadb'}]\n"
        "print(','.join(sorted(bad)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_errors_form_one_tree() -> None:
    for name in priomem.__all__:
        obj = getattr(priomem, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, priomem.PriomemError)
    assert issubclass(priomem.InvalidInputError, ValueError)
    assert issubclass(priomem.WrongTypeError, TypeError)


def test_only_one_module_imports_chromadb_and_sentence_transformers() -> None:
    from pathlib import Path

    src = Path(priomem.__file__).parent
    chroma, st = [], []
    for path in src.rglob("*.py"):
        text = path.read_text()
        if "import chromadb" in text or "from chromadb" in text:
            chroma.append(path.name)
        if "sentence_transformers" in text and "import" in text.split("sentence_transformers")[0][-40:]:
            st.append(path.name)
    assert chroma == ["_store.py"]
    assert st == ["_embedding.py"]
