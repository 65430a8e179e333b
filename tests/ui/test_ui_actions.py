"""Actions (forget, change priority, export) and the guards around them: CSRF, origin, read-only, Host."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from priomem import Memory, MemoryEngine, Priority
from priomem.ui import build_ui_app
from priomem.ui._security import CSRF_COOKIE

BASE = "http://127.0.0.1"


@pytest.fixture
def memory(engine: MemoryEngine) -> Memory:
    return engine.remember("Nightly ETL must finish by 06:00 UTC", namespace="ops", priority="medium")


@pytest.fixture
def ui(engine: MemoryEngine) -> Iterator[TestClient]:
    with TestClient(build_ui_app(engine), base_url=BASE) as c:
        c.get("/")  # sets the CSRF cookie, as opening any page does
        yield c


def csrf(c: TestClient) -> str:
    token = c.cookies.get(CSRF_COOKIE)
    assert token, "opening a page sets the CSRF cookie"
    return token


def post(c: TestClient, path: str, data: dict[str, str], **kw: Any) -> Any:
    return c.post(path, data=data, follow_redirects=False, **kw)


def test_forget_needs_the_confirmation_step_then_forgets(
    engine: MemoryEngine, ui: TestClient, memory: Memory
) -> None:
    confirm = ui.get(f"/ns/ops/m/{memory.id}/forget")
    assert confirm.status_code == 200 and "Forget for good" in confirm.text
    assert f'value="{csrf(ui)}"' in confirm.text
    refused = post(ui, f"/ns/ops/m/{memory.id}/forget", {"csrf": csrf(ui)})
    assert refused.status_code == 400 and engine.get(memory.id, namespace="ops") is not None
    done = post(ui, f"/ns/ops/m/{memory.id}/forget", {"csrf": csrf(ui), "confirm": "yes"})
    assert done.status_code == 303
    assert done.headers["location"] == f"/ns/ops?done=forgot&id={memory.id}"
    assert engine.get(memory.id, namespace="ops") is None
    after = ui.get(done.headers["location"])
    assert f"Forgot memory {memory.id}." in after.text
    assert f'data-id="{memory.id}"' not in after.text
    assert engine.audit_log(namespace="ops")[0].ids == (memory.id,)
    again = post(ui, f"/ns/ops/m/{memory.id}/forget", {"csrf": csrf(ui), "confirm": "yes"})
    assert again.status_code == 404


def test_change_priority_keeps_the_id(engine: MemoryEngine, ui: TestClient, memory: Memory) -> None:
    done = post(ui, f"/ns/ops/m/{memory.id}/priority", {"csrf": csrf(ui), "priority": "low"})
    assert done.status_code == 303 and done.headers["location"] == f"/ns/ops/m/{memory.id}?done=priority"
    changed = engine.get(memory.id, namespace="ops")
    assert changed is not None and changed.priority is Priority.LOW
    assert changed.expires_at is not None, "LOW memories expire by default; retention was recomputed"
    page = ui.get(done.headers["location"])
    assert "Priority changed." in page.text and '<option value="low" selected>' in page.text
    bad = post(ui, f"/ns/ops/m/{memory.id}/priority", {"csrf": csrf(ui), "priority": "urgent"})
    assert bad.status_code == 400 and "not a priority" in bad.text
    missing = post(ui, "/ns/ops/m/01NOSUCHID/priority", {"csrf": csrf(ui), "priority": "high"})
    assert missing.status_code == 404


def test_export_downloads_the_namespace_as_json_lines(engine: MemoryEngine, ui: TestClient) -> None:
    engine.remember_many([{"content": f"ops fact {i}", "namespace": "ops"} for i in range(3)])
    engine.remember("elsewhere", namespace="other")
    response = post(ui, "/ns/ops/export", {"csrf": csrf(ui)})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert response.headers["content-disposition"].startswith('attachment; filename="priomem-ops-')
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines[0]["format"] == "priomem-export"
    assert sorted(m["content"] for m in lines[1:]) == ["ops fact 0", "ops fact 1", "ops fact 2"]


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/ns/ops/m/{id}/forget", {"confirm": "yes"}),
        ("/ns/ops/m/{id}/priority", {"priority": "critical"}),
        ("/ns/ops/export", {}),
    ],
)
def test_every_action_needs_the_csrf_token(
    engine: MemoryEngine, ui: TestClient, memory: Memory, path: str, data: dict[str, str]
) -> None:
    url = path.format(id=memory.id)
    assert post(ui, url, data).status_code == 403
    assert post(ui, url, {**data, "csrf": "forged-token"}).status_code == 403
    # a cross-site page cannot read the cookie; without the cookie the field is worthless too
    ui.cookies.clear()
    assert post(ui, url, {**data, "csrf": "anything"}).status_code == 403
    kept = engine.get(memory.id, namespace="ops")
    assert kept is not None and kept.priority is Priority.MEDIUM


def test_cross_site_requests_are_refused_even_with_the_token(
    engine: MemoryEngine, ui: TestClient, memory: Memory
) -> None:
    url = f"/ns/ops/m/{memory.id}/forget"
    data = {"csrf": csrf(ui), "confirm": "yes"}
    assert post(ui, url, data, headers={"origin": "http://evil.example"}).status_code == 403
    assert post(ui, url, data, headers={"origin": "http://localhost:3000"}).status_code == 403
    assert post(ui, url, data, headers={"sec-fetch-site": "cross-site"}).status_code == 403
    assert post(ui, url, data, headers={"sec-fetch-site": "same-site"}).status_code == 403
    assert post(ui, url, data, headers={"origin": "null"}).status_code == 403
    assert engine.get(memory.id, namespace="ops") is not None
    same = post(ui, url, data, headers={"origin": BASE, "sec-fetch-site": "same-origin"})
    assert same.status_code == 303


def test_actions_are_post_only_forms(ui: TestClient, memory: Memory) -> None:
    assert ui.get(f"/ns/ops/m/{memory.id}/priority").status_code == 405
    assert ui.get("/ns/ops/export").status_code == 405
    as_json = ui.post(
        f"/ns/ops/m/{memory.id}/forget", json={"csrf": csrf(ui), "confirm": "yes"}, follow_redirects=False
    )
    assert as_json.status_code == 415
    huge = post(
        ui, f"/ns/ops/m/{memory.id}/forget", {"csrf": csrf(ui), "confirm": "yes", "pad": "x" * 20_000}
    )
    assert huge.status_code == 413


def test_read_only_hides_and_refuses_every_action(engine: MemoryEngine, memory: Memory) -> None:
    with TestClient(build_ui_app(engine, read_only=True), base_url=BASE) as ro:
        listing = ro.get("/ns/ops").text
        page = ro.get(f"/ns/ops/m/{memory.id}").text
        for html in (listing, page, ro.get("/").text):
            assert "read-only" in html
            assert 'method="post"' not in html, "no action form is shown"
        assert "Export" not in listing and "Forget" not in page and "Change priority" not in page
        assert ro.get(f"/ns/ops/m/{memory.id}/forget").status_code == 403
        token = ro.cookies.get(CSRF_COOKIE) or ""
        for url, data in (
            (f"/ns/ops/m/{memory.id}/forget", {"confirm": "yes"}),
            (f"/ns/ops/m/{memory.id}/priority", {"priority": "low"}),
            ("/ns/ops/export", {}),
        ):
            refused = post(ro, url, {**data, "csrf": token})
            assert refused.status_code == 403 and "read-only" in refused.text
    kept = engine.get(memory.id, namespace="ops")
    assert kept is not None and kept.priority is Priority.MEDIUM


def test_foreign_host_headers_are_refused(engine: MemoryEngine) -> None:
    app = build_ui_app(engine, allowed_hosts=["memory.internal"])
    with TestClient(app, base_url=BASE) as c:
        assert c.get("/", headers={"host": "attacker.example"}).status_code == 421
        assert c.get("/", headers={"host": "attacker.example:8766"}).status_code == 421
        for host in ("127.0.0.1:8766", "localhost", "[::1]:8766", "memory.internal:443"):
            assert c.get("/", headers={"host": host}).status_code == 200, host


def test_pages_carry_security_headers_and_strict_cookies(ui: TestClient) -> None:
    fresh = TestClient(ui.app, base_url=BASE)
    page = fresh.get("/")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-store"
    # not no-referrer: under it Chromium posts forms with "Origin: null", which must be refused
    assert page.headers["referrer-policy"] == "same-origin"
    cookie = page.headers["set-cookie"].lower()
    assert cookie.startswith(CSRF_COOKIE) and "httponly" in cookie and "samesite=strict" in cookie
    assert "path=/" in cookie
    assert fresh.get("/nope").headers["content-security-policy"] == csp


def test_mounted_under_a_prefix_links_and_cookies_stay_inside(engine: MemoryEngine, memory: Memory) -> None:
    outer = Starlette(routes=[Mount("/ui", app=build_ui_app(engine))])
    with TestClient(outer, base_url=BASE) as c:
        page = c.get("/ui/ns/ops")
        assert page.status_code == 200
        assert f'href="/ui/ns/ops/m/{memory.id}"' in page.text and 'href="/ui/static/ui.css?v=' in page.text
        assert "path=/ui" in page.headers["set-cookie"].lower()
        token = c.cookies.get(CSRF_COOKIE) or ""
        done = c.post(
            f"/ui/ns/ops/m/{memory.id}/forget",
            data={"csrf": token, "confirm": "yes"},
            follow_redirects=False,
        )
        assert done.status_code == 303 and done.headers["location"].startswith("/ui/ns/ops?done=forgot")


def test_mounted_beside_the_mcp_endpoint(engine: MemoryEngine, memory: Memory) -> None:
    """``priomem-mcp --transport http --ui on`` serves both: the browser at /ui, MCP at /mcp."""
    from priomem.mcp_server import EngineHolder, ServerConfig, build_http_app, build_server

    holder = EngineHolder.of(engine)
    config = ServerConfig(transport="http", ui="on")
    app = build_http_app(build_server(holder), config, holder)
    with TestClient(app, base_url=BASE) as c:
        page = c.get("/ui/ns/ops")
        assert page.status_code == 200 and memory.content in page.text
        init = c.post(
            "/mcp",
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "t", "version": "1"},
                },
            },
            headers={"Accept": "application/json, text/event-stream"},
        )
        assert init.status_code == 200


def test_a_ui_action_refreshes_cached_counts_at_once(
    engine: MemoryEngine, ui: TestClient, memory: Memory, monkeypatch: pytest.MonkeyPatch
) -> None:
    stats = engine.stats

    def slow_stats(namespace: str | None = None) -> Any:
        time.sleep(0.2)  # a large store: the UI keeps the counts for a while
        return stats(namespace)

    monkeypatch.setattr(engine, "stats", slow_stats)
    assert "<b>1</b> live memories" in ui.get("/ns/ops").text
    engine.remember_many(
        [{"content": f"written by an agent meanwhile {i}", "namespace": "ops"} for i in range(2)]
    )
    page = ui.get("/ns/ops").text
    assert "written by an agent meanwhile 1" in page, "the list itself is always fresh"
    assert "<b>1</b> live memories" in page, "the counts are cached"
    post(ui, f"/ns/ops/m/{memory.id}/forget", {"csrf": csrf(ui), "confirm": "yes"})
    after = ui.get("/ns/ops").text
    assert "<b>2</b> live memories" in after and memory.content not in after
