"""Several real server processes on one store: shared safely, and nothing outlives the last one."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from priomem import HashEmbedder, MemoryEngine, Settings
from priomem.mcp_server._sharing import ShareFiles, keeper_alive
from tests.mcp_server.conftest import RawStdio, assert_share_stopped, pid_alive, server_env, wait_until


def start(store: Path, raw_servers: list[RawStdio], **env: str) -> RawStdio:
    server = RawStdio(server_env(store, PRIOMEM_EMBEDDER="hash", **env))
    raw_servers.append(server)
    return server


def contents(server: RawStdio, query: str) -> set[str]:
    result = server.call("recall", {"query": query, "k": 10})
    assert result["isError"] is False, result
    return {hit["content"] for hit in result["structuredContent"]["hits"]}


def test_two_servers_share_one_store_and_the_last_one_out_stops_it(
    tmp_path: Path, raw_servers: list[RawStdio]
) -> None:
    store = tmp_path / "store"
    first, second = start(store, raw_servers), start(store, raw_servers)
    first.initialize()
    second.initialize()
    # Both write at once-ish; each sees the other's memory.
    a = first.call("remember", {"content": "Desktop app A: deploy freeze on Friday", "tags": ["ops"]})
    b = second.call("remember", {"content": "Desktop app B: deploy window is Tuesday", "tags": ["ops"]})
    assert not a["isError"] and not b["isError"]
    both = {"Desktop app A: deploy freeze on Friday", "Desktop app B: deploy window is Tuesday"}
    assert contents(first, "deploy") == both
    assert contents(second, "deploy") == both

    info = json.loads(ShareFiles(store.resolve()).info.read_text())
    assert info["url"].startswith("http://127.0.0.1:")
    # One keeper and one Chroma server for both.
    assert pid_alive(info["keeper_pid"]) and pid_alive(info["chroma_pid"])

    assert first.close() == 0
    # The first server's exit must not take the store away from the second.
    third = second.call("remember", {"content": "Desktop app B: still here after A quit"})
    assert not third["isError"]
    assert "Desktop app B: still here after A quit" in contents(second, "still here after A quit")
    assert pid_alive(info["chroma_pid"])

    assert second.close() == 0
    assert_share_stopped(store, info["chroma_pid"])

    # Everything was written to the store itself: it opens embedded afterwards.
    with MemoryEngine(store, embedder=HashEmbedder(384), settings=Settings()) as engine:
        assert len(engine.list(limit=10)) == 3


def test_a_killed_server_leaves_nothing_running(tmp_path: Path, raw_servers: list[RawStdio]) -> None:
    store = tmp_path / "store"
    server = start(store, raw_servers)
    server.initialize()
    assert not server.call("remember", {"content": "written before the crash"})["isError"]
    info = json.loads(ShareFiles(store.resolve()).info.read_text())
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait(10)
    assert_share_stopped(store, info["chroma_pid"])

    # A new server starts a fresh keeper and finds the memory.
    again = start(store, raw_servers)
    again.initialize()
    assert contents(again, "crash") == {"written before the crash"}
    assert again.close() == 0
    assert_share_stopped(store)


def test_a_store_open_elsewhere_is_a_clear_tool_error_until_released(
    tmp_path: Path, raw_servers: list[RawStdio]
) -> None:
    store = tmp_path / "store"
    holder = MemoryEngine(store, embedder=HashEmbedder(384), settings=Settings())
    try:
        server = start(store, raw_servers)
        server.initialize()
        refused = server.call("recall", {"query": "anything"})
        assert refused["isError"] is True
        text = refused["content"][0]["text"]
        assert f"in use by process {os.getpid()}" in text
        assert "Traceback" not in text
    finally:
        holder.close()
    # Released: the next call tries again and gets through.
    retried = server.call("recall", {"query": "anything"})
    assert retried["isError"] is False
    assert server.close() == 0
    assert_share_stopped(store)


def test_without_sharing_a_second_process_gets_the_lock_error(
    tmp_path: Path, raw_servers: list[RawStdio]
) -> None:
    store = tmp_path / "store"
    first = start(store, raw_servers, PRIOMEM_MCP_SHARE="false")
    second = start(store, raw_servers, PRIOMEM_MCP_SHARE="false")
    first.initialize()
    second.initialize()
    # Whichever opened first owns the store; the other says who has it and what to do.
    results = [s.call("remember", {"content": "one writer at a time"}) for s in (first, second)]
    assert sorted(r["isError"] for r in results) == [False, True]
    refused = next(r for r in results if r["isError"])["content"][0]["text"]
    assert "is in use by process" in refused and "chroma run --path" in refused
    for server in (first, second):
        assert server.close() == 0
    assert not keeper_alive(ShareFiles(store.resolve()))


def test_keeper_waits_for_the_starting_server(tmp_path: Path, raw_servers: list[RawStdio]) -> None:
    """A server that dies while its keeper starts still leaves nothing behind."""
    store = tmp_path / "store"
    server = start(store, raw_servers)
    files = ShareFiles(store.resolve())
    wait_until(lambda: keeper_alive(files), 60, "a keeper to start")
    server.kill()
    wait_until(lambda: not keeper_alive(files), 30, "the keeper to stop")


def test_servers_reconnect_by_themselves_after_the_keeper_is_killed(
    tmp_path: Path, raw_servers: list[RawStdio]
) -> None:
    store = tmp_path / "store"
    first, second = start(store, raw_servers), start(store, raw_servers)
    first.initialize()
    second.initialize()
    assert not first.call("remember", {"content": "written before the keeper died"})["isError"]
    assert contents(second, "before the keeper died") == {"written before the keeper died"}
    files = ShareFiles(store.resolve())
    info = json.loads(files.info.read_text())
    os.kill(info["keeper_pid"], signal.SIGKILL)  # its Chroma dies with it (parent-death signal)
    wait_until(lambda: not pid_alive(info["chroma_pid"]), timeout=20)

    # Both servers go on without a restart: the next call of each starts or finds a new keeper.
    again = first.call("remember", {"content": "written after the keeper died"})
    assert again["isError"] is False, again
    both = {"written before the keeper died", "written after the keeper died"}
    assert contents(second, "written keeper died") == both
    assert contents(first, "written keeper died") == both
    fresh = json.loads(files.info.read_text())
    assert fresh["keeper_pid"] != info["keeper_pid"] and pid_alive(fresh["keeper_pid"])
    assert first.close() == 0 and second.close() == 0
    assert_share_stopped(store, fresh["chroma_pid"])


def test_the_keeper_log_stays_bounded(tmp_path: Path) -> None:
    import logging

    from priomem.mcp_server._keeper import LOG_LIMIT, _log_to

    path = tmp_path / "keeper.log"
    handler = _log_to(path)
    logger = logging.getLogger("test-keeper-log")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        for i in range(6000):  # about 3 MiB of Chroma output
            logger.info("chroma line %d %s", i, "x" * 500)
    finally:
        logger.removeHandler(handler)
        handler.close()
    assert path.stat().st_size <= LOG_LIMIT
    assert (tmp_path / "keeper.log.1").stat().st_size <= LOG_LIMIT
    assert not (tmp_path / "keeper.log.2").exists()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
