"""The browser's security model: who is asking, from where, and whether a form is genuine.

The same guards as the MCP HTTP server, adapted to a browser:

- **Host check** (against DNS rebinding): the ``Host`` header must be a loopback name,
  the bind address, or an allowed extra; anything else is answered 421.
- **Bearer tokens with namespace binding** (when tokens are configured, required off
  loopback): ``Authorization: Bearer <token>`` on each request, or a login form that
  trades the token for a random session id in an ``HttpOnly``, ``SameSite=Strict``
  cookie (the token itself is never stored in the browser). The token's
  :class:`~priomem.serving.Grant` limits which namespaces the pages show and act on.
- **CSRF**: every action is a POST carrying a hidden ``csrf`` field equal to the
  ``SameSite=Strict`` CSRF cookie (compared in constant time); a cross-site ``Origin`` or
  ``Sec-Fetch-Site`` refuses the request before the form is read.
- **Headers**: a strict Content-Security-Policy (no inline script, no third-party
  anything), no framing, no sniffing, no caching of pages, and no referrer beyond this
  origin (``same-origin``, not ``no-referrer``: under ``no-referrer`` Chromium sends
  ``Origin: null`` with form posts, which the origin check must refuse).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from priomem.serving import LOOPBACK_NAMES, Grant, digest, host_name

__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "SESSION_COOKIE",
    "GuardMiddleware",
    "Sessions",
    "csrf_ok",
    "new_csrf_token",
    "origin_ok",
    "safe_next",
]

SESSION_COOKIE = "priomem_ui_session"
CSRF_COOKIE = "priomem_ui_csrf"
CSRF_FIELD = "csrf"

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


def new_csrf_token() -> str:
    """A fresh random CSRF token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def csrf_ok(cookie: str | None, field: str | None) -> bool:
    """True when the form's token equals the cookie's (both present), compared in constant time."""
    if not cookie or not field:
        return False
    return hmac.compare_digest(cookie.encode("utf-8"), field.encode("utf-8"))


def origin_ok(headers: Mapping[str, str]) -> bool:
    """False for a request a browser marks as coming from another site or origin."""
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return False
    origin = headers.get("origin")
    if origin is None:
        return True
    if origin == "null":
        return False
    host = headers.get("host", "")
    return urlsplit(origin).netloc.lower() == host.lower()


def safe_next(value: str | None) -> str:
    """A post-login target inside this app: a relative path, never another site."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if any(ord(ch) < 0x20 for ch in value):
        return "/"
    return value


@dataclass(frozen=True)
class _Session:
    grant: Grant
    expires: float


class Sessions:
    """Logged-in browsers: random session ids mapped to grants, in memory, with an expiry.

    A restart logs everyone out, which is the point: nothing secret is written to disk.
    """

    def __init__(self, *, max_age: float = 12 * 3600, capacity: int = 1000) -> None:
        self.max_age = max_age
        self._capacity = capacity
        self._items: OrderedDict[str, _Session] = OrderedDict()
        self._lock = threading.Lock()

    def create(self, grant: Grant) -> str:
        """Start a session for ``grant`` and return its id."""
        session_id = secrets.token_urlsafe(32)
        with self._lock:
            self._items[digest(session_id)] = _Session(grant, time.monotonic() + self.max_age)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)
        return session_id

    def grant(self, session_id: str | None) -> Grant | None:
        """The grant of a live session, or None (unknown or expired)."""
        if not session_id:
            return None
        key = digest(session_id)
        with self._lock:
            session = self._items.get(key)
            if session is None:
                return None
            if session.expires <= time.monotonic():
                del self._items[key]
                return None
            return session.grant

    def end(self, session_id: str | None) -> None:
        """Forget a session (logout)."""
        if session_id:
            with self._lock:
                self._items.pop(digest(session_id), None)


class GuardMiddleware:
    """ASGI middleware: refuses foreign ``Host`` headers and adds the security headers.

    ``allowed_hosts`` are host names (without port) accepted besides the loopback names.
    """

    def __init__(self, app: Any, allowed_hosts: Iterable[str] = ()) -> None:
        self.app = app
        names = {*LOOPBACK_NAMES, "::1", *(h.strip().lower() for h in allowed_hosts if h.strip())}
        self.allowed = frozenset(names)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        host = ""
        for name, value in scope.get("headers", ()):
            if name == b"host":
                host = value.decode("latin-1")
                break
        if host_name(host) not in self.allowed:
            await _plain(send, 421, "unknown Host header: open the UI by the address it printed")
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in _HEADERS if k not in present]
                if b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _plain(send: Any, status: int, text: str) -> None:
    body = text.encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
