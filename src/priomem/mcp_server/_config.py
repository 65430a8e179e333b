"""The server's configuration: one object, parsed once in ``main()`` from flags and environment.

Precedence, highest first: command-line flags, then ``PRIOMEM_*`` environment variables,
then the defaults below. Engine settings (store path or URL, default namespace, content
limit, embedder, log level) are the engine's own :class:`priomem.Settings`, built with
``Settings.from_env(env, **flag_overrides)``; the server adds its own:

| flag | variable | default |
|---|---|---|
| ``--transport`` | ``PRIOMEM_MCP_TRANSPORT`` | ``stdio`` (or ``http``) |
| ``--host`` | ``PRIOMEM_MCP_HOST`` | ``127.0.0.1`` |
| ``--port`` | ``PRIOMEM_MCP_PORT`` | ``8765`` |
| ``--lock-namespace`` | ``PRIOMEM_MCP_LOCK_NAMESPACE`` | off: calls may name any namespace |
| ``--tokens-file`` | ``PRIOMEM_MCP_TOKENS_FILE`` | unset |
| (none: secrets stay out of ``ps``) | ``PRIOMEM_MCP_TOKENS`` | unset |
| ``--max-k`` | ``PRIOMEM_MCP_MAX_K`` | ``100`` |
| ``--max-request-bytes`` | ``PRIOMEM_MCP_MAX_REQUEST_BYTES`` | ``1048576`` (1 MiB) |
| ``--share`` / ``--no-share`` | ``PRIOMEM_MCP_SHARE`` | on (off on Windows) |
| ``--allowed-host`` | ``PRIOMEM_MCP_ALLOWED_HOSTS`` | loopback names only |
| ``--allowed-origin`` | ``PRIOMEM_MCP_ALLOWED_ORIGINS`` | loopback origins only |

Nothing here touches the file system or network except reading a tokens file.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from priomem import InvalidInputError, Settings, __version__
from priomem._settings import parse_bool
from priomem.serving import Grant, load_tokens, refuse_open_bind

__all__ = ["DEFAULT_PORT", "ServerConfig", "build_parser", "parse_config"]

DEFAULT_PORT = 8765
DEFAULT_MAX_K = 100
DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

Transport = Literal["stdio", "http"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


@dataclass(frozen=True)
class ServerConfig:
    """Everything ``priomem-mcp`` needs to run; see the module docstring for the sources.

    ``tokens`` maps each bearer token to its :class:`~priomem.mcp_server.Grant`; empty means
    no authentication, which is only allowed on a loopback host.
    """

    settings: Settings = dataclasses.field(default_factory=Settings)
    transport: Transport = "stdio"
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    lock_namespace: bool = False
    tokens: Mapping[str, Grant] = dataclasses.field(default_factory=dict)
    max_k: int = DEFAULT_MAX_K
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    share: bool = True
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    #: The memory browser at /ui/ of the HTTP transport: "off", "on" or "read-only".
    ui: str = "off"

    @property
    def log_level(self) -> LogLevel:
        """The engine's log level, checked (the SDK accepts only the standard names)."""
        level = self.settings.log_level.upper()
        return level if level in _LOG_LEVELS else "WARNING"  # type: ignore[return-value]

    @property
    def require_tokens(self) -> bool:
        """Tokens guard HTTP only: a stdio server belongs to the client that started it."""
        return self.transport == "http" and bool(self.tokens)

    @property
    def namespace(self) -> str:
        """The default namespace of calls that name none (without a token)."""
        return self.settings.default_namespace

    def check_bind(self) -> None:
        """Refuse to serve HTTP beyond loopback without tokens: anyone could read the memory."""
        if self.transport == "http":
            refuse_open_bind(
                self.host,
                self.tokens,
                what="",
                flags="--tokens-file FILE or PRIOMEM_MCP_TOKENS",
                see="Serving over HTTP",
            )


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser; every option defaults to None so "not given" is visible."""
    parser = argparse.ArgumentParser(
        prog="priomem-mcp",
        description="MCP server for priomem: remember, recall and forget for any MCP client.",
        epilog="Every option also reads a PRIOMEM_* environment variable; flags win. See the README's 'Use with MCP clients'.",
    )
    parser.add_argument("--version", action="version", version=f"priomem-mcp {__version__}")
    parser.add_argument("--transport", choices=["stdio", "http"], help="stdio (default) or http")
    parser.add_argument("--host", help="HTTP bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help=f"HTTP port (default {DEFAULT_PORT}); served at /mcp")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--path", help="embedded store folder (PRIOMEM_PATH; default: per-user data folder)")
    where.add_argument("--url", help="Chroma server instead, http://host:port (PRIOMEM_URL)")
    parser.add_argument("--namespace", "-n", help="default namespace (PRIOMEM_NAMESPACE; default 'default')")
    parser.add_argument(
        "--lock-namespace",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="refuse calls that name another namespace than the default",
    )
    parser.add_argument("--tokens-file", help="bearer tokens for HTTP, one 'TOKEN=ns1,ns2' per line")
    parser.add_argument("--max-k", type=int, help=f"largest k a recall may ask for (default {DEFAULT_MAX_K})")
    parser.add_argument("--max-content-chars", type=int, help="longest content or query (default 100000)")
    parser.add_argument(
        "--max-request-bytes",
        type=int,
        help=f"largest HTTP request body (default {DEFAULT_MAX_REQUEST_BYTES})",
    )
    parser.add_argument(
        "--share",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="share an embedded store between servers through a local Chroma server (default on)",
    )
    parser.add_argument(
        "--allowed-host", action="append", help="extra Host header value to accept (repeatable)"
    )
    parser.add_argument("--allowed-origin", action="append", help="extra Origin to accept (repeatable)")
    parser.add_argument(
        "--ui",
        choices=["off", "on", "read-only"],
        help="with --transport http, also serve the memory browser at /ui/ (PRIOMEM_MCP_UI; default off)",
    )
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING (default), ERROR; logs go to stderr")
    parser.add_argument(
        "--embedder",
        choices=["default", "hash"],
        help="'hash' is a fast, meaning-blind embedder for tests and demos only",
    )
    return parser


def parse_config(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> ServerConfig:
    """Parse flags and environment into a :class:`ServerConfig` (flags win).

    Raises :class:`priomem.InvalidInputError` naming the flag or variable at fault;
    ``argparse`` exits with status 2 on a malformed command line.
    """
    import os

    env = os.environ if env is None else env
    args = build_parser().parse_args(argv)

    def get(name: str) -> str | None:
        raw = env.get("PRIOMEM_MCP_" + name)
        return raw.strip() if raw is not None and raw.strip() else None

    overrides: dict[str, Any] = {
        "default_namespace": args.namespace,
        "max_content_chars": args.max_content_chars,
        "log_level": args.log_level.upper() if args.log_level else None,
        "embedder": args.embedder,
    }
    if args.path is not None:
        overrides["path"] = Path(args.path).expanduser()
    elif args.url is not None:
        overrides["url"] = args.url
    settings = Settings.from_env(env, **overrides)
    # A --path flag beats PRIOMEM_URL as well as PRIOMEM_PATH, and --url beats PRIOMEM_PATH.
    if args.path is not None:
        settings = settings.replace(url=None)
    elif args.url is not None:
        settings = settings.replace(path=None)

    transport = args.transport or (get("TRANSPORT") or "stdio").lower()
    if transport not in ("stdio", "http"):
        raise InvalidInputError(
            f"PRIOMEM_MCP_TRANSPORT: {transport!r} is not a transport; use stdio or http.",
            field="PRIOMEM_MCP_TRANSPORT",
        )
    tokens_file = args.tokens_file or get("TOKENS_FILE")
    tokens = load_tokens(
        file=Path(tokens_file).expanduser() if tokens_file else None,
        inline=get("TOKENS"),
    )
    return ServerConfig(
        settings=settings,
        transport=transport,  # type: ignore[arg-type]
        host=args.host or get("HOST") or "127.0.0.1",
        port=_pick_int(args.port, get("PORT"), "port", DEFAULT_PORT, minimum=0, maximum=65535),
        lock_namespace=_pick_bool(args.lock_namespace, get("LOCK_NAMESPACE"), "LOCK_NAMESPACE", False),
        tokens=tokens,
        max_k=_pick_int(args.max_k, get("MAX_K"), "max_k", DEFAULT_MAX_K),
        max_request_bytes=_pick_int(
            args.max_request_bytes, get("MAX_REQUEST_BYTES"), "max_request_bytes", DEFAULT_MAX_REQUEST_BYTES
        ),
        share=_pick_bool(args.share, get("SHARE"), "SHARE", sys.platform != "win32"),
        allowed_hosts=tuple(args.allowed_host or _split(get("ALLOWED_HOSTS"))),
        allowed_origins=tuple(args.allowed_origin or _split(get("ALLOWED_ORIGINS"))),
        ui=_pick_ui(args.ui, get("UI")),
    )


def _pick_ui(flag: str | None, raw: str | None) -> str:
    value = (flag or raw or "off").lower()
    if value not in ("off", "on", "read-only"):
        raise InvalidInputError(
            f"PRIOMEM_MCP_UI: {value!r}; use off, on or read-only.", field="PRIOMEM_MCP_UI"
        )
    return value


def _split(raw: str | None) -> list[str]:
    return [part.strip() for part in (raw or "").split(",") if part.strip()]


def _pick_int(
    flag: int | None,
    raw: str | None,
    name: str,
    default: int,
    *,
    minimum: int = 1,
    maximum: int | None = None,
) -> int:
    source = f"--{name.replace('_', '-')}"
    value = flag
    if value is None and raw is not None:
        source = "PRIOMEM_MCP_" + name.upper()
        try:
            value = int(raw)
        except ValueError:
            raise InvalidInputError(f"{source}: {raw!r} is not a whole number.", field=source) from None
    if value is None:
        return default
    if value < minimum or (maximum is not None and value > maximum):
        limit = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise InvalidInputError(f"{source}: must be {limit}, got {value}.", field=source)
    return value


def _pick_bool(flag: bool | None, raw: str | None, name: str, default: bool) -> bool:
    """The flag when given, else the variable ``PRIOMEM_MCP_<name>``, else ``default``."""
    if flag is not None:
        return flag
    return default if raw is None else parse_bool(raw, "PRIOMEM_MCP_" + name)
