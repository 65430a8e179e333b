"""Who may call: bearer tokens, the namespaces each may use, and the HTTP middleware that checks them.

Shared by both HTTP surfaces (``priomem-mcp --transport http`` and the memory browser).

Tokens come from a file (``--tokens-file``) or ``PRIOMEM_MCP_TOKENS``, one entry per
line (or ``;``-separated in the variable)::

    # token                              namespaces: the first is the token's default
    3f9c0e6a2b7d4e18a5c1f0b9d2e4a6c8 = alice, shared
    b71d5e0c9a3f4b2e8d6c1a7f0e5b3d92 = bob
    0c4e8a2f6b1d5e9a3c7f0b4d8e2a6c1f = ops, *

``*`` lets a token use any namespace. A token must be at least 16 characters.
Only SHA-256 digests of the tokens are kept in memory after loading.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from priomem import InvalidInputError

__all__ = [
    "SCOPE_KEY",
    "BearerAuth",
    "Grant",
    "bearer_grant",
    "digest",
    "grant_of_request",
    "load_tokens",
    "token_grant",
]

log = logging.getLogger("priomem.mcp")

#: Where :class:`BearerAuth` leaves the caller's :class:`Grant` in the ASGI scope.
SCOPE_KEY = "priomem.grant"
MIN_TOKEN_CHARS = 16


@dataclass(frozen=True)
class Grant:
    """What a caller may use: ``namespace`` is its default (None: the server's default),
    ``allowed`` the namespaces it may name (None: any)."""

    namespace: str | None = None
    allowed: frozenset[str] | None = None
    label: str = "anonymous"


def digest(secret: str) -> str:
    """SHA-256 of a token or session id: the only form in which they are kept."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def bearer_grant(header: str | None, grants: Mapping[str, Grant]) -> Grant | None:
    """The grant of an ``Authorization: Bearer <token>`` header, or None."""
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token_grant(token, grants)


def token_grant(token: str, grants: Mapping[str, Grant]) -> Grant | None:
    """The grant of a token (as sent, or typed into a login form), or None."""
    # A dict lookup by digest: the time taken does not reveal how much of a token matched.
    return grants.get(digest(token.strip())) if token.strip() else None


def load_tokens(*, file: Path | None = None, inline: str | None = None) -> dict[str, Grant]:
    """Parse tokens from a file and/or an inline string into ``{sha256(token): Grant}``.

    Raises :class:`priomem.InvalidInputError` naming the file and line of a bad entry.
    """
    entries: list[tuple[str, int, str]] = []
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInputError(
                f"--tokens-file: cannot read {file}: {exc.strerror or exc}; check the path.",
                field="tokens_file",
            ) from None
        entries += [(str(file), n, line) for n, line in enumerate(text.splitlines(), 1)]
    if inline is not None:
        parts = inline.replace(";", "\n").splitlines()
        entries += [("PRIOMEM_MCP_TOKENS", n, part) for n, part in enumerate(parts, 1)]
    grants: dict[str, Grant] = {}
    for source, number, raw in entries:
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        token, sep, spec = line.partition("=")
        token = token.strip()
        where = f"{source} entry {number}"
        if not sep or not spec.strip():
            raise InvalidInputError(
                f"{where}: expected 'TOKEN = namespace[, namespace...]'; give each token its namespaces.",
                field="tokens",
            )
        if len(token) < MIN_TOKEN_CHARS or any(ch.isspace() for ch in token):
            raise InvalidInputError(
                f"{where}: a token must be at least {MIN_TOKEN_CHARS} characters without spaces; "
                'generate one with: python -c "import secrets; print(secrets.token_hex(16))"',
                field="tokens",
            )
        names = [n.strip() for n in spec.split(",") if n.strip()]
        own = [n for n in names if n != "*"]
        if any(ch.isspace() for n in own for ch in n):
            raise InvalidInputError(f"{where}: namespaces are separated by commas.", field="tokens")
        key = digest(token)
        if key in grants:
            raise InvalidInputError(f"{where}: this token is listed twice; keep one entry.", field="tokens")
        grants[key] = Grant(
            namespace=own[0] if own else None,
            allowed=None if "*" in names else frozenset(own),
            label=f"token #{len(grants) + 1} ({own[0] if own else '*'})",
        )
    return grants


def grant_of_request(request: Any) -> Grant | None:
    """The :class:`Grant` that :class:`BearerAuth` attached to an HTTP request, if any."""
    scope = getattr(request, "scope", None)
    if not isinstance(scope, Mapping):
        return None
    grant = scope.get(SCOPE_KEY)
    return grant if isinstance(grant, Grant) else None


class BearerAuth:
    """ASGI middleware: every request to ``path`` needs ``Authorization: Bearer <token>``.

    A known token's :class:`Grant` is put in the scope for the tools to read; anything
    else is answered 401 before it reaches the MCP transport.
    """

    def __init__(self, app: Any, grants: Mapping[str, Grant], *, path: str = "/mcp") -> None:
        self.app = app
        self.grants = dict(grants)
        self.path = path

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        # Only the MCP endpoint is guarded: other paths are plain 404s, so a client probing
        # for OAuth metadata (/.well-known/...) learns there is none and uses its token.
        if scope.get("type") != "http" or not str(scope.get("path", "")).startswith(self.path):
            await self.app(scope, receive, send)
            return
        header = ""
        for name, value in scope.get("headers", ()):
            if name.lower() == b"authorization":
                header = value.decode("latin-1")
                break
        grant = bearer_grant(header, self.grants)
        if grant is None:
            log.info("refused an HTTP request without a valid bearer token")
            await _unauthorized(send, "missing token" if not header else "unknown token")
            return
        scope[SCOPE_KEY] = grant
        await self.app(scope, receive, send)


async def _unauthorized(send: Any, reason: str) -> None:
    body = json.dumps(
        {
            "error": "invalid_token",
            "error_description": f"{reason}: send 'Authorization: Bearer <token>' with a token "
            "from the server's tokens file.",
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b'Bearer error="invalid_token"'),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
