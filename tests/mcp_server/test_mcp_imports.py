"""Importing the package is cheap: the SDK loads only when a server is built or run."""

from __future__ import annotations

import subprocess
import sys

import priomem.mcp_server


def test_importing_the_package_loads_no_sdk() -> None:
    code = "import sys, priomem.mcp_server; print('mcp' in sys.modules, 'uvicorn' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["False", "False"], done.stderr


def test_public_names() -> None:
    assert sorted(priomem.mcp_server.__all__) == [
        "EngineHolder", "Grant", "ServerConfig", "ToolRunner", "build_http_app",
        "build_server", "load_tokens", "main", "parse_config", "serve_stdio",
    ]  # fmt: skip
    for name in priomem.mcp_server.__all__:
        assert getattr(priomem.mcp_server, name).__doc__
