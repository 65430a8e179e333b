"""End to end in a real headless Chromium: browse, filter, search, open, forget; read-only; escaping.

Screenshots of the main views land in tests/ui/screenshots/ (git-ignored); docs/images/ui.png
is one of them, committed for the README.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from priomem import MemoryEngine, Priority
from priomem._timeparse import utcnow
from priomem.serving import load_tokens
from tests.ui.conftest import XSS, LiveServer, Tab, seed_demo


def ids_shown(tab: Tab) -> list[str]:
    return list(tab.page.locator("#memories tbody tr").evaluate_all("rows => rows.map(r => r.dataset.id)"))


def seed_store(engine: MemoryEngine) -> dict[str, Any]:
    stored = seed_demo(engine)
    engine.set_quota("demo", max_memories=12)
    engine.remember(
        "Alice prefers answers in French, as short bullet lists.", namespace="user:alice", priority="high"
    )
    engine.remember("Alice's team owns the billing pipeline.", namespace="user:alice")
    engine.set_quota("user:alice", max_memories=50)
    engine.remember_many(
        [
            {"content": f"agent-7 scratch note {i}", "namespace": "agent-7", "priority": "low"}
            for i in range(3)
        ]
    )
    return stored


def test_browse_filter_search_open_and_forget(
    engine: MemoryEngine, serve: Callable[..., LiveServer], tab: Tab
) -> None:
    stored = seed_store(engine)
    server = serve(engine)
    page = tab.page

    page.goto(server.url + "/")
    assert page.locator("#namespaces tbody tr").count() == 3
    tab.shot("namespaces")

    page.click("#namespaces a[href='/ns/demo']")
    page.wait_for_url("**/ns/demo")
    assert len(ids_shown(tab)) == len(stored) == 9
    tab.shot("list")

    # priority: the select applies itself (ui.js); the page then shows only CRITICAL
    page.select_option("#priority", "critical")
    page.wait_for_url("**priority=critical**")
    critical = {m.id for m in stored.values() if m.priority is Priority.CRITICAL}
    assert set(ids_shown(tab)) == critical and len(critical) == 2

    # time: the last 48 hours, any priority
    page.select_option("#priority", "")
    page.wait_for_url(lambda url: "priority=critical" not in url)
    page.select_option("#since", "48h")
    page.wait_for_url("**since=48h**")
    recent = {m.id for m in stored.values() if utcnow() - m.created_at < timedelta(hours=48)}
    assert set(ids_shown(tab)) == recent and len(recent) == 4
    tab.shot("list-last-48h")

    # search through recall, then open the best match with its score
    page.click("text=Reset")
    page.fill("#q", "orders ETL failed upstream refunds")
    page.click("button:has-text('Apply')")
    page.wait_for_url("**q=orders**")
    failed = next(m for m in stored.values() if m.content.startswith("Orders ETL failed"))
    assert ids_shown(tab)[0] == failed.id
    assert page.locator("#memories thead").inner_text().upper().startswith("SCORE")
    tab.shot("search")

    page.click(f"#memories tr[data-id='{failed.id}'] td.content a")
    page.wait_for_url(f"**/m/{failed.id}?**")
    assert page.locator("#content").inner_text() == failed.content
    assert "Rank 1" in page.locator("#score").inner_text()
    assert page.locator("#score tr[data-part]").count() == 5
    tab.shot("memory")

    # forget, with the confirmation step
    page.click("#forget")
    page.wait_for_url("**/forget")
    assert "Forget this memory?" in page.content()
    tab.shot("confirm-forget")
    page.click("#confirm-forget")
    page.wait_for_url("**done=forgot**")
    assert f"Forgot memory {failed.id}." in page.locator(".flash").inner_text()
    assert failed.id not in ids_shown(tab) and len(ids_shown(tab)) == 8
    assert engine.get(failed.id, namespace="demo") is None

    # it is gone for good: its page is a 404, the audit log has the deletion
    response = page.goto(f"{server.url}/ns/demo/m/{failed.id}")
    assert response is not None and response.status == 404
    assert "Memory not found" in page.content()
    page.goto(server.url + "/audit")
    assert failed.id in page.locator("#audit").inner_text()
    tab.shot("audit")
    assert not tab.dialogs and not tab.errors


def test_change_priority_and_export(
    engine: MemoryEngine, serve: Callable[..., LiveServer], tab: Tab, tmp_path: Path
) -> None:
    memory = engine.remember("Refunds export lands at 02:00 UTC", namespace="ops", priority="low")
    engine.remember("Second ops fact", namespace="ops")
    server = serve(engine)
    page = tab.page
    page.goto(f"{server.url}/ns/ops/m/{memory.id}")
    page.select_option("#new-priority", "critical")
    page.click("#change-priority")
    page.wait_for_url("**done=priority")
    assert page.locator(".flash").inner_text() == "Priority changed."
    assert page.locator("h1 .badge").inner_text().lower() == "critical"
    changed = engine.get(memory.id, namespace="ops")
    assert changed is not None and changed.priority is Priority.CRITICAL and changed.id == memory.id

    page.goto(f"{server.url}/ns/ops")
    with page.expect_download() as download_info:
        page.click("#export")
    download = download_info.value
    assert download.suggested_filename.startswith("priomem-ops-") and download.suggested_filename.endswith(
        ".jsonl"
    )
    target = tmp_path / "export.jsonl"
    download.save_as(target)
    lines = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert lines[0]["format"] == "priomem-export"
    assert {m["content"] for m in lines[1:]} == {"Refunds export lands at 02:00 UTC", "Second ops fact"}


def test_read_only_mode_refuses(engine: MemoryEngine, serve: Callable[..., LiveServer], tab: Tab) -> None:
    seed_store(engine)
    memory = engine.list(namespace="demo", limit=1)[0]
    server = serve(engine, read_only=True)
    page = tab.page
    page.goto(f"{server.url}/ns/demo")
    assert page.locator(".pill.ro").inner_text() == "read-only"
    assert page.locator("#export").count() == 0
    page.goto(f"{server.url}/ns/demo/m/{memory.id}")
    assert page.locator("#actions").count() == 0 and page.locator("#forget").count() == 0
    tab.shot("read-only")
    response = page.goto(f"{server.url}/ns/demo/m/{memory.id}/forget")
    assert response is not None and response.status == 403
    assert "read-only" in page.locator("main").inner_text()
    # even a hand-made POST with the page's own CSRF cookie is refused
    cookie = next(c["value"] for c in page.context.cookies() if c["name"] == "priomem_ui_csrf")
    refused = page.request.post(
        f"{server.url}/ns/demo/m/{memory.id}/forget", form={"csrf": cookie, "confirm": "yes"}
    )
    assert refused.status == 403
    assert engine.get(memory.id, namespace="demo") is not None


def test_script_content_shows_as_text(
    engine: MemoryEngine, serve: Callable[..., LiveServer], tab: Tab
) -> None:
    memory = engine.remember(
        XSS, namespace="xss", priority="high", metadata={"note": "<img src=x onerror=alert(2)>"}
    )
    server = serve(engine)
    page = tab.page
    for path in (
        "/ns/xss",
        f"/ns/xss/m/{memory.id}",
        f"/ns/xss/m/{memory.id}/forget",
        "/ns/xss?q=script+alert",
    ):
        page.goto(server.url + path)
        page.wait_for_load_state("load")
        assert page.get_by_text(XSS, exact=True).first.is_visible(), path
        # the only script on the page is the app's own file
        scripts = page.locator("script").evaluate_all("s => s.map(e => e.getAttribute('src') || 'INLINE')")
        assert len(scripts) == 1 and "/static/ui.js" in scripts[0], (path, scripts)
    page.goto(f"{server.url}/ns/xss/m/{memory.id}")
    assert page.locator("#content").inner_text() == XSS
    assert "<img src=x onerror=alert(2)>" in page.locator("#fields").inner_text()
    assert page.locator("#fields img").count() == 0
    tab.shot("script-as-text")
    page.wait_for_timeout(200)
    assert tab.dialogs == [], "no alert() may fire"
    assert tab.errors == []


def test_tokens_bind_the_browser_to_its_namespaces(
    engine: MemoryEngine, serve: Callable[..., LiveServer], tab: Tab
) -> None:
    seed_store(engine)
    token = "alice-token-0123456789abcdef"
    server = serve(engine, grants=load_tokens(inline=f"{token} = user:alice"))
    page = tab.page
    page.goto(f"{server.url}/ns/user:alice")
    page.wait_for_url("**/login?next=**")
    tab.shot("login")
    page.fill("#token", "wrong-token-0123456789abcdef")
    page.click("button:has-text('Sign in')")
    assert "not known" in page.locator(".flash").inner_text()
    page.fill("#token", token)
    page.click("button:has-text('Sign in')")
    page.wait_for_url("**/ns/user:alice")
    assert len(ids_shown(tab)) == 2
    page.goto(server.url + "/")
    assert page.locator("#namespaces tbody tr").count() == 1
    response = page.goto(f"{server.url}/ns/demo")
    assert response is not None and response.status == 403
    page.goto(server.url + "/")
    page.click("button:has-text('Log out')")
    page.wait_for_url("**/login")
