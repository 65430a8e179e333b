"""The pages: namespaces, a namespace's memories, one memory, the forget confirmation, the audit log.

Each function takes data the app already read from the engine and returns a whole HTML
document; none does I/O. Every value from the store is escaped by :func:`render`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from priomem import AuditRecord, Memory, Priority, RecallHit, Weights
from priomem.ui._html import Markup, ago, attrs_selected, esc, join, render, stamp
from priomem.ui._layout import Chrome, badge, csrf_field, layout
from priomem.ui._query import PRIORITY_CHOICES, TIME_CHOICES, Filters

__all__ = [
    "AUDIT_ACTIONS",
    "ListView",
    "ScoreView",
    "audit_page",
    "confirm_forget_page",
    "memory_list_page",
    "memory_page",
    "overview_page",
]

AUDIT_ACTIONS = ("forget", "evict", "sweep", "consolidate", "erase")
_PRIORITIES = (Priority.CRITICAL, Priority.HIGH, Priority.MEDIUM, Priority.LOW)


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"  # pragma: no cover - the loop always returns


def _duration(seconds: float) -> str:
    delta = timedelta(seconds=seconds)
    if delta.days >= 1 and delta.seconds == 0:
        return f"{delta.days} days"
    return str(delta)


def _snippet(text: str, width: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _tags(tags: Sequence[str]) -> Markup:
    if not tags:
        return Markup('<span class="muted">—</span>')
    return join(render('<span class="tag">{tag}</span>', tag=tag) for tag in tags)


def _quota_cell(stats: Mapping[str, Any]) -> Markup:
    quota = stats.get("quota") or {}
    limit = quota.get("max_memories")
    parts = []
    if limit:
        used = stats["count"] / limit
        parts.append(
            render(
                '<meter min="0" max="1" low="0.7" high="0.9" optimum="0" value="{v}" title="{pct}"></meter>'
                ' <span class="num">{count} / {limit}</span> <span class="muted">({pct})</span>',
                v=f"{min(used, 1.0):.4f}",
                pct=f"{used:.0%}",
                count=stats["count"],
                limit=limit,
            )
        )
    max_bytes = quota.get("max_bytes")
    if max_bytes:
        parts.append(
            render(
                '<span class="num">{used} of {limit}</span>',
                used=_size(stats["bytes"]),
                limit=_size(max_bytes),
            )
        )
    if not parts:
        return Markup('<span class="muted">unlimited</span>')
    return join(parts, "<br>")


# -- namespaces ----------------------------------------------------------------------------
def overview_page(chrome: Chrome, rows: Sequence[Mapping[str, Any]], *, flash: str | None = None) -> Markup:
    """Every namespace the caller may see, with counts by priority and quota use."""
    if not rows:
        body = Markup(
            '<section class="card empty"><h1>No memories yet</h1>'
            "<p>Nothing has been remembered in the namespaces you can see. Store something with "
            '<code>priomem remember "..."</code>, or try <code>priomem demo</code>, then reload.</p>'
            "</section>"
        )
        return layout(chrome, "Namespaces", body, current="namespaces", flash=flash)
    lines = []
    for s in rows:
        ns = s["namespace"]
        counts = join(
            render(
                '<td class="num"><a class="count p-{cls}" href="{href}" title="{label}">{n}</a></td>',
                cls=p.name.lower() if s["by_priority"].get(p.name, 0) else "zero",
                href=chrome.link("ns", ns, query={"priority": p.name.lower()}),
                label=f"{p.name.lower()} memories in {ns}",
                n=s["by_priority"].get(p.name, 0),
            )
            for p in _PRIORITIES
        )
        lines.append(
            render(
                '<tr><th scope="row"><a href="{href}">{ns}</a></th><td class="num">{count}</td>{counts}'
                '<td>{quota}</td><td class="num">{size}</td><td class="num">{soon}</td><td class="num">{expired}</td>'
                "<td>{newest}</td></tr>",
                href=chrome.link("ns", ns),
                ns=ns,
                count=s["count"],
                counts=counts,
                quota=_quota_cell(s),
                size=_size(s["bytes"]),
                soon=s["expiring_within_7d"],
                expired=s["expired"],
                newest=s["newest"][:16].replace("T", " ") if s.get("newest") else "—",
            )
        )
    heads = join(render('<th scope="col" class="num">{b}</th>', b=badge(p)) for p in _PRIORITIES)
    total = sum(int(s["count"]) for s in rows)
    body = render(
        '<section class="card"><div class="card-head"><h1>Namespaces</h1>'
        '<p class="muted">{n} namespaces, {total} live memories</p></div>'
        '<div class="scroll"><table class="grid" id="namespaces"><thead><tr><th scope="col">Namespace</th>'
        '<th scope="col" class="num">Memories</th>{heads}<th scope="col">Quota use</th>'
        '<th scope="col" class="num">Size</th><th scope="col" class="num" title="expiring within 7 days">'
        'Expiring ≤ 7 d</th><th scope="col" class="num" title="expired, awaiting sweep">Expired</th>'
        '<th scope="col">Newest (UTC)</th></tr></thead><tbody>{lines}</tbody></table></div></section>',
        n=len(rows),
        total=total,
        heads=heads,
        lines=join(lines),
    )
    return layout(chrome, "Namespaces", body, current="namespaces", flash=flash)


# -- a namespace's memories ----------------------------------------------------------------
@dataclass(frozen=True)
class ListView:
    """What the list page shows: a page of memories, or search hits."""

    namespace: str
    stats: Mapping[str, Any]
    filters: Filters
    memories: Sequence[Memory] = ()
    hits: Sequence[RecallHit] = ()
    has_more: bool = False
    error: str | None = None
    now: datetime | None = None


def _filter_form(chrome: Chrome, view: ListView) -> Markup:
    f = view.filters
    priorities = join(
        render(
            '<option value="{v}"{sel}>{label}</option>',
            v=value,
            sel=attrs_selected(value == f.priority),
            label=label,
        )
        for value, label, _, _ in PRIORITY_CHOICES
    )
    known = {value for value, _ in TIME_CHOICES}
    windows = list(TIME_CHOICES)
    if f.since not in known:
        windows.append((f.since, f"Since {f.since}"))
    times = join(
        render(
            '<option value="{v}"{sel}>{label}</option>',
            v=value,
            sel=attrs_selected(value == f.since),
            label=label,
        )
        for value, label in windows
    )
    until = Markup("")
    if f.until:
        until = render('<input type="hidden" name="until" value="{v}">', v=f.until)
    return render(
        '<form method="get" action="{action}" class="filters" role="search" data-autosubmit>'
        '<label class="grow"><span>Search</span><input type="search" name="q" value="{q}" '
        'placeholder="words or a question, ranked by recall" id="q"></label>'
        '<label><span>Priority</span><select name="priority" id="priority">{priorities}</select></label>'
        '<label><span>Created</span><select name="since" id="since">{times}</select></label>'
        '<label><span>Tags</span><input type="text" name="tags" value="{tags}" placeholder="all of: a, b" id="tags">'
        "</label>{until}"
        '<div class="buttons"><button type="submit" class="primary">Apply</button>'
        '<a class="button" href="{reset}">Reset</a></div></form>',
        action=chrome.link("ns", view.namespace),
        q=f.q,
        priorities=priorities,
        times=times,
        tags=", ".join(f.tags),
        until=until,
        reset=chrome.link("ns", view.namespace),
    )


def _summary(chrome: Chrome, view: ListView) -> Markup:
    s = view.stats
    chips = join(
        render(
            '<a class="chip" href="{href}">{badge}</a>',
            href=chrome.link("ns", view.namespace, query={"priority": p.name.lower()}),
            badge=badge(p, s["by_priority"].get(p.name, 0)),
        )
        for p in _PRIORITIES
    )
    export = Markup("")
    if not chrome.read_only:
        export = render(
            '<form method="post" action="{action}" class="inline">{csrf}'
            '<button type="submit" id="export">Export JSON Lines</button></form>',
            action=chrome.link("ns", view.namespace, "export"),
            csrf=csrf_field(chrome),
        )
    return render(
        '<section class="card"><div class="card-head"><h1>Namespace <span class="ns">{ns}</span></h1>{export}</div>'
        '<div class="summary"><span><b>{count}</b> live memories</span>{chips}'
        "<span>quota: {quota}</span><span>{size}</span>"
        '<span title="expiring within 7 days">{soon} expiring soon</span></div></section>',
        ns=view.namespace,
        export=export,
        count=s["count"],
        chips=chips,
        quota=_quota_cell(s),
        size=_size(s["bytes"]),
        soon=s["expiring_within_7d"],
    )


def _memory_href(chrome: Chrome, namespace: str, memory_id: str, filters: Filters) -> str:
    return chrome.link("ns", namespace, "m", memory_id, query=filters.query(page=1))


def memory_list_page(chrome: Chrome, view: ListView, *, flash: str | None = None) -> Markup:
    """A namespace: summary, filters, and a page of memories or search results."""
    f = view.filters
    now = view.now
    rows = []
    items: list[tuple[Memory, RecallHit | None]] = (
        [(h.memory, h) for h in view.hits] if f.searching else [(m, None) for m in view.memories]
    )
    for rank, (memory, hit) in enumerate(items, 1):
        score = Markup("")
        if hit is not None:
            score = render(
                '<td class="num score"><span title="rank {rank}">{score}</span></td>',
                rank=rank,
                score=f"{hit.score:.3f}",
            )
        rows.append(
            render(
                '<tr data-id="{id}">{score}<td>{badge}</td><td class="when">{created}</td>'
                '<td class="content"><a href="{href}">{text}</a></td><td>{tags}</td>'
                '<td class="when">{expires}</td></tr>',
                id=memory.id,
                score=score,
                badge=badge(memory.priority),
                created=stamp(memory.created_at, short=True),
                href=_memory_href(chrome, view.namespace, memory.id, f),
                text=_snippet(memory.content),
                tags=_tags(memory.tags),
                expires=ago(memory.expires_at, now) if now else stamp(memory.expires_at),
            )
        )
    if view.error:
        table = render('<p class="flash error" role="alert">{e}</p>', e=view.error)
    elif not rows:
        table = Markup(
            '<p class="empty" id="no-results">No memories match these filters.</p>'
            if f.active
            else '<p class="empty" id="no-results">This namespace holds no live memories.</p>'
        )
    else:
        score_head = Markup('<th scope="col" class="num">Score</th>' if f.searching else "")
        table = render(
            '<div class="scroll"><table class="grid" id="memories"><thead><tr>{score_head}'
            '<th scope="col">Priority</th><th scope="col">Created (UTC)</th><th scope="col">Content</th>'
            '<th scope="col">Tags</th><th scope="col">Expires</th></tr></thead><tbody>{rows}</tbody></table></div>',
            score_head=score_head,
            rows=join(rows),
        )
    pager = _pager(chrome, view, len(rows))
    heading = (
        render("<h2>Best matches for <q>{q}</q></h2>", q=f.q)
        if f.searching
        else Markup("<h2>Newest first</h2>")
    )
    body = join(
        [
            _summary(chrome, view),
            render(
                '<section class="card">{form}{heading}{table}{pager}</section>',
                form=_filter_form(chrome, view),
                heading=heading,
                table=table,
                pager=pager,
            ),
        ]
    )
    crumbs = [("Namespaces", chrome.link("")), (view.namespace, None)]
    kind = "error" if flash and flash.startswith("!") else "ok"
    return layout(
        chrome,
        f"{view.namespace}",
        body,
        crumbs=crumbs,
        flash=flash.lstrip("!") if flash else None,
        flash_kind=kind,
    )


def _pager(chrome: Chrome, view: ListView, shown: int) -> Markup:
    f = view.filters
    if f.searching:
        if not view.has_more:
            return render('<p class="pager muted">{n} results.</p>', n=shown) if shown else Markup("")
        return render(
            '<p class="pager"><span class="muted">Showing the best {n}.</span> '
            '<a class="button" rel="next" href="{href}">More results</a></p>',
            n=shown,
            href=chrome.link("ns", view.namespace, query=f.query(k=f.k * 2)),
        )
    links = []
    if f.page > 1:
        links.append(
            render(
                '<a class="button" rel="prev" href="{href}">← Newer</a>',
                href=chrome.link("ns", view.namespace, query=f.query(page=f.page - 1)),
            )
        )
    links.append(render('<span class="muted">Page {page}</span>', page=f.page))
    if view.has_more:
        links.append(
            render(
                '<a class="button" rel="next" href="{href}">Older →</a>',
                href=chrome.link("ns", view.namespace, query=f.query(page=f.page + 1)),
            )
        )
    if f.page == 1 and not view.has_more:
        return Markup("")
    return render('<nav class="pager" aria-label="pages">{links}</nav>', links=join(links, " "))


# -- one memory ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ScoreView:
    """A search's verdict on one memory: its hit (None: not among the results), rank and query."""

    query: str
    hit: RecallHit | None
    rank: int
    total: int
    weights: Weights
    hybrid: bool


_PART_NOTES = {
    "similarity": "cosine similarity of query and memory embeddings",
    "lexical": "share of the query's word evidence (BM25) the memory matches",
    "priority": "LOW 0, MEDIUM ⅓, HIGH ⅔, CRITICAL 1",
    "recency": "halves every half-life, counted from created_at",
    "access": "grows with how often recall returned it",
}


def _score_panel(view: ScoreView) -> Markup:
    if view.hit is None:
        return render(
            '<section class="card" id="score"><h2>Search score</h2><p>This memory is not among the '
            "{total} best results for <q>{q}</q>.</p></section>",
            total=view.total,
            q=view.query,
        )
    w = view.weights
    parts = view.hit.parts
    weights = {
        "similarity": w.similarity,
        "lexical": w.lexical if view.hybrid else 0.0,
        "priority": w.priority,
        "recency": w.recency,
        "access": w.access,
    }
    total_weight = sum(weights.values()) or 1.0
    rows = []
    for name, weight in weights.items():
        value = float(getattr(parts, name))
        rows.append(
            render(
                '<tr data-part="{name}"><th scope="row">{name}</th>'
                '<td><meter min="0" max="1" value="{v}"></meter></td><td class="num">{value}</td>'
                '<td class="num">× {weight}</td><td class="num">{contribution}</td><td class="muted">{note}</td></tr>',
                name=name,
                v=f"{min(max(value, 0.0), 1.0):.4f}",
                value=f"{value:.3f}",
                weight=f"{weight:g}",
                contribution=f"{weight * value / total_weight:+.3f}",
                note=_PART_NOTES[name],
            )
        )
    return render(
        '<section class="card" id="score"><h2>Search score</h2>'
        '<p>Rank <b>{rank}</b> of {total} for <q>{q}</q>: score <b class="score" id="score-value">{score}</b> '
        '<meter min="0" max="1" value="{v}"></meter></p>'
        '<table class="grid parts"><thead><tr><th scope="col">Part</th><th scope="col"></th>'
        '<th scope="col" class="num">Value</th><th scope="col" class="num">Weight</th>'
        '<th scope="col" class="num">Adds</th><th scope="col">Meaning</th></tr></thead><tbody>{rows}</tbody>'
        '<tfoot><tr><th scope="row">relevance</th><td><meter min="0" max="1" value="{rv}"></meter></td>'
        '<td class="num">{relevance}</td><td colspan="3" class="muted">similarity and lexical fused '
        "(what the memory says, before priority, recency and access)</td></tr></tfoot></table>"
        '<p class="muted small">score = Σ weight × part ÷ Σ weights ({tw}); every part is 0..1, higher is better.</p>'
        "</section>",
        rank=view.rank,
        total=view.total,
        q=view.query,
        score=f"{view.hit.score:.3f}",
        v=f"{min(max(view.hit.score, 0.0), 1.0):.4f}",
        rows=join(rows),
        rv=f"{min(max(parts.relevance, 0.0), 1.0):.4f}",
        relevance=f"{parts.relevance:.3f}",
        tw=f"{total_weight:g}",
    )


def _id_links(chrome: Chrome, namespace: str, ids: Sequence[str], alive: Mapping[str, bool]) -> Markup:
    if not ids:
        return Markup('<span class="muted">none</span>')
    items = []
    for memory_id in ids:
        gone = Markup("") if alive.get(memory_id, False) else Markup(' <span class="muted">(gone)</span>')
        items.append(
            render(
                '<li><a href="{href}"><code>{id}</code></a>{gone}</li>',
                href=chrome.link("ns", namespace, "m", memory_id),
                id=memory_id,
                gone=gone,
            )
        )
    return render('<ul class="ids">{items}</ul>', items=join(items))


def _metadata(metadata: Mapping[str, Any]) -> Markup:
    if not metadata:
        return Markup('<span class="muted">none</span>')
    rows = join(
        render(
            '<tr><th scope="row"><code>{k}</code></th><td><code>{v}</code></td></tr>',
            k=key,
            v=json.dumps(value, ensure_ascii=False),
        )
        for key, value in sorted(metadata.items())
    )
    return render('<table class="meta">{rows}</table>', rows=rows)


def _actions(chrome: Chrome, memory: Memory) -> Markup:
    if chrome.read_only:
        return Markup("")
    options = join(
        render(
            '<option value="{v}"{sel}>{label}</option>',
            v=p.name.lower(),
            sel=attrs_selected(p == memory.priority),
            label=p.name.lower(),
        )
        for p in _PRIORITIES
    )
    return render(
        '<section class="card actions" id="actions"><h2>Curate</h2><div class="action-row">'
        '<form method="post" action="{prio}" class="inline">{csrf}'
        '<label for="new-priority">Priority</label> <select id="new-priority" name="priority">{options}</select> '
        '<button type="submit" id="change-priority">Change priority</button></form>'
        '<a class="button danger" id="forget" href="{forget}">Forget…</a></div></section>',
        prio=chrome.link("ns", memory.namespace, "m", memory.id, "priority"),
        csrf=csrf_field(chrome),
        options=options,
        forget=chrome.link("ns", memory.namespace, "m", memory.id, "forget"),
    )


def memory_page(
    chrome: Chrome,
    memory: Memory,
    *,
    filters: Filters,
    alive: Mapping[str, bool],
    score: ScoreView | None,
    now: datetime,
    flash: str | None = None,
) -> Markup:
    """Every field of a memory, its links, its search score when reached from a search, and actions."""
    ttl = "from its priority's retention" if memory.ttl is None else _duration(memory.ttl.total_seconds())
    fields = [
        ("id", render("<code>{v}</code>", v=memory.id)),
        ("priority", badge(memory.priority)),
        (
            "namespace",
            render('<a href="{h}">{v}</a>', h=chrome.link("ns", memory.namespace), v=memory.namespace),
        ),
        ("tags", _tags(memory.tags)),
        ("metadata", _metadata(memory.metadata)),
        (
            "created_at",
            render(
                "{t} <span class=muted>({a})</span>",
                t=stamp(memory.created_at),
                a=ago(memory.created_at, now),
            ),
        ),
        ("stored_at", stamp(memory.stored_at)),
        ("last_accessed_at", stamp(memory.last_accessed_at)),
        ("access_count", esc(memory.access_count)),
        (
            "expires_at",
            render(
                "{t} <span class=muted>({a})</span>",
                t=stamp(memory.expires_at),
                a=ago(memory.expires_at, now),
            )
            if memory.expires_at
            else Markup('<span class="muted">never</span>'),
        ),
        ("ttl", esc(ttl)),
        ("refs", _id_links(chrome, memory.namespace, memory.refs, alive)),
        ("consolidated_from", _id_links(chrome, memory.namespace, memory.consolidated_from, alive)),
        ("content_hash", render("<code>{v}</code>", v=memory.content_hash)),
        ("schema_version", esc(memory.schema_version)),
    ]
    table = join(
        render('<tr data-field="{k}"><th scope="row">{k}</th><td>{v}</td></tr>', k=key, v=value)
        for key, value in fields
    )
    back_label = "Back to results" if filters.searching else "Back to the list"
    body = render(
        '<section class="card"><div class="card-head"><h1>Memory {badge}</h1>'
        '<a class="button" href="{back}">{back_label}</a></div>'
        '<pre class="content" id="content">{content}</pre></section>'
        "{score}{actions}"
        '<section class="card"><h2>Fields</h2><table class="fields" id="fields">{table}</table></section>',
        badge=badge(memory.priority),
        back=chrome.link("ns", memory.namespace, query=filters.query()),
        back_label=back_label,
        content=memory.content,
        score=_score_panel(score) if score is not None else Markup(""),
        actions=_actions(chrome, memory),
        table=table,
    )
    crumbs = [
        ("Namespaces", chrome.link("")),
        (memory.namespace, chrome.link("ns", memory.namespace)),
        (memory.id, None),
    ]
    return layout(chrome, f"Memory {memory.id}", body, crumbs=crumbs, flash=flash)


def confirm_forget_page(chrome: Chrome, memory: Memory) -> Markup:
    """The confirmation step before forgetting: what will go, and a button that does it."""
    body = render(
        '<section class="card narrow danger-zone"><h1>Forget this memory?</h1>'
        "<p>It is deleted from the store for good (recorded in the audit log, without its text). "
        "Agents will no longer recall it.</p>"
        '<dl class="brief"><dt>id</dt><dd><code>{id}</code></dd><dt>priority</dt><dd>{badge}</dd>'
        "<dt>namespace</dt><dd>{ns}</dd></dl>"
        '<pre class="content">{content}</pre>'
        '<form method="post" action="{action}" class="action-row">{csrf}'
        '<input type="hidden" name="confirm" value="yes">'
        '<button type="submit" class="danger" id="confirm-forget">Forget for good</button>'
        '<a class="button" href="{cancel}" id="cancel">Cancel</a></form></section>',
        id=memory.id,
        badge=badge(memory.priority),
        ns=memory.namespace,
        content=memory.content,
        action=chrome.link("ns", memory.namespace, "m", memory.id, "forget"),
        csrf=csrf_field(chrome),
        cancel=chrome.link("ns", memory.namespace, "m", memory.id),
    )
    crumbs = [
        ("Namespaces", chrome.link("")),
        (memory.namespace, chrome.link("ns", memory.namespace)),
        (memory.id, chrome.link("ns", memory.namespace, "m", memory.id)),
        ("forget", None),
    ]
    return layout(chrome, "Forget?", body, crumbs=crumbs)


# -- audit log -----------------------------------------------------------------------------
def _selector(selector: Mapping[str, Any]) -> Markup:
    if not selector:
        return Markup('<span class="muted">—</span>')
    return join(
        render(
            '<span class="kv"><span class="k">{k}</span>=<span class="v">{v}</span></span>',
            k=key,
            v=json.dumps(value, ensure_ascii=False),
        )
        for key, value in sorted(selector.items())
    )


def _audit_ids(ids: Sequence[str], count: int) -> Markup:
    if not ids:
        return Markup('<span class="muted">—</span>')
    shown = join(render("<code>{i}</code>", i=i) for i in ids[:3])
    if len(ids) <= 3:
        return shown
    rest = join((render("<code>{i}</code>", i=i) for i in ids[3:]), " ")
    more = count - 3
    return render(
        '{shown}<details><summary>and {more} more</summary><div class="idlist">{rest}</div></details>',
        shown=shown,
        more=more,
        rest=rest,
    )


def audit_page(
    chrome: Chrome,
    records: Sequence[AuditRecord],
    *,
    namespaces: Sequence[str],
    namespace: str,
    action: str,
    limit: int,
) -> Markup:
    """Audited deletions, newest first, narrowed by namespace and action."""
    ns_options = join(
        [
            render('<option value=""{s}>All namespaces</option>', s=attrs_selected(not namespace)),
            *(
                render('<option value="{v}"{s}>{v}</option>', v=n, s=attrs_selected(n == namespace))
                for n in namespaces
            ),
        ]
    )
    act_options = join(
        [
            render('<option value=""{s}>All actions</option>', s=attrs_selected(not action)),
            *(
                render('<option value="{v}"{s}>{v}</option>', v=a, s=attrs_selected(a == action))
                for a in AUDIT_ACTIONS
            ),
        ]
    )
    rows = join(
        render(
            '<tr><td class="when">{at}</td><td><span class="action a-{action}">{action}</span></td>'
            '<td><a href="{ns_href}">{ns}</a></td><td class="num">{count}</td><td>{selector}</td>'
            '<td class="ids">{ids}</td></tr>',
            at=stamp(r.at),
            action=r.action,
            ns_href=chrome.link("ns", r.namespace),
            ns=r.namespace,
            count=r.count,
            selector=_selector(r.selector),
            ids=_audit_ids(r.ids, r.count),
        )
        for r in records
    )
    table = (
        render(
            '<div class="scroll"><table class="grid" id="audit"><thead><tr><th scope="col">When (UTC)</th>'
            '<th scope="col">Action</th><th scope="col">Namespace</th><th scope="col" class="num">Count</th>'
            '<th scope="col">Selector</th><th scope="col">Ids</th></tr></thead><tbody>{rows}</tbody></table></div>',
            rows=rows,
        )
        if records
        else Markup('<p class="empty">No audited deletions match.</p>')
    )
    body = render(
        '<section class="card"><div class="card-head"><h1>Audit log</h1>'
        '<p class="muted">Every deletion priomem made, on request or on its own; never any content.</p></div>'
        '<form method="get" action="{action_url}" class="filters" data-autosubmit>'
        '<label><span>Namespace</span><select name="namespace">{ns_options}</select></label>'
        '<label><span>Action</span><select name="action">{act_options}</select></label>'
        '<label><span>Show</span><input type="number" name="limit" min="1" max="1000" value="{limit}"></label>'
        '<div class="buttons"><button type="submit" class="primary">Apply</button></div></form>'
        "{table}</section>",
        action_url=chrome.link("audit"),
        ns_options=ns_options,
        act_options=act_options,
        limit=limit,
        table=table,
    )
    return layout(chrome, "Audit log", body, current="audit")
