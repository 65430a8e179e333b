"""The memory browser's fixtures: seeded engines, a live uvicorn server, a real headless Chromium."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from priomem import Memory, MemoryEngine
from priomem._demo import HISTORY
from priomem._timeparse import utcnow
from priomem.ui import build_ui_app, make_server
from priomem.ui._serve import bind

SCREENSHOTS = Path(__file__).parent / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
XSS = "<script>alert(1)</script>"


def chromium_path() -> str:
    """Debian's Chromium (or PRIOMEM_CHROMIUM); the browser tests fail, not skip, without it."""
    candidates = [os.environ.get("PRIOMEM_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")]
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return candidate
    pytest.fail(
        "the browser tests need Chromium and it is not installed: run "
        "'apt-get update && apt-get install -y chromium' (CI's .ci/run does), or point "
        "PRIOMEM_CHROMIUM at a Chromium binary.",
        pytrace=False,
    )


def seed_demo(engine: MemoryEngine, namespace: str = "demo") -> dict[str, Memory]:
    """The demo's week of a data platform, with real created_at times; returns memories by tag of interest."""
    now = utcnow()
    stored = {}
    for hours, priority, tags, content in HISTORY:
        memory = engine.remember(
            content,
            priority=priority,
            tags=tags,
            namespace=namespace,
            created_at=now - timedelta(hours=hours),
        )
        stored[content] = memory
    return stored


@dataclass
class LiveServer:
    """A uvicorn server for one app on a free 127.0.0.1 port, on a background thread."""

    app: Any
    url: str = ""
    _server: Any = None
    _thread: threading.Thread | None = None
    _socket: Any = None
    started_at: float = field(default_factory=time.monotonic)

    def start(self) -> LiveServer:
        self._socket = bind("127.0.0.1", 0)
        port = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self._server = make_server(self.app)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="ui-server", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the UI server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(15)
        if self._socket is not None:
            self._socket.close()


@pytest.fixture
def serve() -> Iterator[Callable[..., LiveServer]]:
    """Start a live server for ``build_ui_app(engine, **options)``; stopped after the test."""
    servers: list[LiveServer] = []

    def start(engine: MemoryEngine, **options: Any) -> LiveServer:
        server = LiveServer(build_ui_app(engine, **options)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the session."""
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Tab:
    """A browser page that records dialogs and page errors, so tests can assert none fired."""

    page: Any
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def shot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def tab(browser: Any) -> Iterator[Tab]:
    """A fresh browser context (own cookies) and page, 1280 px wide."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(10_000)
    recorded = Tab(page)

    def on_dialog(dialog: Any) -> None:
        recorded.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda exc: recorded.errors.append(str(exc)))
    yield recorded
    context.close()
