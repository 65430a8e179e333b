"""A catalogue of bad input through the Python API, the CLI and the MCP tools.

Each case must get a clear error that names the field, and leave the store unchanged.
"""

from __future__ import annotations

import asyncio
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client

from priomem import MemoryEngine, PriomemError, Settings
from priomem.cli import main as cli_main
from priomem.mcp_server import EngineHolder, build_server

ALL = frozenset({"api", "cli", "mcp"})
NO_CLI = frozenset({"api", "mcp"})
API_ONLY = frozenset({"api"})


@dataclass(frozen=True)
class Case:
    name: str
    tool: str
    args: dict[str, Any]
    field: str
    surfaces: frozenset[str] = field(default=ALL)


R, Q, F = "remember", "recall", "forget"
CASES = [
    Case("empty content", R, {"content": ""}, "content"),
    Case("whitespace content", R, {"content": "  \n\t "}, "content"),
    Case("10 MB content", R, {"content": "x" * 10_000_000}, "content", NO_CLI),
    Case("lone surrogate", R, {"content": "bad \ud800 text"}, "content", NO_CLI),
    Case("NUL byte", R, {"content": "nul \x00 byte"}, "content", NO_CLI),
    Case("escape sequence", R, {"content": "red \x1b[31m text"}, "content"),
    Case("content is a number", R, {"content": 123}, "content", NO_CLI),
    Case("content is null", R, {"content": None}, "content", NO_CLI),
    Case("content is a list", R, {"content": ["a"]}, "content", NO_CLI),
    Case("unknown priority", R, {"content": "x", "priority": "urgent"}, "priority"),
    Case("priority zero", R, {"content": "x", "priority": 0}, "priority"),
    Case("priority seven", R, {"content": "x", "priority": 7}, "priority"),
    Case("fractional priority", R, {"content": "x", "priority": 2.5}, "priority", NO_CLI),
    Case("tags is a string", R, {"content": "x", "tags": "etl"}, "tags", NO_CLI),
    Case("tag like an operator", R, {"content": "x", "tags": ["$or"]}, "tags"),
    Case("empty tag", R, {"content": "x", "tags": [""]}, "tags", NO_CLI),
    Case("numeric tag", R, {"content": "x", "tags": [1]}, "tags", NO_CLI),
    Case("tag with a space", R, {"content": "x", "tags": ["a b"]}, "tags"),
    Case("nested metadata", R, {"content": "x", "metadata": {"a": {"b": 1}}}, "metadata", NO_CLI),
    Case("NaN metadata", R, {"content": "x", "metadata": {"a": math.nan}}, "metadata", API_ONLY),
    Case("infinite metadata", R, {"content": "x", "metadata": {"a": math.inf}}, "metadata", API_ONLY),
    Case("operator metadata key", R, {"content": "x", "metadata": {"$ne": 1}}, "metadata"),
    Case("null metadata value", R, {"content": "x", "metadata": {"a": None}}, "metadata", NO_CLI),
    Case("metadata is a list", R, {"content": "x", "metadata": [1, 2]}, "metadata", NO_CLI),
    Case("list metadata value", R, {"content": "x", "metadata": {"a": [1, 2]}}, "metadata", NO_CLI),
    Case("negative ttl", R, {"content": "x", "ttl": "-1d"}, "ttl"),
    Case("unparsable ttl", R, {"content": "x", "ttl": "forever"}, "ttl"),
    Case("zero ttl", R, {"content": "x", "ttl": 0}, "ttl"),
    Case("path in namespace", R, {"content": "x", "namespace": "../etc"}, "namespace"),
    Case("slash in namespace", R, {"content": "x", "namespace": "a/b"}, "namespace"),
    Case("look-alike namespace", R, {"content": "x", "namespace": "\u0430lice"}, "namespace"),
    Case("empty namespace", R, {"content": "x", "namespace": ""}, "namespace"),
    Case("long namespace", R, {"content": "x", "namespace": "n" * 129}, "namespace"),
    Case("refs is a string", R, {"content": "x", "refs": "abc"}, "refs", NO_CLI),
    Case("operator in refs", R, {"content": "x", "refs": [{"$ne": 1}]}, "refs", NO_CLI),
    Case("6,000 refs", R, {"content": "x", "refs": [f"r{i}" for i in range(6000)]}, "refs", NO_CLI),
    Case("namespace with a trailing newline", R, {"content": "x", "namespace": "alice\n"}, "namespace"),
    Case(
        "metadata key with a trailing newline",
        R,
        {"content": "x", "metadata": {"subject\n": "a"}},
        "metadata",
        NO_CLI,
    ),
    Case("thread with a space", R, {"content": "x", "thread": "chat 1"}, "thread", NO_CLI),
    Case("thread with a newline", R, {"content": "x", "thread": "chat\n"}, "thread", NO_CLI),
    Case("thread too long", R, {"content": "x", "thread": "t" * 129}, "thread", NO_CLI),
    Case("thread is a number", R, {"content": "x", "thread": 7}, "thread", NO_CLI),
    Case("k zero", Q, {"query": "x", "k": 0}, "k"),
    Case("k negative", Q, {"query": "x", "k": -5}, "k"),
    Case("k huge", Q, {"query": "x", "k": 10**9}, "k"),
    Case("k is text", Q, {"query": "x", "k": "five"}, "k"),
    Case("empty query", Q, {"query": ""}, "query"),
    Case("null query", Q, {"query": None}, "query", NO_CLI),
    Case("malformed since", Q, {"query": "x", "since": "yesterday-ish"}, "since"),
    Case("impossible date", Q, {"query": "x", "since": "2026-02-30"}, "since"),
    Case("date before 1970", Q, {"query": "x", "until": "1800-01-01"}, "until"),
    Case("unknown min_priority", Q, {"query": "x", "min_priority": "urgent"}, "min_priority"),
    Case("operator tag filter", Q, {"query": "x", "tags": ["$or"]}, "tags"),
    Case("since after until", Q, {"query": "x", "since": "1d", "until": "3d"}, "since"),
    Case("forget with no selector", F, {}, "ids"),
    Case("operator tag in forget", F, {"tags": ["$ne"]}, "tags"),
    Case("malformed before", F, {"before": "whenever"}, "before"),
    Case("operator id", F, {"ids": [{"$ne": "x"}]}, "ids", NO_CLI),
    Case("unknown max_priority", F, {"max_priority": "huge"}, "max_priority"),
    Case("ids is a string", F, {"ids": "abc"}, "ids", NO_CLI),
]


def test_the_catalogue_is_large_enough() -> None:
    assert len(CASES) >= 40
    assert sum("cli" in c.surfaces for c in CASES) >= 25 and sum("mcp" in c.surfaces for c in CASES) >= 40


def digest(engine: MemoryEngine) -> str:
    buf = io.StringIO()
    engine.export(buf, include_embeddings=True)
    lines = buf.getvalue().splitlines()[1:]
    return "\n".join(sorted(lines))


def seed(engine: MemoryEngine) -> None:
    engine.remember("baseline memory about the ETL", tags=["etl"], priority="high")
    engine.remember("second baseline", namespace="other", metadata={"subject": "s"})


def call_api(engine: MemoryEngine, case: Case) -> None:
    args = dict(case.args)
    if case.tool == R:
        engine.remember(args.pop("content"), **args)
    elif case.tool == Q:
        engine.recall(args.pop("query"), **args)
    else:
        ids = args.pop("ids", None)
        engine.forget(ids, **args)


@pytest.fixture
def seeded(engine: MemoryEngine) -> MemoryEngine:
    seed(engine)
    return engine


@pytest.mark.parametrize("case", [c for c in CASES if "api" in c.surfaces], ids=lambda c: c.name)
def test_python_api(seeded: MemoryEngine, case: Case) -> None:
    before = digest(seeded)
    with pytest.raises(PriomemError) as info:
        call_api(seeded, case)
    assert info.value.field is not None and case.field in info.value.field, (
        info.value.field,
        info.value.message,
    )
    assert case.field in info.value.message
    assert digest(seeded) == before


def cli_argv(case: Case) -> list[str]:
    a = case.args
    if case.tool == R:
        argv = ["remember", str(a["content"])]
        for key, flag in (("priority", "--priority"), ("ttl", "--ttl"), ("namespace", "--namespace")):
            if key in a:
                argv += [flag, str(a[key])]
        if "tags" in a:
            argv += ["--tags", ",".join(a["tags"]) or ","]
        for key, value in (a.get("metadata") or {}).items():
            argv += ["--meta", f"{key}={json.dumps(value)}"]
        return argv
    if case.tool == Q:
        argv = ["recall", str(a["query"])]
        for key, flag in (
            ("k", "-k"),
            ("since", "--since"),
            ("until", "--until"),
            ("min_priority", "--min-priority"),
        ):
            if key in a:
                argv += [flag, str(a[key])]
        if "tags" in a:
            argv += ["--tags", ",".join(a["tags"])]
        return argv
    argv = ["forget"]
    for key, flag in (("before", "--before"), ("max_priority", "--max-priority")):
        if key in a:
            argv += [flag, str(a[key])]
    if "tags" in a:
        argv += ["--tags", ",".join(a["tags"])]
    return argv


def test_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    monkeypatch.setenv("PRIOMEM_PATH", str(store))
    monkeypatch.setenv("PRIOMEM_EMBEDDER", "hash")
    with MemoryEngine(store, settings=Settings(embedder="hash")) as engine:
        seed(engine)
        before = digest(engine)
    tried = 0
    for case in (c for c in CASES if "cli" in c.surfaces):
        try:
            code = cli_main(cli_argv(case))
        except SystemExit as exc:  # argparse: a usage error, exit 2
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        assert code in (1, 2), (case.name, code, out)
        assert "Traceback" not in err and err.strip(), case.name
        if code == 1:
            assert case.field.replace("_", "") in err.replace("_", "").replace("-", ""), (case.name, err)
        tried += 1
    assert tried >= 25
    with MemoryEngine(store, settings=Settings(embedder="hash")) as engine:
        assert digest(engine) == before


async def _mcp_cases(engine: MemoryEngine) -> list[tuple[str, bool, str]]:
    results = []
    async with Client(build_server(EngineHolder.of(engine))) as client:
        for case in (c for c in CASES if "mcp" in c.surfaces):
            result = await client.call_tool(case.tool, case.args)
            text = " ".join(getattr(block, "text", "") for block in result.content)
            results.append((case.name, bool(result.is_error), text))
        alive = await client.call_tool("recall", {"query": "baseline"})
        results.append(("alive", not alive.is_error and bool(alive.structured_content["hits"]), ""))
    return results


def test_mcp_tools(seeded: MemoryEngine) -> None:
    before = digest(seeded)
    results = asyncio.run(_mcp_cases(seeded))
    by_name = {c.name: c for c in CASES}
    for name, flag, text in results:
        if name == "alive":
            assert flag, "the server stopped answering"
            continue
        assert flag, f"{name}: not reported as a tool error"
        assert by_name[name].field in text, (name, text)
    assert digest(seeded) == before


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
arguments = st.dictionaries(
    st.sampled_from(
        [
            "content",
            "query",
            "priority",
            "tags",
            "namespace",
            "metadata",
            "ttl",
            "refs",
            "thread",
            "k",
            "since",
            "until",
            "min_priority",
            "max_tokens",
            "ids",
            "before",
            "max_priority",
            "dry_run",
            "bogus",
        ]
    ),
    json_values,
    max_size=5,
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(calls=st.lists(st.tuples(st.sampled_from([R, Q, F]), arguments), min_size=1, max_size=8))
def test_fuzzed_tool_calls_always_get_an_answer(
    seeded: MemoryEngine, calls: list[tuple[str, dict[str, Any]]]
) -> None:
    async def run() -> None:
        async with Client(build_server(EngineHolder.of(seeded))) as client:
            for tool, args in calls:
                if tool == F and not args.get("dry_run"):
                    args = {**args, "dry_run": True}  # fuzz the selector, never empty the store
                result = await client.call_tool(tool, args)
                assert result.is_error or result.structured_content is not None
            alive = await client.call_tool("recall", {"query": "baseline"})
            assert not alive.is_error

    asyncio.run(run())
