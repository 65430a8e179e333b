"""The Starlette app: routes, the engine calls behind them (on worker threads), and their guards.

Routes (relative to where the app is mounted)::

    GET  /                              namespaces: counts by priority, quota use
    GET  /ns/{ns}                       memories, newest first, or search results (?q=)
    GET  /ns/{ns}/m/{id}                one memory; with the list's ?q=, its search score
    GET  /ns/{ns}/m/{id}/forget         the confirmation step          (action)
    POST /ns/{ns}/m/{id}/forget         forget it                       (action)
    POST /ns/{ns}/m/{id}/priority       change its priority             (action)
    POST /ns/{ns}/export                download the namespace as JSON Lines (action)
    GET  /audit                         the audit log
    GET  /login, POST /login, POST /logout   tokens in, session cookie out
    GET  /static/{name}                 the stylesheet, the script, the icon

Every engine call runs on a worker thread, never on the event loop. Actions are refused
with 403 in read-only mode.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from priomem import (
    InvalidInputError,
    MemoryEngine,
    NamespaceNotAllowedError,
    NotFoundError,
    PriomemError,
    Priority,
    RecallHit,
    StoreError,
    WrongTypeError,
)
from priomem._timeparse import utcnow
from priomem._validation import validate_namespace
from priomem.mcp_server._auth import Grant
from priomem.ui import _pages
from priomem.ui._html import Markup
from priomem.ui._layout import Chrome, error_page, login_page
from priomem.ui._query import PAGE_SIZE, Filters
from priomem.ui._security import (
    CSRF_COOKIE,
    CSRF_FIELD,
    SESSION_COOKIE,
    GuardMiddleware,
    Sessions,
    bearer_grant,
    csrf_ok,
    new_csrf_token,
    origin_ok,
    safe_next,
    token_grant,
)

if TYPE_CHECKING:
    from priomem.mcp_server._holder import EngineHolder

__all__ = ["build_ui_app"]

log = logging.getLogger("priomem.ui")

MAX_FORM_BYTES = 16 * 1024
_ID = re.compile(r"^[A-Za-z0-9_.\-:]{1,128}$")
_STATIC = {
    "ui.css": "text/css; charset=utf-8",
    "ui.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
_LOCAL = Grant(label="local")


class _Refusal(Exception):
    """A request answered with an error page (status, title, message)."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message


@dataclass(frozen=True)
class _Req:
    """An authenticated request: who asks, and the page frame for them."""

    request: Request
    grant: Grant
    chrome: Chrome
    new_csrf: bool


class _SearchCache:
    """Recent search results, so a memory opened from a search shows the score the list showed
    without asking ``recall`` again (which would count another access)."""

    def __init__(self, *, ttl: float = 900.0, capacity: int = 64) -> None:
        self._ttl = ttl
        self._capacity = capacity
        self._items: OrderedDict[tuple[Any, ...], tuple[float, list[RecallHit]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> list[RecallHit] | None:
        with self._lock:
            entry = self._items.get(key)
            if entry is None or entry[0] < time.monotonic():
                return None
            return entry[1]

    def put(self, key: tuple[Any, ...], hits: list[RecallHit]) -> None:
        with self._lock:
            self._items[key] = (time.monotonic() + self._ttl, hits)
            self._items.move_to_end(key)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)

    def drop_namespace(self, namespace: str) -> None:
        with self._lock:
            for key in [k for k in self._items if k[0] == namespace]:
                del self._items[key]


class _StatsCache:
    """``engine.stats`` per namespace, kept for ten times as long as it took to compute (at
    most a minute): free on a small store, and on a large one (seconds per call) paging
    through a list does not recount the namespace on every page. UI actions drop it."""

    def __init__(self, *, factor: float = 10.0, longest: float = 60.0) -> None:
        self._factor = factor
        self._longest = longest
        self._items: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def get(self, engine: MemoryEngine, namespace: str) -> dict[str, Any]:
        with self._lock:
            entry = self._items.get(namespace)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        started = time.monotonic()
        stats = engine.stats(namespace)
        took = time.monotonic() - started
        with self._lock:
            self._items[namespace] = (time.monotonic() + min(self._longest, took * self._factor), stats)
            if len(self._items) > 1000:
                self._items.clear()
        return stats

    def drop(self, namespace: str) -> None:
        with self._lock:
            self._items.pop(namespace, None)


def _static_bytes(name: str) -> bytes:
    return (resources.files("priomem.ui") / "static" / name).read_bytes()


def _route_path(request: Request) -> str:
    path = str(request.scope.get("path", "/"))
    root = str(request.scope.get("root_path", ""))
    if root and path.startswith(root):
        path = path[len(root) :]
    return path or "/"


async def _read_form(request: Request) -> dict[str, str]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not kind and request.headers.get("content-length", "0") == "0":
        return {}  # an empty POST: no fields, so no CSRF token either
    if kind != "application/x-www-form-urlencoded":
        raise _Refusal(
            415, "Unsupported form", "Send the page's own form (application/x-www-form-urlencoded)."
        )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        raise _Refusal(413, "Form too large", f"Forms are limited to {MAX_FORM_BYTES} bytes.")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise _Refusal(413, "Form too large", f"Forms are limited to {MAX_FORM_BYTES} bytes.")
    try:
        parsed = parse_qs(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=20, strict_parsing=False
        )
    except (UnicodeDecodeError, ValueError):
        raise _Refusal(
            400, "Bad form", "The form could not be read; reload the page and try again."
        ) from None
    return {key: values[0] for key, values in parsed.items()}


class _UI:
    """The app's state and handlers; see :func:`build_ui_app`."""

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
        self.searches = _SearchCache()
        self.stats = _StatsCache()
        self.static = {name: _static_bytes(name) for name in _STATIC}
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
                raise _Refusal(401, "Unknown token", "The bearer token is not known to this server.")
            return grant
        return self.sessions.grant(request.cookies.get(SESSION_COOKIE))

    def begin(self, request: Request) -> _Req:
        """Authenticate a request (raising a refusal or a redirect to the login page)."""
        grant = self._grant(request)
        csrf = request.cookies.get(CSRF_COOKIE) or ""
        new_csrf = not csrf
        if new_csrf:
            csrf = new_csrf_token()
        if grant is None:
            if request.method in ("GET", "HEAD"):
                raise _LoginRedirect(
                    _route_path(request) + (f"?{request.url.query}" if request.url.query else "")
                )
            raise _Refusal(401, "Sign in first", "Your session has ended; sign in again.")
        return _Req(request, grant, self.chrome(request, grant, csrf), new_csrf)

    async def begin_action(self, request: Request) -> tuple[_Req, dict[str, str]]:
        """Authenticate a POST action and check it is genuine: same origin, CSRF token, not read-only."""
        req = self.begin(request)
        if self.read_only:
            raise _Refusal(403, "Read-only", "This memory browser is read-only; actions are turned off.")
        if not origin_ok(request.headers):
            raise _Refusal(403, "Cross-site request refused", "Actions must come from this app's own pages.")
        form = await _read_form(request)
        if not csrf_ok(request.cookies.get(CSRF_COOKIE), form.get(CSRF_FIELD)):
            raise _Refusal(
                403, "Form expired", "The form's security token did not match; reload the page and try again."
            )
        return req, form

    def respond(self, req: _Req, html: Markup, status: int = 200) -> Response:
        return self.finish(req, HTMLResponse(html, status_code=status))

    def finish(self, req: _Req, response: Response) -> Response:
        if req.new_csrf:
            self.set_cookie(req.request, response, CSRF_COOKIE, req.chrome.csrf)
        return response

    def set_cookie(self, request: Request, response: Response, name: str, value: str, **kw: Any) -> None:
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
            raise _Refusal(
                404, "No such namespace", f"{namespace!r} is not a valid namespace name."
            ) from None
        if grant.allowed is not None and ns not in grant.allowed:
            raise NamespaceNotAllowedError(f"your token may not use namespace {ns!r}.", field="namespace")
        return ns

    def visible_namespaces(self, engine: MemoryEngine, grant: Grant) -> list[str]:
        names = set(engine.namespaces()) if grant.allowed is None else set(grant.allowed)
        valid = []
        for name in sorted(names):
            try:
                valid.append(validate_namespace(name))
            except PriomemError:
                continue
        return valid

    def search(self, engine: MemoryEngine, ns: str, filters: Filters, *, reuse: bool) -> list[RecallHit]:
        key = filters.search_key(ns)
        if reuse and (cached := self.searches.get(key)) is not None:
            return cached
        hits = engine.recall(filters.q, namespace=ns, **filters.recall_kwargs())
        ceiling = filters.max_priority
        if ceiling is not None:
            hits = [h for h in hits if h.memory.priority <= ceiling]
        self.searches.put(key, hits)
        return hits

    # -- pages -------------------------------------------------------------------------
    def overview(self, req: _Req) -> Response:
        engine = self.engine()
        rows = [self.stats.get(engine, ns) for ns in self.visible_namespaces(engine, req.grant)]
        chrome = self.chrome(req.request, req.grant, req.chrome.csrf)
        return self.respond(req, _pages.overview_page(chrome, rows))

    def memory_list(self, req: _Req, namespace: str) -> Response:
        engine = self.engine()
        ns = self.allowed(req.grant, namespace)
        params = req.request.query_params
        error: str | None = None
        memories: list[Any] = []
        hits: list[RecallHit] = []
        has_more = False
        try:
            filters = Filters.parse(params, max_k=engine.settings.max_k)
        except InvalidInputError as exc:
            filters, error = Filters(), str(exc)
        if error is None:
            try:
                if filters.searching:
                    hits = self.search(engine, ns, filters, reuse=False)
                    has_more = len(hits) >= filters.k and filters.k * 2 <= min(engine.settings.max_k, 200)
                else:
                    found = engine.list(
                        namespace=ns,
                        limit=PAGE_SIZE + 1,
                        offset=(filters.page - 1) * PAGE_SIZE,
                        **filters.list_kwargs(),
                    )
                    has_more = len(found) > PAGE_SIZE
                    memories = found[:PAGE_SIZE]
            except (InvalidInputError, WrongTypeError) as exc:
                error = str(exc)
        view = _pages.ListView(
            namespace=ns,
            stats=self.stats.get(engine, ns),
            filters=filters,
            memories=memories,
            hits=hits,
            has_more=has_more,
            error=error,
            now=utcnow(),
        )
        flash = None
        if params.get("done") == "forgot":
            gone = params.get("id", "")
            flash = f"Forgot memory {gone}." if _ID.match(gone) else "Forgot the memory."
        chrome = self.chrome(req.request, req.grant, req.chrome.csrf)
        page = _pages.memory_list_page(chrome, view, flash=flash)
        return self.respond(req, page, 400 if error else 200)

    def _memory(self, engine: MemoryEngine, ns: str, memory_id: str) -> Any:
        try:
            memory = engine.get(memory_id, namespace=ns)
        except (InvalidInputError, WrongTypeError):
            memory = None
        if memory is None:
            raise _Refusal(
                404,
                "Memory not found",
                f"No live memory {memory_id!r} in namespace {ns!r}: it may have been forgotten, "
                "consolidated into another, or expired.",
            )
        return memory

    def memory(self, req: _Req, namespace: str, memory_id: str) -> Response:
        engine = self.engine()
        ns = self.allowed(req.grant, namespace)
        memory = self._memory(engine, ns, memory_id)
        try:
            filters = Filters.parse(req.request.query_params, max_k=engine.settings.max_k)
        except InvalidInputError:
            filters = Filters()
        score = None
        if filters.searching:
            try:
                hits = self.search(engine, ns, filters, reuse=True)
            except (InvalidInputError, WrongTypeError):
                hits = []
            rank = next((i for i, h in enumerate(hits, 1) if h.memory.id == memory.id), 0)
            score = _pages.ScoreView(
                query=filters.q,
                hit=hits[rank - 1] if rank else None,
                rank=rank,
                total=len(hits),
                weights=engine.settings.weights,
                hybrid=engine.settings.hybrid,
            )
        alive: dict[str, bool] = {}
        for linked in [*memory.refs, *memory.consolidated_from][:200]:
            try:
                alive[linked] = engine.get(linked, namespace=ns) is not None
            except PriomemError:
                alive[linked] = False
        flash = "Priority changed." if req.request.query_params.get("done") == "priority" else None
        chrome = self.chrome(req.request, req.grant, req.chrome.csrf)
        page = _pages.memory_page(
            chrome, memory, filters=filters, alive=alive, score=score, now=utcnow(), flash=flash
        )
        return self.respond(req, page)

    def confirm_forget(self, req: _Req, namespace: str, memory_id: str) -> Response:
        if self.read_only:
            raise _Refusal(403, "Read-only", "This memory browser is read-only; actions are turned off.")
        engine = self.engine()
        ns = self.allowed(req.grant, namespace)
        memory = self._memory(engine, ns, memory_id)
        chrome = self.chrome(req.request, req.grant, req.chrome.csrf)
        return self.respond(req, _pages.confirm_forget_page(chrome, memory))

    def forget(self, req: _Req, form: Mapping[str, str], namespace: str, memory_id: str) -> Response:
        engine = self.engine()
        ns = self.allowed(req.grant, namespace)
        if form.get("confirm") != "yes":
            raise _Refusal(400, "Not confirmed", "Confirm on the memory's forget page.")
        try:
            report = engine.forget_report([memory_id], namespace=ns)
        except (InvalidInputError, WrongTypeError):
            report = None
        if report is None or report.count == 0:
            raise _Refusal(404, "Memory not found", f"No memory {memory_id!r} in namespace {ns!r} to forget.")
        self.searches.drop_namespace(ns)
        self.stats.drop(ns)
        log.info("ui: %s forgot %s in %r", req.grant.label, memory_id, ns)
        target = req.chrome.link("ns", ns, query={"done": "forgot", "id": memory_id})
        return self.finish(req, RedirectResponse(target, status_code=303))

    def set_priority(self, req: _Req, form: Mapping[str, str], namespace: str, memory_id: str) -> Response:
        engine = self.engine()
        ns = self.allowed(req.grant, namespace)
        priority = Priority.parse(form.get("priority", ""))
        try:
            engine.set_priority(memory_id, priority, namespace=ns)
        except (InvalidInputError, WrongTypeError) as exc:
            if getattr(exc, "field", None) == "priority":
                raise
            raise NotFoundError(f"no memory {memory_id!r} in namespace {ns!r}.", field="id") from None
        self.searches.drop_namespace(ns)
        self.stats.drop(ns)
        log.info("ui: %s set %s in %r to %s", req.grant.label, memory_id, ns, priority.name)
        target = req.chrome.link("ns", ns, "m", memory_id, query={"done": "priority"})
        return self.finish(req, RedirectResponse(target, status_code=303))

    def export(self, req: _Req, namespace: str) -> Response:
        engine = self.engine()
        ns = self.allowed(req.grant, namespace)
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - removed after it is sent
            "w", encoding="utf-8", suffix=".jsonl", prefix="priomem-ui-", delete=False
        )
        try:
            with handle:
                engine.export(handle, namespace=ns)
        except BaseException:
            os.unlink(handle.name)
            raise
        name = f"priomem-{ns.replace(':', '_').replace('@', '_')}-{utcnow():%Y%m%d-%H%M%S}.jsonl"
        response = FileResponse(
            handle.name,
            media_type="application/x-ndjson",
            filename=name,
            background=BackgroundTask(os.unlink, handle.name),
        )
        return self.finish(req, response)

    def audit(self, req: _Req) -> Response:
        engine = self.engine()
        params = req.request.query_params
        namespace = params.get("namespace", "").strip()
        action = params.get("action", "").strip()
        if action and action not in _pages.AUDIT_ACTIONS:
            raise _Refusal(400, "Unknown action", f"Choose one of {', '.join(_pages.AUDIT_ACTIONS)}.")
        raw_limit = params.get("limit", "100")
        limit = min(max(int(raw_limit), 1), 1000) if raw_limit.isdigit() else 100
        visible = self.visible_namespaces(engine, req.grant)
        if namespace:
            scopes: Sequence[str | None] = [self.allowed(req.grant, namespace)]
        elif req.grant.allowed is None:
            scopes = [None]
        else:
            scopes = visible
        records = []
        for scope in scopes:
            records += engine.audit_log(namespace=scope, action=action or None, limit=limit)
        records.sort(key=lambda r: r.id, reverse=True)
        chrome = self.chrome(req.request, req.grant, req.chrome.csrf)
        page = _pages.audit_page(
            chrome, records[:limit], namespaces=visible, namespace=namespace, action=action, limit=limit
        )
        return self.respond(req, page)


class _LoginRedirect(Exception):
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


_STATUS = (
    (NotFoundError, 404, "Not found"),
    (NamespaceNotAllowedError, 403, "Namespace not allowed"),
    (InvalidInputError, 400, "Invalid request"),
    (WrongTypeError, 400, "Invalid request"),
    (StoreError, 503, "Store unavailable"),
)

Handler = Callable[[Request], Awaitable[Response]]


def _guarded(ui: _UI, handler: Handler) -> Handler:
    """Turn refusals and engine errors into error pages; never leak a traceback to the page."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except _LoginRedirect as redirect:
            target = ui.chrome(request, None, "").link("login", query={"next": redirect.next_path})
            return RedirectResponse(target, status_code=303)
        except _Refusal as refusal:
            status, title, message = refusal.status, refusal.title, refusal.message
        except PriomemError as exc:
            status, title = 500, "Error"
            for kind, code, label in _STATUS:
                if isinstance(exc, kind):
                    status, title = code, label
                    break
            message = str(exc)
        except Exception:
            log.exception("ui: unexpected error on %s %s", request.method, request.url.path)
            status, title, message = (
                500,
                "Unexpected error",
                "Something went wrong; the server log has details.",
            )
        csrf = request.cookies.get(CSRF_COOKIE) or ""
        chrome = ui.chrome(request, None, csrf)
        response = HTMLResponse(error_page(chrome, status, title, message), status_code=status)
        if status == 401:
            response.headers["www-authenticate"] = 'Bearer realm="priomem"'
        return response

    return endpoint


def build_ui_app(
    engine: MemoryEngine | EngineHolder,
    *,
    read_only: bool = False,
    grants: Mapping[str, Grant] | None = None,
    allowed_hosts: Sequence[str] = (),
    session_max_age: float = 12 * 3600,
) -> Starlette:
    """The memory browser as a Starlette app, to serve with uvicorn or mount (``Mount("/ui", app)``).

    ``engine``: a :class:`priomem.MemoryEngine`, or an
    :class:`~priomem.mcp_server.EngineHolder` still opening one. ``read_only``: hide and
    refuse (403) every action. ``grants``: bearer tokens as
    :func:`priomem.mcp_server.load_tokens` returns them; when given, every page needs a
    token (header or login form) and shows only the token's namespaces. ``allowed_hosts``:
    ``Host`` names accepted besides loopback ones (the name a proxy or LAN address uses).

        >>> app = build_ui_app(engine, read_only=True)        # doctest: +SKIP
        >>> uvicorn.run(app, host="127.0.0.1", port=8766)      # doctest: +SKIP
    """
    ui = _UI(engine, read_only=read_only, grants=grants or {}, session_max_age=session_max_age)

    def page(method: Callable[..., Response], *names: str) -> Handler:
        async def handler(request: Request) -> Response:
            req = ui.begin(request)
            args = [request.path_params[n] for n in names]
            return await run_in_threadpool(method, req, *args)

        return _guarded(ui, handler)

    def action(method: Callable[..., Response], *names: str, with_form: bool = True) -> Handler:
        async def handler(request: Request) -> Response:
            req, form = await ui.begin_action(request)
            args = [request.path_params[n] for n in names]
            if with_form:
                return await run_in_threadpool(method, req, form, *args)
            return await run_in_threadpool(method, req, *args)

        return _guarded(ui, handler)

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _STATIC:
            raise HTTPException(404)
        return Response(
            ui.static[name],
            media_type=_STATIC[name],
            headers={"cache-control": "public, max-age=86400"},
        )

    async def login_form(request: Request) -> Response:
        chrome = ui.chrome(request, None, request.cookies.get(CSRF_COOKIE) or new_csrf_token())
        if not ui.grants:
            return RedirectResponse(chrome.link(""), status_code=303)
        next_path = safe_next(request.query_params.get("next"))
        response = HTMLResponse(login_page(chrome, next_path=next_path, failed=False))
        if not request.cookies.get(CSRF_COOKIE):
            ui.set_cookie(request, response, CSRF_COOKIE, chrome.csrf)
        return response

    async def login(request: Request) -> Response:
        if not origin_ok(request.headers):
            raise _Refusal(403, "Cross-site request refused", "Sign in from this app's own page.")
        form = await _read_form(request)
        if not csrf_ok(request.cookies.get(CSRF_COOKIE), form.get(CSRF_FIELD)):
            raise _Refusal(403, "Form expired", "Reload the sign-in page and try again.")
        chrome = ui.chrome(request, None, new_csrf_token())
        grant = token_grant(form.get("token", ""), ui.grants) if ui.grants else None
        next_path = safe_next(form.get("next"))
        if grant is None:
            log.info("ui: refused a sign-in with an unknown token")
            response: Response = HTMLResponse(
                login_page(chrome, next_path=next_path, failed=True), status_code=401
            )
        else:
            response = RedirectResponse(chrome.base + next_path, status_code=303)
            session = ui.sessions.create(grant)
            ui.set_cookie(request, response, SESSION_COOKIE, session, max_age=int(ui.sessions.max_age))
            log.info("ui: %s signed in", grant.label)
        # A new CSRF token with every sign-in attempt: a token planted before it is useless after.
        ui.set_cookie(request, response, CSRF_COOKIE, chrome.csrf)
        return response

    async def logout(request: Request) -> Response:
        if not origin_ok(request.headers):
            raise _Refusal(403, "Cross-site request refused", "Sign out from this app's own page.")
        form = await _read_form(request)
        if not csrf_ok(request.cookies.get(CSRF_COOKIE), form.get(CSRF_FIELD)):
            raise _Refusal(403, "Form expired", "Reload the page and try again.")
        ui.sessions.end(request.cookies.get(SESSION_COOKIE))
        chrome = ui.chrome(request, None, "")
        response = RedirectResponse(chrome.link("login"), status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=chrome.base or "/", httponly=True, samesite="strict")
        return response

    routes = [
        Route("/", page(ui.overview), methods=["GET"]),
        Route("/ns/{ns}", page(ui.memory_list, "ns"), methods=["GET"]),
        Route("/ns/{ns}/m/{id}", page(ui.memory, "ns", "id"), methods=["GET"]),
        Route("/ns/{ns}/m/{id}/forget", page(ui.confirm_forget, "ns", "id"), methods=["GET"]),
        Route("/ns/{ns}/m/{id}/forget", action(ui.forget, "ns", "id"), methods=["POST"]),
        Route("/ns/{ns}/m/{id}/priority", action(ui.set_priority, "ns", "id"), methods=["POST"]),
        Route("/ns/{ns}/export", action(ui.export, "ns", with_form=False), methods=["POST"]),
        Route("/audit", page(ui.audit), methods=["GET"]),
        Route("/login", _guarded(ui, login_form), methods=["GET"]),
        Route("/login", _guarded(ui, login), methods=["POST"]),
        Route("/logout", _guarded(ui, logout), methods=["POST"]),
        Route("/static/{name}", static, methods=["GET"]),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        chrome = ui.chrome(request, None, request.cookies.get(CSRF_COOKIE) or "")
        titles = {404: "Page not found", 405: "Method not allowed"}
        title = titles.get(status, "Request refused")
        message = (
            "There is no such page in the memory browser."
            if status == 404
            else "This address does not accept that kind of request."
        )
        return HTMLResponse(error_page(chrome, status, title, message), status_code=status)

    return Starlette(
        routes=routes,
        middleware=[Middleware(GuardMiddleware, allowed_hosts=allowed_hosts)],
        exception_handlers={HTTPException: not_found},
    )
