"""What each page and action does: the engine calls behind the routes, run on a worker thread.

Each function takes the app's state (:class:`~priomem.ui._context.UI`) and an
authenticated request, and returns a response; refusals are raised as
:class:`~priomem.ui._context.Refusal` and engine errors as they are, for the app to
turn into error pages.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.background import BackgroundTask
from starlette.responses import FileResponse, RedirectResponse, Response

from priomem import (
    InvalidInputError,
    Memory,
    MemoryEngine,
    NotFoundError,
    PriomemError,
    Priority,
    RecallHit,
    WrongTypeError,
)
from priomem._timeparse import utcnow
from priomem.ui import _audit_page, _memory_pages, _pages
from priomem.ui._context import UI, Refusal, Req
from priomem.ui._query import MAX_SEARCH_K, PAGE_SIZE, Filters

__all__ = ["audit", "confirm_forget", "export", "forget", "memory", "memory_list", "overview", "set_priority"]

log = logging.getLogger("priomem.ui")

_ID = re.compile(r"^[A-Za-z0-9_.\-:]{1,128}$")


def overview(ui: UI, req: Req) -> Response:
    """GET /: every visible namespace with counts by priority and quota use."""
    engine = ui.engine()
    rows = [ui.stats.get(engine, ns) for ns in ui.visible_namespaces(engine, req.grant)]
    chrome = ui.chrome(req.request, req.grant, req.chrome.csrf)
    return ui.respond(req, _pages.overview_page(chrome, rows))


def memory_list(ui: UI, req: Req, namespace: str) -> Response:
    """GET /ns/{ns}: a page of memories, newest first, or search results."""
    engine = ui.engine()
    ns = ui.allowed(req.grant, namespace)
    params = req.request.query_params
    error: str | None = None
    memories: list[Any] = []
    hits: list[RecallHit] = []
    has_more = False
    next_k = 0
    try:
        filters = Filters.parse(params, max_k=engine.settings.max_k)
    except InvalidInputError as exc:
        filters, error = Filters(), str(exc)
    if error is None:
        try:
            if filters.searching:
                hits = ui.search(engine, ns, filters, reuse=False)
                cap = min(engine.settings.max_k, MAX_SEARCH_K)
                has_more = len(hits) >= filters.k and filters.k < cap
                next_k = min(filters.k * 2, cap)
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
        stats=ui.stats.get(engine, ns),
        filters=filters,
        memories=memories,
        hits=hits,
        has_more=has_more,
        next_k=next_k,
        error=error,
        now=utcnow(),
    )
    flash = None
    if params.get("done") == "forgot":
        gone = params.get("id", "")
        flash = f"Forgot memory {gone}." if _ID.match(gone) else "Forgot the memory."
    chrome = ui.chrome(req.request, req.grant, req.chrome.csrf)
    page = _pages.memory_list_page(chrome, view, flash=flash)
    return ui.respond(req, page, 400 if error else 200)


def _memory(engine: MemoryEngine, ns: str, memory_id: str) -> Memory:
    try:
        memory = engine.get(memory_id, namespace=ns)
    except (InvalidInputError, WrongTypeError):
        memory = None
    if memory is None:
        raise Refusal(
            404,
            "Memory not found",
            f"No live memory {memory_id!r} in namespace {ns!r}: it may have been forgotten, "
            "consolidated into another, or expired.",
        )
    return memory


def memory(ui: UI, req: Req, namespace: str, memory_id: str) -> Response:
    """GET /ns/{ns}/m/{id}: every field, links, and the search score when reached from one."""
    engine = ui.engine()
    ns = ui.allowed(req.grant, namespace)
    memory = _memory(engine, ns, memory_id)
    try:
        filters = Filters.parse(req.request.query_params, max_k=engine.settings.max_k)
    except InvalidInputError:
        filters = Filters()
    score = None
    if filters.searching:
        try:
            hits = ui.search(engine, ns, filters, reuse=True)
        except (InvalidInputError, WrongTypeError):
            hits = []
        rank = next((i for i, h in enumerate(hits, 1) if h.memory.id == memory.id), 0)
        score = _memory_pages.ScoreView(
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
    chrome = ui.chrome(req.request, req.grant, req.chrome.csrf)
    page = _memory_pages.memory_page(
        chrome, memory, filters=filters, alive=alive, score=score, now=utcnow(), flash=flash
    )
    return ui.respond(req, page)


def confirm_forget(ui: UI, req: Req, namespace: str, memory_id: str) -> Response:
    """GET /ns/{ns}/m/{id}/forget: the confirmation step."""
    if ui.read_only:
        raise Refusal(403, "Read-only", "This memory browser is read-only; actions are turned off.")
    engine = ui.engine()
    ns = ui.allowed(req.grant, namespace)
    memory = _memory(engine, ns, memory_id)
    chrome = ui.chrome(req.request, req.grant, req.chrome.csrf)
    return ui.respond(req, _memory_pages.confirm_forget_page(chrome, memory))


def forget(ui: UI, req: Req, form: Mapping[str, str], namespace: str, memory_id: str) -> Response:
    """POST /ns/{ns}/m/{id}/forget: forget one memory, then back to the list."""
    engine = ui.engine()
    ns = ui.allowed(req.grant, namespace)
    if form.get("confirm") != "yes":
        raise Refusal(400, "Not confirmed", "Confirm on the memory's forget page.")
    try:
        report = engine.forget_report([memory_id], namespace=ns)
    except (InvalidInputError, WrongTypeError):
        report = None
    if report is None or report.count == 0:
        raise Refusal(404, "Memory not found", f"No memory {memory_id!r} in namespace {ns!r} to forget.")
    ui.searches.drop_namespace(ns)
    ui.stats.drop(ns)
    log.info("ui: %s forgot %s in %r", req.grant.label, memory_id, ns)
    target = req.chrome.link("ns", ns, query={"done": "forgot", "id": memory_id})
    return ui.finish(req, RedirectResponse(target, status_code=303))


def set_priority(ui: UI, req: Req, form: Mapping[str, str], namespace: str, memory_id: str) -> Response:
    """POST /ns/{ns}/m/{id}/priority: change the priority, keeping the id."""
    engine = ui.engine()
    ns = ui.allowed(req.grant, namespace)
    priority = Priority.parse(form.get("priority", ""))
    try:
        engine.set_priority(memory_id, priority, namespace=ns)
    except (InvalidInputError, WrongTypeError) as exc:
        if getattr(exc, "field", None) == "priority":
            raise
        raise NotFoundError(f"no memory {memory_id!r} in namespace {ns!r}.", field="id") from None
    ui.searches.drop_namespace(ns)
    ui.stats.drop(ns)
    log.info("ui: %s set %s in %r to %s", req.grant.label, memory_id, ns, priority.name)
    target = req.chrome.link("ns", ns, "m", memory_id, query={"done": "priority"})
    return ui.finish(req, RedirectResponse(target, status_code=303))


def export(ui: UI, req: Req, namespace: str) -> Response:
    """POST /ns/{ns}/export: the namespace as a JSON Lines download."""
    engine = ui.engine()
    ns = ui.allowed(req.grant, namespace)
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
    return ui.finish(req, response)


def audit(ui: UI, req: Req) -> Response:
    """GET /audit: audited deletions of the visible namespaces."""
    engine = ui.engine()
    params = req.request.query_params
    namespace = params.get("namespace", "").strip()
    action = params.get("action", "").strip()
    if action and action not in _audit_page.AUDIT_ACTIONS:
        raise Refusal(400, "Unknown action", f"Choose one of {', '.join(_audit_page.AUDIT_ACTIONS)}.")
    raw_limit = params.get("limit", "100")
    limit = min(max(int(raw_limit), 1), 1000) if raw_limit.isdigit() else 100
    visible = ui.visible_namespaces(engine, req.grant)
    if namespace:
        scopes: Sequence[str | None] = [ui.allowed(req.grant, namespace)]
    elif req.grant.allowed is None:
        scopes = [None]
    else:
        scopes = visible
    records = []
    for scope in scopes:
        records += engine.audit_log(namespace=scope, action=action or None, limit=limit)
    records.sort(key=lambda r: r.id, reverse=True)
    chrome = ui.chrome(req.request, req.grant, req.chrome.csrf)
    page = _audit_page.audit_page(
        chrome, records[:limit], namespaces=visible, namespace=namespace, action=action, limit=limit
    )
    return ui.respond(req, page)
