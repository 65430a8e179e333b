"""Helpers for the MCP server tests: a raw stdio subprocess, server environments, waiting."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from priomem import MemoryEngine
from priomem.mcp_server import EngineHolder, build_server
from priomem.mcp_server._sharing import ShareFiles, keeper_alive

SERVER = [sys.executable, "-m", "priomem.mcp_server"]


def server_env(store: Path | None = None, **extra: str) -> dict[str, str]:
    """A clean environment for a server subprocess: nothing from the developer's PRIOMEM_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRIOMEM_") or k == "PRIOMEM_CACHE_DIR"}
    env.update(ANONYMIZED_TELEMETRY="False", HF_HUB_OFFLINE="1", PRIOMEM_LOG_LEVEL="INFO")
    if store is not None:
        env["PRIOMEM_PATH"] = str(store)
    env.update(extra)
    return env


class RawStdio:
    """A server subprocess spoken to in raw JSON-RPC, keeping every stdout line it wrote."""

    def __init__(self, env: Mapping[str, str], args: list[str] | None = None) -> None:
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [*SERVER, *(args or [])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
        )
        self.lines: list[bytes] = []
        self.stderr = b""
        self._inbox: queue.Queue[bytes | None] = queue.Queue()
        self._next_id = 0
        threading.Thread(target=self._read, daemon=True).start()
        self._err_thread = threading.Thread(target=self._read_err, daemon=True)
        self._err_thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            self._inbox.put(line)
        self._inbox.put(None)

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        self.stderr = self.proc.stderr.read()

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        self.proc.stdin.flush()

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        self.send({"jsonrpc": "2.0", "method": method, **({"params": params} if params else {})})

    def request(
        self, method: str, params: dict[str, Any] | None = None, timeout: float = 60
    ) -> dict[str, Any]:
        """Send a request and return its response (notifications in between are skipped)."""
        self._next_id += 1
        wanted = self._next_id
        self.send({"jsonrpc": "2.0", "id": wanted, "method": method, "params": params or {}})
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._inbox.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no answer to {method} in {timeout}s") from None
            if line is None:
                raise AssertionError(
                    f"server exited before answering {method}: {self.stderr.decode()[-2000:]}"
                )
            message = json.loads(line)
            if message.get("id") == wanted:
                return dict(message)

    def initialize(self, version: str = "2025-06-18") -> dict[str, Any]:
        answer = self.request(
            "initialize",
            {
                "protocolVersion": version,
                "capabilities": {},
                "clientInfo": {"name": "raw-test", "version": "1"},
            },
        )
        self.notify("notifications/initialized")
        return answer

    def call(self, name: str, arguments: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
        answer = self.request("tools/call", {"name": name, "arguments": arguments}, timeout=timeout)
        assert "result" in answer, answer
        return dict(answer["result"])

    def close(self, timeout: float = 20) -> int:
        """Close stdin (how clients end a stdio server) and wait for the exit status."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        self._err_thread.join(5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def raw_servers() -> Iterator[list[RawStdio]]:
    """Collects raw servers and kills any a test left running."""
    servers: list[RawStdio] = []
    yield servers
    for server in servers:
        server.kill()


def wait_until(predicate: Any, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); it has stopped all the same.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def assert_share_stopped(store: Path, chroma_pid: int | None = None, timeout: float = 20.0) -> None:
    """The keeper of ``store`` is gone, its URL file removed, and its Chroma process stopped."""
    files = ShareFiles(store.resolve())
    wait_until(lambda: not keeper_alive(files), timeout, "the keeper to stop")
    assert not files.info.exists()
    if chroma_pid is not None:
        wait_until(lambda: not pid_alive(chroma_pid), timeout, "chroma to stop")


@pytest.fixture
def server_for(engine: MemoryEngine) -> Any:
    """``server_for(**build_server kwargs)``: an in-process server on the test engine."""

    def make(**kwargs: Any) -> Any:
        return build_server(EngineHolder.of(engine), **kwargs)

    return make
