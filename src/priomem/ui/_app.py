"""The Starlette app: its routes, and the guard that turns refusals and errors into pages.

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

What each route does is in :mod:`priomem.ui._views`; every engine call runs there, on a
worker thread, never on the event loop. Actions are refused with 403 in read-only mode.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from priomem import (
    InvalidInputError,
    MemoryEngine,
    NamespaceNotAllowedError,
    NotFoundError,
    PriomemError,
    StoreError,
    WrongTypeError,
)
from priomem.serving import Grant, token_grant
from priomem.ui import _views as views
from priomem.ui._context import STATIC, UI, LoginRedirect, Refusal, read_form
from priomem.ui._layout import error_page, login_page
from priomem.ui._security import (
    CSRF_COOKIE,
    CSRF_FIELD,
    SESSION_COOKIE,
    GuardMiddleware,
    csrf_ok,
    new_csrf_token,
    origin_ok,
    safe_next,
)

if TYPE_CHECKING:
    from priomem.serving import EngineHolder

__all__ = ["build_ui_app"]

log = logging.getLogger("priomem.ui")

_STATUS = (
    (NotFoundError, 404, "Not found"),
    (NamespaceNotAllowedError, 403, "Namespace not allowed"),
    (InvalidInputError, 400, "Invalid request"),
    (WrongTypeError, 400, "Invalid request"),
    (StoreError, 503, "Store unavailable"),
)

Handler = Callable[[Request], Awaitable[Response]]


def _guarded(ui: UI, handler: Handler) -> Handler:
    """Turn refusals and engine errors into error pages; never leak a traceback to the page."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except LoginRedirect as redirect:
            target = ui.chrome(request, None, "").link("login", query={"next": redirect.next_path})
            return RedirectResponse(target, status_code=303)
        except Refusal as refusal:
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
    :class:`~priomem.serving.EngineHolder` still opening one. ``read_only``: hide and
    refuse (403) every action. ``grants``: bearer tokens as
    :func:`priomem.serving.load_tokens` returns them; when given, every page needs a
    token (header or login form) and shows only the token's namespaces. ``allowed_hosts``:
    ``Host`` names accepted besides loopback ones (the name a proxy or LAN address uses).

        >>> app = build_ui_app(engine, read_only=True)        # doctest: +SKIP
        >>> uvicorn.run(app, host="127.0.0.1", port=8766)      # doctest: +SKIP
    """
    ui = UI(engine, read_only=read_only, grants=grants or {}, session_max_age=session_max_age)

    def page(method: Callable[..., Response], *names: str) -> Handler:
        async def handler(request: Request) -> Response:
            req = ui.begin(request)
            args = [request.path_params[n] for n in names]
            return await run_in_threadpool(method, ui, req, *args)

        return _guarded(ui, handler)

    def action(method: Callable[..., Response], *names: str, with_form: bool = True) -> Handler:
        async def handler(request: Request) -> Response:
            req, form = await ui.begin_action(request)
            args = [request.path_params[n] for n in names]
            if with_form:
                return await run_in_threadpool(method, ui, req, form, *args)
            return await run_in_threadpool(method, ui, req, *args)

        return _guarded(ui, handler)

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            raise HTTPException(404)
        return Response(
            ui.static[name],
            media_type=STATIC[name],
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
            raise Refusal(403, "Cross-site request refused", "Sign in from this app's own page.")
        form = await read_form(request)
        if not csrf_ok(request.cookies.get(CSRF_COOKIE), form.get(CSRF_FIELD)):
            raise Refusal(403, "Form expired", "Reload the sign-in page and try again.")
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
            raise Refusal(403, "Cross-site request refused", "Sign out from this app's own page.")
        form = await read_form(request)
        if not csrf_ok(request.cookies.get(CSRF_COOKIE), form.get(CSRF_FIELD)):
            raise Refusal(403, "Form expired", "Reload the page and try again.")
        ui.sessions.end(request.cookies.get(SESSION_COOKIE))
        chrome = ui.chrome(request, None, "")
        response = RedirectResponse(chrome.link("login"), status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=chrome.base or "/", httponly=True, samesite="strict")
        return response

    routes = [
        Route("/", page(views.overview), methods=["GET"]),
        Route("/ns/{ns}", page(views.memory_list, "ns"), methods=["GET"]),
        Route("/ns/{ns}/m/{id}", page(views.memory, "ns", "id"), methods=["GET"]),
        Route("/ns/{ns}/m/{id}/forget", page(views.confirm_forget, "ns", "id"), methods=["GET"]),
        Route("/ns/{ns}/m/{id}/forget", action(views.forget, "ns", "id"), methods=["POST"]),
        Route("/ns/{ns}/m/{id}/priority", action(views.set_priority, "ns", "id"), methods=["POST"]),
        Route("/ns/{ns}/export", action(views.export, "ns", with_form=False), methods=["POST"]),
        Route("/audit", page(views.audit), methods=["GET"]),
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
