"""Two priomem-mcp HTTP replicas on one Chroma server; an MCP HTTP server killed mid-stream."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from priomem import HashEmbedder, MemoryEngine, Settings
from tests.conftest import free_port, running_chroma
from tests.mcp_server.conftest import SERVER, server_env

pytestmark = pytest.mark.integration


def start_mcp(chroma: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    handle = open(log, "wb")  # noqa: SIM115 - the process owns it until it exits
    proc = subprocess.Popen(
        [*SERVER, "--transport", "http", "--port", str(port), "--url", chroma, "--embedder", "hash"],
        stdout=handle,
        stderr=subprocess.STDOUT,
        env=server_env(),
    )
    handle.close()
    _wait_tcp(port, proc)
    return proc, f"http://127.0.0.1:{port}/mcp"


def _wait_tcp(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    import socket
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError("the MCP server exited during start-up")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError("the MCP server did not listen in time")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def chroma(tmp_path: Path) -> Iterator[str]:
    with running_chroma(tmp_path / "chroma") as url:
        yield url


def contents(result: Any) -> list[str]:
    assert not result.is_error, result.content
    return [hit["content"] for hit in result.structured_content["hits"]]


def test_two_replicas_share_one_chroma_server(chroma: str, tmp_path: Path) -> None:
    first, url_a = start_mcp(chroma, tmp_path / "a.log")
    second, url_b = start_mcp(chroma, tmp_path / "b.log")

    async def scenario() -> None:
        async with Client(url_a) as a, Client(url_b) as b:
            stored = await a.call_tool(
                "remember", {"content": "Replica test: the deploy window is Tuesday 14:00"}
            )
            memory_id = stored.structured_content["id"]  # type: ignore[index]
            assert contents(await b.call_tool("recall", {"query": "deploy window Tuesday"}))[0].startswith(
                "Replica test"
            )
            gone = await b.call_tool("forget", {"ids": [memory_id]})
            assert gone.structured_content["count"] == 1  # type: ignore[index]
            assert contents(await a.call_tool("recall", {"query": "deploy window Tuesday"})) == []

    try:
        asyncio.run(scenario())
    finally:
        stop(first)
        stop(second)


def test_an_mcp_http_server_killed_mid_stream_loses_nothing_acknowledged(chroma: str, tmp_path: Path) -> None:
    server, url = start_mcp(chroma, tmp_path / "server.log")
    acked: dict[str, str] = {}

    async def stream() -> None:
        async with Client(url) as client:
            for i in range(10_000):
                if i == 25:
                    os.kill(server.pid, signal.SIGKILL)  # mid-stream, with calls in flight
                try:
                    result = await asyncio.wait_for(
                        client.call_tool("remember", {"content": f"streamed memory {i}"}), 10
                    )
                except Exception:
                    return  # the server is gone: everything acknowledged so far must be there
                if result.is_error:
                    return
                acked[result.structured_content["id"]] = f"streamed memory {i}"  # type: ignore[index]

    try:
        asyncio.run(stream())
    except BaseException:  # the client's own teardown may fail on a dead server
        pass
    finally:
        stop(server)
    assert len(acked) >= 25
    with MemoryEngine(url=chroma, embedder=HashEmbedder(384), settings=Settings()) as engine:
        for memory_id, content in acked.items():
            memory = engine.get(memory_id)
            assert memory is not None and memory.content == content
        engine.remember("the store still takes writes")
    replacement, url2 = start_mcp(chroma, tmp_path / "again.log")
    try:

        async def check() -> None:
            async with Client(url2) as client:
                assert contents(await client.call_tool("recall", {"query": "streamed memory 3", "k": 3}))

        asyncio.run(check())
    finally:
        stop(replacement)
