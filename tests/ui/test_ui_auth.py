"""Bearer tokens with namespace binding, the login form, and serving: loopback by default."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from priomem import InvalidInputError, MemoryEngine
from priomem.serving import load_tokens
from priomem.ui import build_ui_app
from priomem.ui._security import CSRF_COOKIE, SESSION_COOKIE
from priomem.ui._serve import bind, check_bind

BASE = "http://127.0.0.1"
ALICE = "alice-token-0123456789abcdef"
OPS = "ops-token-0123456789abcdef00"
GRANTS = load_tokens(inline=f"{ALICE} = alice, shared; {OPS} = ops, *")


@pytest.fixture
def stored(engine: MemoryEngine) -> dict[str, str]:
    ids = {}
    for ns in ("alice", "shared", "bob"):
        ids[ns] = engine.remember(f"a memory of {ns}", namespace=ns).id
    engine.forget([engine.remember("to audit", namespace="bob").id], namespace="bob")
    return ids


@pytest.fixture
def ui(engine: MemoryEngine) -> Iterator[TestClient]:
    with TestClient(build_ui_app(engine, grants=GRANTS), base_url=BASE) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def sign_in(c: TestClient, token: str, next_path: str = "/") -> httpx.Response:
    form = c.get("/login", params={"next": next_path})
    assert form.status_code == 200 and 'type="password"' in form.text
    return c.post(
        "/login",
        data={"token": token, "csrf": c.cookies.get(CSRF_COOKIE) or "", "next": next_path},
        follow_redirects=False,
    )


def test_without_a_token_pages_lead_to_the_login_form(ui: TestClient, stored: dict[str, str]) -> None:
    page = ui.get("/ns/alice?priority=high", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fns%2Falice%3Fpriority%3Dhigh"
    refused = ui.post("/ns/alice/export", data={"csrf": "x"}, follow_redirects=False)
    assert refused.status_code == 401
    assert ui.get("/static/ui.css").status_code == 200, "assets need no token"


def test_a_bearer_header_sees_only_its_namespaces(ui: TestClient, stored: dict[str, str]) -> None:
    home = ui.get("/", headers=bearer(ALICE))
    assert home.status_code == 200
    assert 'href="/ns/alice"' in home.text and 'href="/ns/shared"' in home.text
    assert "/ns/bob" not in home.text
    assert ui.get("/ns/bob", headers=bearer(ALICE)).status_code == 403
    assert ui.get(f"/ns/bob/m/{stored['bob']}", headers=bearer(ALICE)).status_code == 403
    assert ui.get("/audit?namespace=bob", headers=bearer(ALICE)).status_code == 403
    audit = ui.get("/audit", headers=bearer(ALICE)).text
    assert "/ns/bob" not in audit and ">bob<" not in audit, "another namespace's deletions stay hidden"
    assert 'href="/ns/bob"' in ui.get("/audit", headers=bearer(OPS)).text
    assert ui.get("/", headers=bearer("not-a-known-token-0000")).status_code == 401
    star = ui.get("/", headers=bearer(OPS)).text
    assert 'href="/ns/bob"' in star and 'href="/ns/alice"' in star


def test_a_token_cannot_act_outside_its_namespaces(
    engine: MemoryEngine, ui: TestClient, stored: dict[str, str]
) -> None:
    ui.get("/", headers=bearer(ALICE))
    token = ui.cookies.get(CSRF_COOKIE) or ""
    refused = ui.post(
        f"/ns/bob/m/{stored['bob']}/forget",
        data={"csrf": token, "confirm": "yes"},
        headers=bearer(ALICE),
        follow_redirects=False,
    )
    assert refused.status_code == 403
    assert engine.get(stored["bob"], namespace="bob") is not None
    allowed = ui.post(
        f"/ns/alice/m/{stored['alice']}/forget",
        data={"csrf": token, "confirm": "yes"},
        headers=bearer(ALICE),
        follow_redirects=False,
    )
    assert allowed.status_code == 303 and engine.get(stored["alice"], namespace="alice") is None


def test_login_form_trades_the_token_for_a_session_cookie(ui: TestClient, stored: dict[str, str]) -> None:
    wrong = sign_in(ui, "wrong-token-0123456789abcdef")
    assert wrong.status_code == 401 and "not known" in wrong.text
    done = sign_in(ui, ALICE, "/ns/shared")
    assert done.status_code == 303 and done.headers["location"] == "/ns/shared"
    cookies = done.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith(SESSION_COOKIE)).lower()
    assert "httponly" in session and "samesite=strict" in session
    assert ALICE not in " ".join(cookies), "the token itself is never stored in the browser"
    page = ui.get("/ns/shared")
    assert page.status_code == 200 and "a memory of shared" in page.text and "Log out" in page.text
    assert ui.get("/ns/bob").status_code == 403
    logout = ui.post("/logout", data={"csrf": ui.cookies.get(CSRF_COOKIE) or ""}, follow_redirects=False)
    assert logout.status_code == 303
    assert ui.get("/ns/shared", follow_redirects=False).status_code == 303


def test_login_needs_its_csrf_token_and_stays_on_site(ui: TestClient) -> None:
    ui.get("/login")
    forged = ui.post("/login", data={"token": ALICE, "csrf": "forged"}, follow_redirects=False)
    assert forged.status_code == 403
    for target in ("//evil.example/x", "https://evil.example", "\\\\evil"):
        done = sign_in(ui, ALICE, target)
        assert done.headers["location"] == "/", target


def test_no_tokens_means_no_login(engine: MemoryEngine) -> None:
    with TestClient(build_ui_app(engine), base_url=BASE) as c:
        assert c.get("/login", follow_redirects=False).headers["location"] == "/"
        assert "Log out" not in c.get("/").text


def test_serving_beyond_loopback_needs_tokens() -> None:
    with pytest.raises(InvalidInputError, match="without bearer tokens"):
        check_bind("0.0.0.0", None)
    with pytest.raises(InvalidInputError, match="without bearer tokens"):
        check_bind("192.168.1.20", {})
    check_bind("127.0.0.1", None)
    check_bind("::1", None)
    check_bind("0.0.0.0", GRANTS)


def test_a_taken_port_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(InvalidInputError, match=f"cannot listen on 127.0.0.1:{port}"):
            bind("127.0.0.1", port)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_run_ui_serves_until_stopped(tmp_path: Path, stop: signal.Signals) -> None:
    """The real entry point in its own process: prints the address, serves, returns on a signal.

    The same fresh interpreter shows the package is cheap to import (no Starlette or uvicorn
    until serving) and needs no MCP SDK even while serving.
    """
    script = textwrap.dedent(
        f"""
        import sys
        import priomem
        eager = "priomem.ui" in sys.modules
        from priomem import HashEmbedder, MemoryEngine, Settings
        from priomem.ui import run_ui
        print("imports", eager, bool({{"starlette", "uvicorn"}} & set(sys.modules)), flush=True)
        with MemoryEngine({str(tmp_path / "store")!r}, embedder=HashEmbedder(64), settings=Settings()) as engine:
            engine.remember("served from a real store", namespace="live")
            run_ui(engine, port=0, announce=lambda url: print(url, flush=True))
        print("stopped", "mcp" in sys.modules, flush=True)
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRIOMEM_") or k == "PRIOMEM_CACHE_DIR"}
    env["ANONYMIZED_TELEMETRY"] = "False"
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().split() == ["imports", "False", "False"]
        line = proc.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", line), (line, proc.stderr and proc.stderr.read())
        deadline = time.monotonic() + 20
        while True:
            try:
                page = httpx.get(line + "ns/live", timeout=5)
                break
            except httpx.ConnectError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        assert page.status_code == 200 and "served from a real store" in page.text
        proc.send_signal(stop)
        out, _ = proc.communicate(timeout=20)
        assert proc.returncode == 0 and out.split() == ["stopped", "False"]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
