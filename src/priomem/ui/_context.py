"""The app's state and the plumbing every route shares: who is asking, forms, cookies, page frames.

:class:`UI` holds the engine (or the holder opening it), the grants, the sessions and the
caches. :meth:`UI.begin` authenticates a page request; :meth:`UI.begin_action` also checks
that an action is genuine (same origin, CSRF token) and allowed (not read-only).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from priomem import MemoryEngine, NamespaceNotAllowedError, PriomemError, RecallHit
from priomem._validation import validate_namespace
from priomem.serving import Grant, bearer_grant
from priomem.ui._caches import SearchCache, StatsCache
from priomem.ui._html import Markup
from priomem.ui._layout import Chrome
from priomem.ui._query import Filters
from priomem.ui._security import (
    CSRF_COOKIE,
    CSRF_FIELD,
    SESSION_COOKIE,
    Sessions,
    csrf_ok,
    new_csrf_token,
    origin_ok,
)

if TYPE_CHECKING:
    from priomem.serving import EngineHolder

__all__ = ["MAX_FORM_BYTES", "STATIC", "UI", "LoginRedirect", "Refusal", "Req", "read_form", "route_path"]

MAX_FORM_BYTES = 16 * 1024
STATIC = {
    "ui.css": "text/css; charset=utf-8",
    "ui.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
_LOCAL = Grant(label="local")


class Refusal(Exception):
    """A request answered with an error page (status, title, message)."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message


@dataclass(frozen=True)
class Req:
    """An authenticated request: who asks, and the page frame for them."""

    request: Request
    grant: Grant
    chrome: Chrome
    new_csrf: bool


class LoginRedirect(Exception):
    """A page that needs a sign-in first: answered with a redirect to the login form."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def static_bytes(name: str) -> bytes:
    """A file of the package's ``static`` folder."""
    return (resources.files("priomem.ui") / "static" / name).read_bytes()


def route_path(request: Request) -> str:
    """The request's path inside the app (without the prefix it is mounted at)."""
    path = str(request.scope.get("path", "/"))
    root = str(request.scope.get("root_path", ""))
    if root and path.startswith(root):
        path = path[len(root) :]
    return path or "/"


async def read_form(request: Request) -> dict[str, str]:
    """The fields of a small url-encoded form (no multipart, no files)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not kind and request.headers.get("content-length", "0") == "0":
        return {}  # an empty POST: no fields, so no CSRF token either
    if kind != "application/x-www-form-urlencoded":
        raise Refusal(
            415, "Unsupported form", "Send the page's own form (application/x-www-form-urlencoded)."
        )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        raise Refusal(413, "Form too large", f"Forms are limited to {MAX_FORM_BYTES} bytes.")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise Refusal(413, "Form too large", f"Forms are limited to {MAX_FORM_BYTES} bytes.")
    try:
        parsed = parse_qs(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=20, strict_parsing=False
        )
    except (UnicodeDecodeError, ValueError):
        raise Refusal(400, "Bad form", "The form could not be read; reload the page and try again.") from None
    return {key: values[0] for key, values in parsed.items()}


class UI:
    """The app's state (engine, grants, sessions, caches) and the plumbing every route shares."""

    def __init__(
        self,
        source: MemoryEngine | EngineHolder,
        *,
        read_only: bool,
        grants: Mapping[str, Grant],
        session_max_age: float,
    ) -> None:
        self.source = source
        self.read_only = read_only
        self.grants = dict(grants)
        self.sessions = Sessions(max_age=session_max_age)
        self.searches = SearchCache()
        self.stats = StatsCache()
        self.static = {name: static_bytes(name) for name in STATIC}
        digest = hashlib.sha256(b"".join(self.static[n] for n in sorted(self.static)))
        self.asset_version = digest.hexdigest()[:12]
        self._location: str | None = None

    # -- plumbing ----------------------------------------------------------------------
    def engine(self) -> MemoryEngine:
        """The engine (waiting for a holder to open it); call on a worker thread."""
        engine = self.source if isinstance(self.source, MemoryEngine) else self.source.get()
        if self._location is None:
            self._location = engine.location
        return engine

    def chrome(self, request: Request, grant: Grant | None, csrf: str) -> Chrome:
        """The page frame for a request: base path, CSRF token, read-only, who is signed in."""
        return Chrome(
            base=str(request.scope.get("root_path", "")).rstrip("/"),
            csrf=csrf,
            read_only=self.read_only,
            who=grant.label if self.grants and grant is not None else None,
            can_logout=bool(self.grants) and bool(request.cookies.get(SESSION_COOKIE)),
            location=self._location or "",
            asset_version=self.asset_version,
        )

    def _grant(self, request: Request) -> Grant | None:
        if not self.grants:
            return _LOCAL
        header = request.headers.get("authorization")
        if header:
            grant = bearer_grant(header, self.grants)
            if grant is None:
                raise Refusal(401, "Unknown token", "The bearer token is not known to this server.")
            return grant
        return self.sessions.grant(request.cookies.get(SESSION_COOKIE))

    def begin(self, request: Request) -> Req:
        """Authenticate a request (raising a refusal or a redirect to the login page)."""
        grant = self._grant(request)
        csrf = request.cookies.get(CSRF_COOKIE) or ""
        new_csrf = not csrf
        if new_csrf:
            csrf = new_csrf_token()
        if grant is None:
            if request.method in ("GET", "HEAD"):
                raise LoginRedirect(
                    route_path(request) + (f"?{request.url.query}" if request.url.query else "")
                )
            raise Refusal(401, "Sign in first", "Your session has ended; sign in again.")
        return Req(request, grant, self.chrome(request, grant, csrf), new_csrf)

    async def begin_action(self, request: Request) -> tuple[Req, dict[str, str]]:
        """Authenticate a POST action and check it is genuine: same origin, CSRF token, not read-only."""
        req = self.begin(request)
        if self.read_only:
            raise Refusal(403, "Read-only", "This memory browser is read-only; actions are turned off.")
        if not origin_ok(request.headers):
            raise Refusal(403, "Cross-site request refused", "Actions must come from this app's own pages.")
        form = await read_form(request)
        if not csrf_ok(request.cookies.get(CSRF_COOKIE), form.get(CSRF_FIELD)):
            raise Refusal(
                403, "Form expired", "The form's security token did not match; reload the page and try again."
            )
        return req, form

    def respond(self, req: Req, html: Markup, status: int = 200) -> Response:
        """An HTML response, setting the CSRF cookie if the request had none."""
        return self.finish(req, HTMLResponse(html, status_code=status))

    def finish(self, req: Req, response: Response) -> Response:
        """Set the CSRF cookie on any response if the request had none."""
        if req.new_csrf:
            self.set_cookie(req.request, response, CSRF_COOKIE, req.chrome.csrf)
        return response

    def set_cookie(self, request: Request, response: Response, name: str, value: str, **kw: Any) -> None:
        """Set an HttpOnly, SameSite=Strict cookie scoped to the app's path."""
        response.set_cookie(
            name,
            value,
            path=str(request.scope.get("root_path", "")).rstrip("/") or "/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            **kw,
        )

    def allowed(self, grant: Grant, namespace: str) -> str:
        """The namespace, validated and within the grant (else a refusal)."""
        try:
            ns = validate_namespace(namespace)
        except PriomemError:
            raise Refusal(404, "No such namespace", f"{namespace!r} is not a valid namespace name.") from None
        if grant.allowed is not None and ns not in grant.allowed:
            raise NamespaceNotAllowedError(f"your token may not use namespace {ns!r}.", field="namespace")
        return ns

    def visible_namespaces(self, engine: MemoryEngine, grant: Grant) -> list[str]:
        """The namespaces a grant may see, sorted (its own, or every one for ``*``)."""
        names = set(engine.namespaces()) if grant.allowed is None else set(grant.allowed)
        valid = []
        for name in sorted(names):
            try:
                valid.append(validate_namespace(name))
            except PriomemError:
                continue
        return valid

    def search(self, engine: MemoryEngine, ns: str, filters: Filters, *, reuse: bool) -> list[RecallHit]:
        """Search through ``recall`` (or reuse a recent identical search's hits)."""
        key = filters.search_key(ns)
        if reuse and (cached := self.searches.get(key)) is not None:
            return cached
        hits = engine.recall(filters.q, namespace=ns, record_access=False, **filters.recall_kwargs())
        ceiling = filters.max_priority
        if ceiling is not None:
            hits = [h for h in hits if h.memory.priority <= ceiling]
        self.searches.put(key, hits)
        return hits
