"""The layer contract: which package of ``src/priomem`` may import which (README, "Development").

Every import in every module counts, including the lazy ones inside functions. The test
fails when an arrow points the wrong way: the engine importing a surface, the browser
importing the MCP server, chromadb imported outside the storage module, and so on.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "priomem"

#: Third-party packages only surfaces use: the engine, tools and serving never import them.
SURFACE_LIBRARIES = {
    "langchain_core",
    "langchain_classic",
    "langgraph",
    "mcp",
    "mcp_types",
    "starlette",
    "sse_starlette",
}
#: HTTP serving machinery: serving's header limits, and the surfaces that serve HTTP.
HTTP_LIBRARIES = {"uvicorn", "h11"}


@dataclass(frozen=True)
class Layer:
    name: str
    #: priomem layers this one may import (besides itself).
    may_import: frozenset[str]
    #: third-party packages this one may import, of SURFACE_LIBRARIES | HTTP_LIBRARIES.
    libraries: frozenset[str] = frozenset()


LAYERS = {
    "engine": Layer("engine", frozenset()),
    "tools": Layer("tools", frozenset({"engine"})),
    "serving": Layer("serving", frozenset({"engine"}), frozenset(HTTP_LIBRARIES)),
    "ui": Layer("ui", frozenset({"engine", "serving"}), frozenset({"starlette", *HTTP_LIBRARIES})),
    "mcp_server": Layer(
        "mcp_server",
        frozenset({"engine", "tools", "serving"}),
        frozenset({"mcp", "mcp_types", "starlette", "sse_starlette", *HTTP_LIBRARIES}),
    ),
    "adapters.langchain": Layer(
        "adapters.langchain",
        frozenset({"engine", "tools"}),
        frozenset({"langchain_core", "langchain_classic"}),
    ),
    "adapters.langgraph": Layer(
        "adapters.langgraph", frozenset({"engine"}), frozenset({"langgraph", "langchain_core"})
    ),
    "adapters": Layer("adapters", frozenset({"engine"})),
    "cli": Layer("cli", frozenset({"engine", "serving", "ui"})),
}
#: The one arrow outside the table: the MCP server mounts the memory browser, here only.
EXCEPTIONS = {("priomem.mcp_server._http", "ui")}
#: Only the storage module talks to Chroma (``_compaction`` runs Chroma's CLI as a program).
CHROMA_MODULES = {"priomem._store"}


def layer_of(module: str) -> str:
    """The layer of a module ``priomem.x.y`` (or of an imported name's module)."""
    parts = module.split(".")
    if parts[0] != "priomem":
        raise ValueError(module)
    head = parts[1] if len(parts) > 1 else "__init__"
    if head in ("ui", "mcp_server", "serving", "cli", "tools"):
        return head
    if head == "adapters":
        return f"adapters.{parts[2]}" if len(parts) > 2 and not parts[2].startswith("_") else "adapters"
    if head == "__main__":
        return "cli"
    return "engine"  # priomem/__init__.py and every priomem/_*.py


def modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(SRC).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        out.append((".".join(parts), path))
    return out


def imports(module: str, path: Path) -> list[tuple[str, int]]:
    """Every module name ``path`` imports (absolute), with its line."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[str, int]] = []
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((base, node.lineno))
            # ``from priomem.ui import _views`` imports the module priomem.ui._views.
            found += [
                (f"{base}.{alias.name}", node.lineno) for alias in node.names if base.startswith("priomem")
            ]
    return found


def violations() -> list[str]:
    problems = []
    for module, path in modules():
        mine = layer_of(module)
        layer = LAYERS[mine]
        for name, line in imports(module, path):
            top = name.split(".")[0]
            where = f"{path.relative_to(SRC)}:{line}: {module} ({mine}) imports {name}"
            if top == "priomem":
                if name == "priomem":
                    continue
                theirs = layer_of(name)
                if theirs != mine and theirs not in layer.may_import and (module, theirs) not in EXCEPTIONS:
                    problems.append(f"{where} ({theirs})")
            elif top == "chromadb" or top.startswith("chromadb_"):
                if module not in CHROMA_MODULES:
                    problems.append(f"{where}: only {', '.join(sorted(CHROMA_MODULES))} may use Chroma")
            elif top in SURFACE_LIBRARIES | HTTP_LIBRARIES and top not in layer.libraries:
                problems.append(f"{where}: a {mine} module may not use {top}")
    return problems


def test_every_import_follows_the_layer_contract() -> None:
    problems = violations()
    assert not problems, "imports against the layer contract:\n" + "\n".join(problems)


def test_no_module_imports_another_modules_private_names() -> None:
    problems = []
    for module, path in modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith("priomem"):
                continue
            for alias in node.names:
                target = f"{node.module}.{alias.name}"
                is_module = any(m == target for m, _ in modules())
                private = alias.name.startswith("_") and not alias.name.endswith("__")
                if private and not is_module and node.module != module:
                    problems.append(f"{path.relative_to(SRC)}:{node.lineno}: {module} imports {target}")
    assert not problems, "private names imported across modules:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("module", "bad"),
    [
        ("priomem._recall", "import priomem.mcp_server"),
        ("priomem.ui._views", "from priomem.mcp_server import build_server"),
        ("priomem.serving._holder", "from priomem.ui import run_ui"),
        ("priomem._engine", "import langchain_core"),
        ("priomem.tools", "import chromadb"),
        ("priomem.adapters.langchain.tools", "from priomem.serving import Grant"),
    ],
)
def test_the_contract_catches_a_wrong_arrow(
    module: str, bad: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same check on a copy of the source with one bad import added: it must be refused.
    import shutil

    copy = tmp_path / "src"
    shutil.copytree(PACKAGE, copy / "priomem", ignore=shutil.ignore_patterns("__pycache__", "static"))
    target = dict(modules())[module]
    moved = copy / target.relative_to(SRC)
    moved.write_text(
        moved.read_text(encoding="utf-8") + f"\n\ndef _late() -> None:\n    {bad}\n", encoding="utf-8"
    )
    monkeypatch.setattr(__import__(__name__, fromlist=["SRC"]), "SRC", copy)
    monkeypatch.setattr(__import__(__name__, fromlist=["PACKAGE"]), "PACKAGE", copy / "priomem")
    problems = violations()
    assert problems and all(module in p for p in problems), problems
    assert len({p.split(": ", 1)[0] for p in problems}) == 1  # the added line, and nothing else


def test_no_module_reaches_into_another_objects_private_members() -> None:
    # ``engine._store`` from a helper module is the kind of coupling the engine core removed:
    # helpers get an EngineCore. Allowed: self/cls, and a class's own members on another
    # instance of it (a factory filling in a new object); os._exit is the standard library's.
    problems = []
    for module, path in modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        owned: dict[ast.AST, set[str]] = {}
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            names = {
                a.attr
                for a in ast.walk(cls)
                if isinstance(a, ast.Attribute) and isinstance(a.value, ast.Name) and a.value.id == "self"
            }
            for inner in ast.walk(cls):
                owned[inner] = owned.get(inner, set()) | names
        for node in ast.walk(tree):
            if (
                not isinstance(node, ast.Attribute)
                or not node.attr.startswith("_")
                or node.attr.startswith("__")
            ):
                continue
            value = node.value
            if isinstance(value, ast.Name) and value.id in ("self", "cls", "os"):
                continue
            if node.attr in owned.get(node, set()):
                continue
            problems.append(f"{path.relative_to(SRC)}:{node.lineno}: {module} uses {ast.unparse(node)}")
    assert not problems, "private members used from outside their class:\n" + "\n".join(problems)


def test_storage_keys_and_where_clauses_live_in_the_schema_module() -> None:
    # The pm_* keys (priomem._records.Key) and the builders of Chroma where clauses are in
    # one module; everywhere else uses them, so a key is renamed or a clause changed once.
    problems = []
    for module, path in modules():
        if module == "priomem._records" or module.startswith("priomem.adapters.langgraph"):
            continue  # langgraph's own filter operators are not Chroma clauses
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
                if text.startswith("pm_") or text in (
                    "$contains",
                    "$in",
                    "$gt",
                    "$gte",
                    "$lt",
                    "$lte",
                    "$and",
                    "$or",
                ):
                    problems.append(f"{path.relative_to(SRC)}:{node.lineno}: {module} spells {text!r}")
    assert not problems, "storage keys or where operators outside priomem._records:\n" + "\n".join(problems)
