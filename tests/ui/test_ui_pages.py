"""The memory browser's pages through Starlette's TestClient: what each shows, filters, search, escaping."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from priomem import HashEmbedder, MemoryEngine, Priority, Settings
from priomem._timeparse import utcnow
from priomem.serving import EngineHolder
from priomem.ui import build_ui_app
from tests.ui.conftest import XSS, seed_demo

BASE = "http://127.0.0.1"


def client(engine: Any, **options: Any) -> TestClient:
    return TestClient(build_ui_app(engine, **options), base_url=BASE)


@pytest.fixture
def ui(engine: MemoryEngine) -> Iterator[TestClient]:
    with client(engine) as c:
        yield c


def rows(html: str) -> list[str]:
    """The memory ids of the list's rows, in order."""
    return re.findall(r'<tr data-id="([^"]+)"', html)


def test_namespaces_show_counts_by_priority_and_quota_use(engine: MemoryEngine, ui: TestClient) -> None:
    seed_demo(engine)
    engine.remember("Alice prefers short answers", namespace="user:alice", priority="high")
    engine.set_quota("demo", max_memories=12)
    page = ui.get("/")
    assert page.status_code == 200
    html = page.text
    assert 'href="/ns/demo"' in html and 'href="/ns/user%3Aalice"' in html
    demo_row = re.search(r"<tr><th scope=\"row\"><a href=\"/ns/demo\">demo</a>.*?</tr>", html, re.S)
    assert demo_row is not None
    cells = re.findall(r'title="(\w+) memories in demo">(\d+)<', demo_row.group(0))
    assert dict(cells) == {"critical": "2", "high": "3", "medium": "2", "low": "2"}
    assert "9 / 12" in demo_row.group(0) and "(75%)" in demo_row.group(0)
    assert "2 namespaces, 10 live memories" in html


def test_empty_store_says_how_to_start(ui: TestClient) -> None:
    page = ui.get("/")
    assert page.status_code == 200
    assert "No memories yet" in page.text and "priomem demo" in page.text


def test_list_is_newest_first_and_paginates(engine: MemoryEngine, ui: TestClient) -> None:
    now = utcnow()
    made = [
        engine.remember(f"note number {i}", created_at=now - timedelta(minutes=60 - i), namespace="big")
        for i in range(30)
    ]
    first = ui.get("/ns/big")
    assert rows(first.text) == [m.id for m in reversed(made)][:25]
    assert 'rel="next" href="/ns/big?page=2"' in first.text
    second = ui.get("/ns/big?page=2")
    assert rows(second.text) == [m.id for m in reversed(made)][25:]
    assert 'rel="prev"' in second.text and 'rel="next"' not in second.text


def test_filters_by_priority_tags_and_time(engine: MemoryEngine, ui: TestClient) -> None:
    stored = seed_demo(engine)
    by_text = {m.id: m for m in stored.values()}

    def shown(query: str) -> list[Any]:
        page = ui.get("/ns/demo?" + query)
        assert page.status_code == 200, page.text
        return [by_text[i] for i in rows(page.text)]

    assert {m.priority for m in shown("priority=critical")} == {Priority.CRITICAL}
    assert len(shown("priority=critical")) == 2
    assert {m.priority for m in shown("priority=high-or-above")} == {Priority.HIGH, Priority.CRITICAL}
    recent = shown("since=48h")
    assert len(recent) == 4 and all(utcnow() - m.created_at < timedelta(hours=48) for m in recent)
    assert all("debug" in m.tags for m in shown("tags=debug"))
    assert len(shown("tags=debug,orders")) == 1
    assert len(shown("since=48h&priority=low")) == 1
    # the chosen filters stay selected in the form
    page = ui.get("/ns/demo?since=48h&priority=low")
    assert '<option value="48h" selected>' in page.text and '<option value="low" selected>' in page.text


def test_bad_filters_explain_themselves(engine: MemoryEngine, ui: TestClient) -> None:
    seed_demo(engine)
    page = ui.get("/ns/demo?priority=urgent")
    assert page.status_code == 400 and "not one of" in page.text
    page = ui.get("/ns/demo?since=" + "<b>soon</b>")
    assert page.status_code == 400
    assert "<b>soon</b>" not in page.text and "&lt;b&gt;soon&lt;/b&gt;" in page.text


def test_search_ranks_by_recall_with_scores(engine: MemoryEngine, ui: TestClient) -> None:
    stored = seed_demo(engine)
    failed = next(m for m in stored.values() if m.content.startswith("Orders ETL failed"))
    page = ui.get("/ns/demo?q=orders+ETL+failed+upstream+refunds")
    assert page.status_code == 200
    assert rows(page.text)[0] == failed.id
    scores = [float(s) for s in re.findall(r'<span title="rank \d+">([0-9.]+)</span>', page.text)]
    assert scores == sorted(scores, reverse=True) and len(scores) == len(rows(page.text))
    # an exact priority narrows the hits after recall
    critical = ui.get("/ns/demo?q=orders&priority=critical")
    assert {stored_m.priority for stored_m in stored.values() if stored_m.id in rows(critical.text)} == {
        Priority.CRITICAL
    }


def test_search_offers_more_results_when_k_is_reached(engine: MemoryEngine, ui: TestClient) -> None:
    engine.remember_many([{"content": f"deploy log line {i}", "namespace": "logs"} for i in range(30)])
    page = ui.get("/ns/logs?q=deploy+log")
    assert len(rows(page.text)) == 20
    assert 'href="/ns/logs?q=deploy+log&amp;k=40"' in page.text
    more = ui.get("/ns/logs?q=deploy+log&k=40")
    assert len(rows(more.text)) == 30 and "More results" not in more.text


def test_memory_page_shows_every_field_and_links(engine: MemoryEngine, ui: TestClient) -> None:
    target = engine.remember("the target", namespace="n")
    gone = engine.remember("soon gone", namespace="n")
    memory = engine.remember(
        "Line one\nLine two",
        namespace="n",
        priority="high",
        tags=["etl", "orders"],
        metadata={"source": "runbook", "attempts": 3},
        refs=[target.id, gone.id],
        ttl="7d",
        thread="incident-42#chat",
    )
    engine.forget([gone.id], namespace="n")
    page = ui.get(f"/ns/n/m/{memory.id}")
    assert page.status_code == 200
    html = page.text
    fields = set(re.findall(r'<tr data-field="([a-z_]+)">', html))
    expected = set(memory.to_dict()) - {"content", "ttl_seconds"} | {"ttl"}
    assert fields == expected
    assert '<pre class="content" id="content">Line one\nLine two</pre>' in html
    assert f'href="/ns/n/m/{target.id}"' in html and f'href="/ns/n/m/{gone.id}"' in html
    assert html.count("(gone)") == 1
    assert "&quot;runbook&quot;" in html and "7 days" in html
    assert "incident-42#chat" in html
    assert "Search score" not in html


def test_consolidated_from_links_to_the_merged_ids(engine: MemoryEngine, ui: TestClient) -> None:
    a = engine.remember("orders etl finished in 40 minutes", namespace="c")
    b = engine.remember("orders etl finished in 40 minutes today", namespace="c")
    merged = engine.consolidate("c", min_similarity=0.5)
    assert merged, "the hash embedder should merge near-identical texts"
    page = ui.get(f"/ns/c/m/{merged[0].memory.id}")
    for old in (a.id, b.id):
        assert f'href="/ns/c/m/{old}"' in page.text
    assert page.text.count("(gone)") == 2


def test_memory_from_a_search_shows_its_score_and_parts_without_recalling_again(
    engine: MemoryEngine, ui: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = seed_demo(engine)
    failed = next(m for m in stored.values() if m.content.startswith("Orders ETL failed"))
    calls: list[str] = []
    recall = engine.recall

    def counting(query: str, **kwargs: Any) -> Any:
        calls.append(query)
        return recall(query, **kwargs)

    monkeypatch.setattr(engine, "recall", counting)
    listing = ui.get("/ns/demo?q=orders+ETL+failed")
    link = re.search(rf'href="(/ns/demo/m/{failed.id}\?[^"]+)"', listing.text)
    assert link is not None
    page = ui.get(link.group(1).replace("&amp;", "&"))
    assert calls == ["orders ETL failed"], "opening a result must not count another recall"
    html = page.text
    assert 'id="score"' in html and re.search(r"Rank <b>\d+</b>", html)
    for part in ("similarity", "lexical", "priority", "recency", "access"):
        assert f'data-part="{part}"' in html
    assert re.search(r'id="score-value">0\.\d{3}<', html)
    assert "Back to results" in html


def test_a_memory_outside_the_results_says_so(engine: MemoryEngine, ui: TestClient) -> None:
    stored = seed_demo(engine)
    sla = next(m for m in stored.values() if m.content.startswith("SLA"))
    page = ui.get(f"/ns/demo/m/{sla.id}?q=marketing&priority=low")
    assert "not among the" in page.text


def test_unknown_memory_and_page_are_404_pages(ui: TestClient) -> None:
    page = ui.get("/ns/demo/m/01NOSUCHMEMORY")
    assert page.status_code == 404 and "Memory not found" in page.text
    assert ui.get("/nothing/here").status_code == 404
    page = ui.get("/ns/bad%20name")
    assert page.status_code == 404 and "not a valid namespace" in page.text


def test_everything_a_memory_contains_is_escaped(engine: MemoryEngine, ui: TestClient) -> None:
    memory = engine.remember(
        XSS,
        namespace="x",
        metadata={"note": "<img src=x onerror=alert(2)>", "quote": "\"'><svg onload=alert(3)>"},
    )
    for path in ("/ns/x", f"/ns/x/m/{memory.id}", f"/ns/x/m/{memory.id}/forget", "/ns/x?q=script+alert"):
        html = ui.get(path).text
        assert "<script>alert" not in html and "<img src=x" not in html and "<svg" not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path
    detail = ui.get(f"/ns/x/m/{memory.id}").text
    assert "&lt;img src=x onerror=alert(2)&gt;" in detail
    assert "&quot;&#x27;&gt;&lt;svg onload=alert(3)&gt;" in detail


def test_an_engine_holder_is_accepted(engine: MemoryEngine) -> None:
    engine.remember("held", namespace="h")
    with client(EngineHolder.of(engine)) as c:
        assert "held" in c.get("/ns/h").text


def test_static_assets_ship_in_the_package(ui: TestClient) -> None:
    css = ui.get("/static/ui.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert ".p-critical" in css.text
    assert ui.get("/static/ui.js").headers["content-type"].startswith("text/javascript")
    assert ui.get("/static/favicon.svg").headers["content-type"] == "image/svg+xml"
    assert ui.get("/static/../_app.py").status_code == 404
    assert ui.get("/static/secret.txt").status_code == 404


def test_audit_log_view_filters_by_namespace_and_action(engine: MemoryEngine, ui: TestClient) -> None:
    a = engine.remember("a", namespace="one")
    b = engine.remember("b", namespace="two")
    engine.forget([a.id], namespace="one")
    engine.forget([b.id], namespace="two")
    engine.sweep()
    html = ui.get("/audit").text
    assert a.id in html and b.id in html
    only_one = ui.get("/audit?namespace=one").text
    assert a.id in only_one and b.id not in only_one
    assert ui.get("/audit?action=erase").text.count("<tr><td") == 0
    assert ui.get("/audit?action=drop").status_code == 400


def test_more_results_stop_at_the_engines_max_k(chroma_client: object) -> None:
    settings = Settings(max_k=30)
    with MemoryEngine(client=chroma_client, embedder=HashEmbedder(64), settings=settings) as capped:
        capped.remember_many([{"content": f"deploy log line {i}", "namespace": "logs"} for i in range(50)])
        with client(capped) as c:
            first = c.get("/ns/logs?q=deploy+log")
            assert 'href="/ns/logs?q=deploy+log&amp;k=30"' in first.text
            last = c.get("/ns/logs?q=deploy+log&k=30")
            assert len(rows(last.text)) == 30 and "More results" not in last.text
            assert len(rows(c.get("/ns/logs?q=deploy+log&k=999").text)) == 30
