"""The engine opens in the background: the server answers at once, calls wait, failures are tool errors."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import anyio
from mcp import Client

from priomem import EmbeddingError, MemoryEngine, StoreLockedError
from priomem.mcp_server import build_server
from priomem.serving import EngineHolder


async def test_tools_list_does_not_wait_for_the_engine(engine: MemoryEngine) -> None:
    release = threading.Event()

    def slow_open(stack: contextlib.ExitStack) -> MemoryEngine:
        release.wait(30)
        return engine

    holder = EngineHolder(slow_open)
    async with Client(build_server(holder), mode="legacy") as client:
        started = time.monotonic()
        tools = await client.list_tools()
        assert time.monotonic() - started < 1.0
        assert len(tools.tools) == 3
        assert not holder.ready

        async def release_soon() -> None:
            await anyio.sleep(0.3)
            release.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(release_soon)
            result = await client.call_tool("remember", {"content": "stored once the engine opened"})
        assert not result.is_error
        assert holder.ready


async def test_bad_arguments_are_answered_before_the_engine_opens(engine: MemoryEngine) -> None:
    release = threading.Event()

    def never_open(stack: contextlib.ExitStack) -> MemoryEngine:
        release.wait(30)
        return engine

    holder = EngineHolder(never_open)
    async with Client(build_server(holder)) as client:
        try:
            with anyio.fail_after(5):
                result = await client.call_tool("recall", {"query": "x", "k": "many"})
        finally:
            release.set()
    assert result.is_error and "k:" in result.content[0].text  # type: ignore[union-attr]


async def test_a_locked_store_is_a_tool_error_and_is_retried(engine: MemoryEngine) -> None:
    attempts: list[int] = []

    def open_third_time(stack: contextlib.ExitStack) -> MemoryEngine:
        attempts.append(1)
        if len(attempts) <= 2:  # in the background, then again for the first call
            raise StoreLockedError("the store at /x is in use by process 42. Stop it or share the store.")
        return engine

    holder = EngineHolder(open_third_time)
    async with Client(build_server(holder)) as client:
        first = await client.call_tool("recall", {"query": "anything"})
        second = await client.call_tool("recall", {"query": "anything"})
    assert first.is_error
    assert "in use by process 42" in first.content[0].text  # type: ignore[union-attr]
    assert not second.is_error
    assert len(attempts) == 3


async def test_other_open_failures_are_reported_each_call(engine: MemoryEngine) -> None:
    def broken(stack: contextlib.ExitStack) -> MemoryEngine:
        raise EmbeddingError("could not load the embedding model 'x': missing; install it.")

    async with Client(build_server(EngineHolder(broken))) as client:
        for _ in range(2):
            result = await client.call_tool("remember", {"content": "x"})
            assert result.is_error and "install it" in result.content[0].text  # type: ignore[union-attr]


def test_close_releases_what_opening_took(engine: MemoryEngine) -> None:
    released: list[str] = []

    def opener(stack: contextlib.ExitStack) -> Any:
        stack.callback(released.append, "lease")
        return engine

    holder = EngineHolder(opener)
    holder.start()
    assert holder.get() is engine
    holder.close()
    assert released == ["lease"]


def test_close_waits_a_bounded_time_for_an_opening_then_says_it_is_still_under_way(
    engine: MemoryEngine,
) -> None:
    # The stdio server ends with os._exit when close returns False: finalizing the
    # interpreter under a thread still inside Chroma crashed it (exit status -11).
    opening, release = threading.Event(), threading.Event()
    released: list[str] = []

    def slow(stack: contextlib.ExitStack) -> MemoryEngine:
        stack.callback(released.append, "lease")
        opening.set()
        release.wait(30)
        return engine

    holder = EngineHolder(slow)
    holder.start()
    assert opening.wait(10)
    started = time.monotonic()
    assert holder.close(wait=0.3) is False
    assert 0.25 <= time.monotonic() - started < 5.0
    assert holder.close(wait=0.3) is False  # the wait counts from the first call
    assert released == []
    release.set()
    deadline = time.monotonic() + 10
    while not released and time.monotonic() < deadline:
        time.sleep(0.02)
    assert released == ["lease"]  # the opener released what it took once it finished
    assert not holder.ready
    assert holder.close() is True


def test_close_waits_for_an_opening_that_finishes_in_time(engine: MemoryEngine) -> None:
    opening = threading.Event()
    released: list[str] = []

    def slow(stack: contextlib.ExitStack) -> MemoryEngine:
        stack.callback(released.append, "lease")
        opening.set()
        time.sleep(0.3)
        return engine

    holder = EngineHolder(slow)
    holder.start()
    assert opening.wait(10)
    assert holder.close(wait=10) is True
    assert released == ["lease"]
    assert not holder.ready
