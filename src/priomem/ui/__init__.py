"""priomem's memory browser: see, search and curate what an agent remembers, in a web page.

Run it with ``priomem ui`` (see the README, "See and curate memories in a browser"), or serve an engine you already have::

    from priomem.ui import build_ui_app, run_ui
    run_ui(engine)                                  # http://127.0.0.1:8766/, until Ctrl+C
    app = build_ui_app(engine, read_only=True)      # an ASGI app, to mount anywhere

Server-rendered pages with a small stylesheet and script shipped in the package: no
front-end build, nothing fetched from the network. Security: loopback by default, bearer
tokens with namespace binding when exposed, CSRF tokens on every action, everything a
memory contains escaped as text, and a read-only mode that hides and refuses actions.

Importing this package is cheap: Starlette and uvicorn load when a name below is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from priomem._extras import require
from priomem._lazy import lazy_exports

if TYPE_CHECKING:
    from priomem.ui._app import build_ui_app
    from priomem.ui._serve import DEFAULT_PORT, make_server, run_ui

__all__ = ["DEFAULT_PORT", "build_ui_app", "make_server", "run_ui"]

_WHERE = {
    "DEFAULT_PORT": "_serve",
    "build_ui_app": "_app",
    "make_server": "_serve",
    "run_ui": "_serve",
}


def _check(name: str, module: str) -> None:
    require("ui", "starlette", "uvicorn", what="the memory browser")


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, check=_check)
