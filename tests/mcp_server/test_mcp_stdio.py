"""The server as a real stdio subprocess: raw JSON-RPC, protocol versions, clean stdout, the real model."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from tests.mcp_server.conftest import RawStdio, assert_share_stopped, server_env

HANDSHAKE_VERSIONS = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"]


def test_raw_session_keeps_stdout_pure_json(tmp_path: Path, raw_servers: list[RawStdio]) -> None:
    store = tmp_path / "store"
    server = RawStdio(server_env(store, PRIOMEM_EMBEDDER="hash"))
    raw_servers.append(server)
    hello = server.initialize("2025-06-18")
    assert hello["result"]["protocolVersion"] == "2025-06-18"
    assert hello["result"]["serverInfo"]["name"] == "priomem"
    assert "recall" in hello["result"]["instructions"]
    tools = server.request("tools/list")["result"]["tools"]
    assert [t["name"] for t in tools] == ["remember", "recall", "forget"]

    empty = server.call("recall", {"query": "anything at all"})
    assert empty["isError"] is False and empty["structuredContent"]["hits"] == []
    stored = server.call("remember", {"content": "Orders table is fresh by 06:00", "priority": "high"})
    assert stored["structuredContent"]["priority"] == "high"
    found = server.call("recall", {"query": "orders table fresh"})
    assert [h["id"] for h in found["structuredContent"]["hits"]] == [stored["structuredContent"]["id"]]
    bad = server.call("remember", {"content": "x", "priority": 9})
    assert bad["isError"] is True and "priority" in bad["content"][0]["text"]
    assert "Traceback" not in bad["content"][0]["text"]
    # A malformed line is answered (or ignored) without killing the server.
    assert server.proc.stdin is not None
    server.proc.stdin.write(b"this is not json\n")
    server.proc.stdin.flush()
    assert server.request("ping")["result"] == {}
    info = json.loads((store / "mcp-share" / "server.json").read_text())

    assert server.close() == 0
    assert server.lines, "the server wrote nothing"
    for line in server.lines:
        json.loads(line)  # every stdout line is a JSON-RPC message
    assert b"memory store open" in server.stderr  # logs went to stderr
    assert_share_stopped(store, info["chroma_pid"])


def test_handshake_versions_are_negotiated(tmp_path: Path, raw_servers: list[RawStdio]) -> None:
    # The oldest and the newest handshake version; the rest, and the 2026 per-request
    # protocol, are covered by the SDK clients in the other tests. Started together, so
    # two cores overlap their start-up.
    versions = [HANDSHAKE_VERSIONS[0], HANDSHAKE_VERSIONS[-1]]
    for n, _ in enumerate(versions):
        env = server_env(tmp_path / f"s{n}", PRIOMEM_EMBEDDER="hash", PRIOMEM_MCP_SHARE="false")
        raw_servers.append(RawStdio(env))
    for server, version in zip(raw_servers, versions, strict=True):
        answer = server.initialize(version)["result"]
        assert answer["protocolVersion"] == version
        tools = server.request("tools/list")["result"]["tools"]
        assert {t["name"] for t in tools} == {"remember", "recall", "forget"}
        recall = next(t for t in tools if t["name"] == "recall")
        assert recall["annotations"]["readOnlyHint"] is True
    for server in raw_servers:
        assert server.close() == 0
        for line in server.lines:
            json.loads(line)


def test_configuration_errors_exit_2_with_a_message(tmp_path: Path) -> None:
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "priomem.mcp_server", "--transport", "http", "--host", "0.0.0.0"],
        env=server_env(tmp_path / "s"),
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stdout == b""
    assert b"refusing to serve on '0.0.0.0' without bearer tokens" in done.stderr
    assert b"Traceback" not in done.stderr


@pytest.mark.integration
async def test_sdk_client_with_the_real_model(tmp_path: Path) -> None:
    store = tmp_path / "store"
    env = server_env(store)
    params = StdioServerParameters(command=sys.executable, args=["-m", "priomem.mcp_server"], env=env)
    async with Client(params, read_timeout_seconds=120) as client:
        listed = await client.list_tools()
        assert {t.name for t in listed.tools} == {"remember", "recall", "forget"}
        facts = [
            ("The nightly ETL must finish by 06:00 UTC for the finance SLA", "critical"),
            ("Alice prefers dark mode and metric units in every dashboard", "high"),
            ("The orders table is partitioned by day and kept for two years", "medium"),
        ]
        for content, priority in facts:
            stored = await client.call_tool("remember", {"content": content, "priority": priority})
            assert not stored.is_error, stored.content
        found = await client.call_tool(
            "recall", {"query": "When does the overnight data load have to be done?"}
        )
        hits = found.structured_content["hits"]  # type: ignore[index]
        assert hits[0]["content"] == facts[0][0]
        colour = await client.call_tool("recall", {"query": "which colour theme does Alice like?", "k": 1})
        assert colour.structured_content["hits"][0]["content"] == facts[1][0]  # type: ignore[index]
    assert_share_stopped(store)
