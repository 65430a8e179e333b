"""The server over streamable HTTP as a real process: tokens, namespaces, Host/Origin checks, limits."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import chroma_executable, free_port
from tests.mcp_server.conftest import SERVER, server_env

ALICE = "alice-token-0123456789abcdef"
BOB = "bob-token-0123456789abcdef0"
OPS = "ops-token-0123456789abcdef00"
MAX_BODY = 64 * 1024
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port} after {timeout}s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Chroma server of this module's own: the shared one holds real-model vectors."""
    port = free_port()
    folder = tmp_path_factory.mktemp("mcp-http-chroma")
    proc = subprocess.Popen(
        [chroma_executable(), "run", "--path", str(folder), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    try:
        wait_port(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def served(chroma_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """priomem-mcp over HTTP against that Chroma server, with three tokens; yields the /mcp URL."""
    folder = tmp_path_factory.mktemp("mcp-http")
    tokens = folder / "tokens"
    tokens.write_text(f"{ALICE} = alice, shared\n{BOB} = bob\n{OPS} = ops, *\n")
    port = free_port()
    args = [
        "--transport", "http", "--port", str(port), "--url", chroma_url, "--tokens-file", str(tokens),
        "--embedder", "hash", "--max-request-bytes", str(MAX_BODY), "--max-content-chars", "2000",
    ]  # fmt: skip
    log = open(folder / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([*SERVER, *args], stdout=log, stderr=subprocess.STDOUT, env=server_env())
    try:
        wait_port(port, proc)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        stop(proc)
        log.close()
        assert proc.returncode == 0, (folder / "server.log").read_text()[-3000:]


def client(url: str, token: str | None, mode: str = "auto") -> Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(60))
    return Client(streamable_http_client(url, http_client=http), mode=mode)  # type: ignore[arg-type]


def hits(result: Any) -> list[str]:
    assert not result.is_error, result.content
    return [h["content"] for h in result.structured_content["hits"]]


def test_requests_without_a_valid_token_are_refused(served: str) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-known-token-at-all"}, {"Authorization": ALICE}):
        answer = httpx.post(served, json=INIT, headers={**HEADERS, **headers})
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"].startswith("Bearer")
        assert "Authorization: Bearer" in answer.json()["error_description"]
    ok = httpx.post(served, json=INIT, headers={**HEADERS, "Authorization": f"Bearer {ALICE}"})
    assert ok.status_code == 200
    # No OAuth metadata is advertised, so clients send their configured header instead.
    probe = httpx.get(served.removesuffix("/mcp") + "/.well-known/oauth-protected-resource")
    assert probe.status_code == 404


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_each_token_has_its_own_namespaces(served: str, mode: str) -> None:
    tag = f"run-{mode}"
    async with client(served, ALICE, mode) as alice:
        stored = await alice.call_tool("remember", {"content": f"Alice's plan ({mode})", "tags": [tag]})
        assert stored.structured_content["namespace"] == "alice"  # type: ignore[index]
        shared = await alice.call_tool("remember", {"content": f"Team note ({mode})", "namespace": "shared"})
        assert not shared.is_error
        refused = await alice.call_tool("recall", {"query": "plan", "namespace": "bob"})
        assert refused.is_error
        assert "'bob' is not allowed here; use one of: alice, shared" in refused.content[0].text  # type: ignore[union-attr]
        assert hits(await alice.call_tool("recall", {"query": "plan", "tags": [tag]})) == [
            f"Alice's plan ({mode})"
        ]
    async with client(served, BOB, mode) as bob:
        assert hits(await bob.call_tool("recall", {"query": "Alice's plan", "tags": [tag]})) == []
        for namespace in ("alice", "shared"):
            denied = await bob.call_tool("recall", {"query": "plan", "namespace": namespace})
            assert denied.is_error
        wipe = await bob.call_tool("forget", {"tags": [tag], "namespace": "alice"})
        assert wipe.is_error
    async with client(served, OPS, mode) as ops:
        seen = await ops.call_tool("recall", {"query": "plan", "namespace": "alice", "tags": [tag]})
        assert hits(seen) == [f"Alice's plan ({mode})"]


def test_dns_rebinding_protection(served: str) -> None:
    auth = {**HEADERS, "Authorization": f"Bearer {ALICE}"}
    rebound = httpx.post(served, json=INIT, headers={**auth, "Host": "evil.example"})
    assert rebound.status_code == 421
    foreign = httpx.post(served, json=INIT, headers={**auth, "Origin": "http://evil.example"})
    assert foreign.status_code == 403
    # A browser client on the same machine (the MCP Inspector, say) is fine.
    local = httpx.post(served, json=INIT, headers={**auth, "Origin": "http://localhost:6274"})
    assert local.status_code == 200


async def test_limits_on_body_content_and_k(served: str) -> None:
    auth = {**HEADERS, "Authorization": f"Bearer {ALICE}"}
    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "remember", "arguments": {"content": "x" * (MAX_BODY + 1)}},
    }
    too_big = httpx.post(served, json=call, headers=auth)
    assert too_big.status_code == 413
    async with client(served, ALICE) as alice:
        long = await alice.call_tool("remember", {"content": "y" * 2001})
        assert (
            long.is_error and "content: 2,001 characters is over the limit of 2,000" in long.content[0].text
        )  # type: ignore[union-attr]
        many = await alice.call_tool("recall", {"query": "x", "k": 101})
        assert many.is_error and "over this server's limit of 100" in many.content[0].text  # type: ignore[union-attr]


async def test_tokenless_server_on_loopback(tmp_path: Path) -> None:
    port = free_port()
    args = ["--transport", "http", "--port", str(port), "--no-share", "--embedder", "hash"]
    proc = subprocess.Popen([*SERVER, *args], env=server_env(tmp_path / "store"), stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc)
        async with client(f"http://127.0.0.1:{port}/mcp", None) as anyone:
            await anyone.call_tool("remember", {"content": "no token needed on loopback"})
            assert hits(await anyone.call_tool("recall", {"query": "token"})) == [
                "no token needed on loopback"
            ]
    finally:
        stop(proc)
    assert proc.returncode == 0


def test_console_script_help() -> None:
    script = Path(sys.executable).parent / "priomem-mcp"
    done = subprocess.run([str(script), "--help"], capture_output=True, timeout=60, env=server_env())
    assert done.returncode == 0
    assert b"--transport" in done.stdout and b"--tokens-file" in done.stdout


def test_ui_flag_serves_the_memory_browser_beside_mcp(tmp_path: Path) -> None:
    port = free_port()
    args = ["--transport", "http", "--port", str(port), "--path", str(tmp_path / "s"), "--embedder", "hash",
            "--no-share", "--ui", "read-only"]  # fmt: skip
    proc = subprocess.Popen(
        [*SERVER, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=server_env()
    )
    try:
        wait_port(port, proc)
        page = httpx.get(f"http://127.0.0.1:{port}/ui/", timeout=30)
        assert page.status_code == 200 and "Namespaces" in page.text
        assert "read-only" in page.text.lower()
        mcp = httpx.post(f"http://127.0.0.1:{port}/mcp", json=INIT, headers=HEADERS, timeout=30)
        assert mcp.status_code == 200
    finally:
        stop(proc)


def _raw_connection(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split("/")[0].split(":")
    return socket.create_connection((host, int(port)), timeout=30)


def test_oversized_headers_are_refused_before_they_are_read_whole(served: str) -> None:
    from priomem.serving._limits import MAX_HEADER_BYTES

    with _raw_connection(served) as conn:
        conn.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: ")
        sent = 0
        try:
            while sent < 50 * MAX_HEADER_BYTES:  # unauthenticated, never ending
                conn.sendall(b"a" * 16384)
                sent += 16384
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = conn.recv(200)
    assert sent < 50 * MAX_HEADER_BYTES, "the server kept reading an endless header"
    assert answer == b"" or answer.startswith(b"HTTP/1.1 400"), answer


def test_headers_that_trickle_in_are_cut_off(served: str) -> None:
    from priomem.serving._limits import HEADER_TIMEOUT

    with _raw_connection(served) as conn:
        conn.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < HEADER_TIMEOUT + 20:
            try:
                conn.sendall(b"X")  # one byte a second never completes a header
                conn.settimeout(1.0)
                if conn.recv(100) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
    assert closed, "a connection whose headers never end was kept open"
    assert time.monotonic() - started >= HEADER_TIMEOUT - 1


def test_the_http_server_says_where_it_serves_and_refuses_a_taken_port(tmp_path: Path) -> None:
    # Issue 15, case 5: nothing was printed at start; a busy port gave uvicorn's raw
    # [Errno 98] after the keeper and `chroma run` had started.
    store = tmp_path / "store"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = subprocess.run(
            [*SERVER, "--transport", "http", "--port", str(port), "--path", str(store), "--embedder", "hash"],
            env=server_env(store),
            capture_output=True,
            timeout=60,
        )
    assert done.returncode == 2
    assert b"--port: cannot listen on 127.0.0.1:" in done.stderr and b"Traceback" not in done.stderr
    assert not (store / "mcp-share").exists()  # no keeper was started
    port = free_port()
    proc = subprocess.Popen(
        [*SERVER, "--transport", "http", "--port", str(port), "--no-share", "--embedder", "hash"],
        env=server_env(store),
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    try:
        first = proc.stderr.readline()  # the first thing it says, whatever the log level
    finally:
        stop(proc)
    assert first.decode().strip() == f"priomem-mcp: serving MCP at http://127.0.0.1:{port}/mcp"
