"""The three tools through the SDK's in-memory Client: definitions, results, errors, policies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp import Client

from priomem import HashEmbedder, MemoryEngine, Settings
from priomem.mcp_server import EngineHolder, Grant, build_server
from priomem.tools import TOOL_SPECS, tool_schemas


def error_text(result: Any) -> str:
    assert result.is_error, result
    return " ".join(block.text for block in result.content)


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_exactly_the_three_shared_tools_with_their_schemas(server_for: Any, mode: str) -> None:
    async with Client(server_for(), mode=mode) as client:
        listed = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert sorted(listed) == ["forget", "recall", "remember"]
    for entry in tool_schemas("json"):
        tool = listed[entry["name"]]
        assert tool.description == TOOL_SPECS[entry["name"]].description
        assert tool.input_schema == entry["parameters"]
        assert tool.output_schema is not None
        assert set(tool.output_schema["properties"]) == set(TOOL_SPECS[entry["name"]].result.model_fields)
    assert listed["remember"].input_schema["required"] == ["content"]
    assert listed["recall"].input_schema["properties"]["k"]["default"] == 5


async def test_annotations_are_explicit(server_for: Any) -> None:
    async with Client(server_for(), mode="legacy") as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    recall, forget, remember = (tools[n].annotations for n in ("recall", "forget", "remember"))
    assert recall is not None and recall.read_only_hint is True
    assert forget is not None and forget.destructive_hint is True and forget.read_only_hint is False
    # The spec's default for destructiveHint is true; remember only adds, so it says false.
    assert remember is not None and remember.destructive_hint is False and remember.read_only_hint is False
    for hints in (recall, forget, remember):
        assert hints.open_world_hint is False


async def test_empty_store_recall_is_no_hits_not_an_error(server_for: Any) -> None:
    async with Client(server_for()) as client:
        result = await client.call_tool("recall", {"query": "what is the ETL deadline?"})
    assert not result.is_error
    assert result.structured_content == {"namespace": "default", "hits": [], "omitted": 0}


async def test_remember_recall_forget_round_trip(server_for: Any) -> None:
    async with Client(server_for()) as client:
        first = await client.call_tool(
            "remember",
            {
                "content": "Nightly ETL must finish by 06:00 UTC",
                "priority": "CRITICAL",
                "tags": ["etl", "sla"],
            },
        )
        assert not first.is_error
        stored = first.structured_content
        assert stored is not None
        assert stored["priority"] == "critical" and stored["reinforced"] is False
        assert stored["expires_at"] is None
        again = await client.call_tool("remember", {"content": "Nightly  ETL must finish by 06:00 UTC"})
        assert again.structured_content is not None
        assert (
            again.structured_content["id"] == stored["id"] and again.structured_content["reinforced"] is True
        )
        await client.call_tool(
            "remember", {"content": "Debug: cache miss on orders", "priority": "low", "tags": ["debug"]}
        )

        found = await client.call_tool("recall", {"query": "ETL finish deadline", "k": 1})
        hits = found.structured_content["hits"]  # type: ignore[index]
        assert [h["id"] for h in hits] == [stored["id"]]
        assert hits[0]["tags"] == ["etl", "sla"] and hits[0]["priority"] == "critical"
        # The text block carries the same JSON for clients that ignore structured content.
        assert json.loads(found.content[0].text) == found.structured_content  # type: ignore[union-attr]

        important = await client.call_tool("recall", {"query": "cache", "min_priority": "high"})
        assert [h["id"] for h in important.structured_content["hits"]] == [stored["id"]]  # type: ignore[index]

        dry = await client.call_tool("forget", {"tags": ["debug"], "dry_run": True})
        assert dry.structured_content is not None
        assert dry.structured_content["dry_run"] is True and dry.structured_content["count"] == 1
        debug_id = dry.structured_content["ids"][0]
        still = await client.call_tool("recall", {"query": "cache miss orders", "tags": ["debug"]})
        assert [h["id"] for h in still.structured_content["hits"]] == [debug_id]  # type: ignore[index]

        gone = await client.call_tool("forget", {"ids": [debug_id]})
        assert gone.structured_content == {
            "namespace": "default",
            "count": 1,
            "ids": [debug_id],
            "dry_run": False,
        }
        after = await client.call_tool("recall", {"query": "cache miss orders", "tags": ["debug"]})
        assert after.structured_content["hits"] == []  # type: ignore[index]


async def test_max_tokens_counts_the_json_returned(server_for: Any) -> None:
    async with Client(server_for()) as client:
        for n in range(6):
            await client.call_tool("remember", {"content": f"ETL run {n} took {40 + n} minutes " + "x" * 200})
        await client.call_tool(
            "remember", {"content": "ETL SLA: the run ends by 06:00", "priority": "critical"}
        )
        packed = await client.call_tool("recall", {"query": "ETL run minutes", "k": 7, "max_tokens": 400})
    content = packed.structured_content
    assert content is not None
    assert 1 <= len(content["hits"]) < 7
    assert content["omitted"] == 7 - len(content["hits"])
    assert content["hits"][0]["priority"] == "critical"  # forced in first
    text = packed.content[0].text  # type: ignore[union-attr]
    assert json.loads(text) == content
    assert len(text) / 4 <= 400  # the budget holds for what the model reads


@pytest.mark.parametrize(
    ("name", "arguments", "expected"),
    [
        ("remember", {}, "content: required"),
        ("remember", {"contnt": "typo"}, "contnt: unknown argument; remember takes content"),
        ("remember", {"content": "   "}, "content: is empty"),
        ("remember", {"content": "x", "priority": "urgent"}, "priority:"),
        ("remember", {"content": "x", "tags": "etl"}, "tags:"),
        ("remember", {"content": "x", "ttl": "soon"}, "ttl:"),
        ("recall", {"query": "x", "since": "last tuesday"}, "since:"),
        ("recall", {"query": "x", "k": 0}, "k:"),
        ("recall", {"query": "x", "namespace": "bad namespace!"}, "namespace:"),
        ("forget", {}, "forget needs ids"),
        ("forget", {"ids": "01ABC"}, "ids:"),
    ],
)
async def test_bad_arguments_are_tool_errors_naming_the_field(
    server_for: Any, name: str, arguments: dict[str, Any], expected: str
) -> None:
    async with Client(server_for()) as client:
        result = await client.call_tool(name, arguments)
        # The server is still fine after a bad call.
        ok = await client.call_tool("recall", {"query": "anything"})
    assert expected in error_text(result)
    assert not ok.is_error


async def test_limits_on_k_and_content_are_clear(chroma_client: Any) -> None:
    settings = Settings(max_content_chars=50)
    with MemoryEngine(client=chroma_client, embedder=HashEmbedder(64), settings=settings) as engine:
        server = build_server(EngineHolder.of(engine), max_k=10)
        async with Client(server) as client:
            too_many = await client.call_tool("recall", {"query": "x", "k": 11})
            far_too_many = await client.call_tool("recall", {"query": "x", "k": 5000})
            as_text = await client.call_tool("recall", {"query": "x", "k": "5000"})
            too_long = await client.call_tool("remember", {"content": "y" * 51})
    assert "k: 11 is over this server's limit of 10" in error_text(too_many)
    # past the tools' own bound too, the caller learns this server's limit, not another one
    assert "k: 5000 is over this server's limit of 10" in error_text(far_too_many)
    assert "k: 5000 is over this server's limit of 10" in error_text(as_text)
    assert "content: 51 characters is over the limit of 50" in error_text(too_long)


async def test_lists_sent_as_json_text_are_accepted(server_for: Any) -> None:
    async with Client(server_for()) as client:
        stored = await client.call_tool(
            "remember", {"content": "Alice prefers dark mode", "tags": '["prefs"]'}
        )
        assert not stored.is_error
        found = await client.call_tool("recall", {"query": "dark mode", "tags": '["prefs"]'})
    assert len(found.structured_content["hits"]) == 1  # type: ignore[index]


async def test_namespace_lock_refuses_other_namespaces(server_for: Any) -> None:
    locked = Grant(namespace="alice", allowed=frozenset({"alice"}))
    async with Client(server_for(default=locked)) as client:
        mine = await client.call_tool("remember", {"content": "Alice's note"})
        theirs = await client.call_tool("recall", {"query": "note", "namespace": "bob"})
        assert mine.structured_content["namespace"] == "alice"  # type: ignore[index]
        text = error_text(theirs)
        assert "namespace: 'bob' is not allowed here; use one of: alice" in text
        forget_other = await client.call_tool("forget", {"tags": ["x"], "namespace": "bob"})
        assert "not allowed" in error_text(forget_other)


async def test_namespaces_are_separate(server_for: Any) -> None:
    async with Client(server_for()) as client:
        await client.call_tool("remember", {"content": "Bob likes tea", "namespace": "bob"})
        default = await client.call_tool("recall", {"query": "tea"})
        bob = await client.call_tool("recall", {"query": "tea", "namespace": "bob"})
    assert default.structured_content["hits"] == []  # type: ignore[index]
    assert len(bob.structured_content["hits"]) == 1  # type: ignore[index]


async def test_unknown_tool_is_an_error(server_for: Any) -> None:
    async with Client(server_for()) as client:
        result = await client.call_tool("delete_everything", {})
    assert "delete_everything" in error_text(result)


@pytest.mark.parametrize("remote", [False, True])
async def test_store_failures_reach_remote_callers_without_server_details(
    chroma_client: Any, monkeypatch: pytest.MonkeyPatch, remote: bool
) -> None:
    from priomem import StoreError

    detail = "could not read namespace 'x' at /srv/secret/store (process 4242): Chroma said: segfault"
    with MemoryEngine(client=chroma_client, embedder=HashEmbedder(64), settings=Settings()) as engine:

        def broken(*args: Any, **kwargs: Any) -> Any:
            raise StoreError(detail)

        monkeypatch.setattr(engine, "recall", broken)
        async with Client(build_server(EngineHolder.of(engine), remote=remote)) as client:
            text = error_text(await client.call_tool("recall", {"query": "anything"}))
    if remote:
        assert "/srv/secret" not in text and "4242" not in text and "Chroma said" not in text
        assert "StoreError" in text and "try again" in text
    else:  # a local (stdio) caller is the machine's user: the whole message helps them
        assert detail in text


async def test_lineage_through_the_tools(server_for: Any) -> None:
    async with Client(server_for()) as client:
        job = await client.call_tool(
            "remember",
            {
                "content": "orders_daily is built from raw.orders",
                "reads": ["raw.orders"],
                "writes": ["orders_daily"],
            },
        )
        await client.call_tool("remember", {"content": "orders dashboard is slow"})
        found = await client.call_tool("recall", {"query": "orders", "lineage": ["raw.orders"]})
        bad = await client.call_tool("remember", {"content": "x", "writes": ["not a name"]})
        dry = await client.call_tool("forget", {"lineage": ["orders_daily"], "dry_run": True})
    assert [h["id"] for h in found.structured_content["hits"]] == [job.structured_content["id"]]  # type: ignore[index]
    assert bad.is_error and "writes" in bad.content[0].text  # type: ignore[union-attr]
    assert dry.structured_content["count"] == 1  # type: ignore[index]


async def test_the_schema_says_what_the_server_accepts(server_for: Any) -> None:
    async with Client(server_for(max_k=100)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        over = await client.call_tool("recall", {"query": "x", "k": 101})
    assert tools["recall"].input_schema["properties"]["k"]["maximum"] == 100
    assert over.is_error and "limit of 100" in over.content[0].text  # type: ignore[union-attr]
    text = json.dumps([t.model_dump(mode="json") for t in tools.values()])
    assert "``" not in text  # reStructuredText is for Python readers
    assert "relevance" in json.dumps(tools["recall"].output_schema)


async def test_what_the_server_offers_besides_tools(server_for: Any) -> None:
    # Found by review of the move to the SDK's low-level Server: MCPServer answered these
    # with empty lists and named an unknown tool plainly; clients (the Inspector) ask.
    async with Client(server_for()) as client:
        assert (await client.list_resources()).resources == []
        assert (await client.list_resource_templates()).resource_templates == []
        assert (await client.list_prompts()).prompts == []
        unknown = await client.call_tool("nope", {})
        assert unknown.is_error and error_text(unknown) == "Unknown tool: nope"
    build_server(EngineHolder.of(MemoryEngine(embedder=HashEmbedder(64), client=_client())), log_level="INFO")


def _client() -> Any:
    from tests._chroma import ephemeral_client

    return ephemeral_client()
