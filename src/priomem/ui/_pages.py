"""The namespaces page and a namespace's memory list (a page of memories, or search results).

Each function takes data the app already read from the engine and returns a whole HTML
document; none does I/O. Every value from the store is escaped by :func:`render`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from priomem import Memory, RecallHit
from priomem.ui._html import Markup, ago, attrs_selected, join, render, stamp
from priomem.ui._layout import PRIORITIES, Chrome, badge, csrf_field, layout, size, snippet, tag_list
from priomem.ui._query import PRIORITY_CHOICES, TIME_CHOICES, Filters

__all__ = ["ListView", "memory_list_page", "overview_page"]


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
                used=size(stats["bytes"]),
                limit=size(max_bytes),
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
            for p in PRIORITIES
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
                size=size(s["bytes"]),
                soon=s["expiring_within_7d"],
                expired=s["expired"],
                newest=s["newest"][:16].replace("T", " ") if s.get("newest") else "—",
            )
        )
    heads = join(render('<th scope="col" class="num">{b}</th>', b=badge(p)) for p in PRIORITIES)
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
    next_k: int = 0
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
        for p in PRIORITIES
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
        "<span>quota: {quota}{guaranteed}</span><span>{size}</span>"
        '<span title="expiring within 7 days">{soon} expiring soon</span></div>{analytics}</section>',
        ns=view.namespace,
        export=export,
        count=s["count"],
        chips=chips,
        quota=_quota_cell(s),
        guaranteed=Markup(' <span class="muted">(guaranteed)</span>') if s.get("guaranteed") else "",
        size=size(s["bytes"]),
        soon=s["expiring_within_7d"],
        analytics=_analytics(s),
    )


def _counts(counts: Mapping[str, int]) -> Markup:
    if not counts:
        return Markup('<span class="muted">—</span>')
    return join(render("<span>{name} <b>{n}</b></span>", name=name, n=n) for name, n in counts.items())


def _analytics(s: Mapping[str, Any]) -> Markup:
    """The tenant analytics of ``engine.stats``: classification, stage, compliance, lineage."""
    if "by_classification" not in s:
        return Markup("")
    lineage = s["lineage"]
    top = join(
        render('<code>{name}</code> <span class="muted">({n})</span>', name=d["name"], n=d["memories"])
        for d in lineage["top_datasets"]
    )
    return render(
        '<dl class="analytics" id="analytics">'
        "<dt>Classification</dt><dd>{classes}</dd><dt>Stage</dt><dd>{stages}</dd>"
        "<dt>Compliance records</dt><dd>{compliance}</dd>"
        "<dt>Lineage</dt><dd>{memories} memories name {datasets} datasets ({reading} read, {writing} write)"
        "</dd>{top}</dl>",
        classes=_counts(s["by_classification"]),
        stages=_counts(s["by_stage"]),
        compliance=s["compliance_records"],
        memories=lineage["memories"],
        datasets=lineage["datasets"],
        reading=lineage["reading"],
        writing=lineage["writing"],
        top=render("<dt>Most named</dt><dd>{top}</dd>", top=top) if lineage["top_datasets"] else "",
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
                '<td class="content"><a href="{href}">{text}</a></td><td class="tags">{tags}</td>'
                '<td class="when">{expires}</td></tr>',
                id=memory.id,
                score=score,
                badge=badge(memory.priority),
                created=stamp(memory.created_at, short=True),
                href=_memory_href(chrome, view.namespace, memory.id, f),
                text=snippet(memory.content),
                tags=tag_list(memory.tags),
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
            href=chrome.link("ns", view.namespace, query=f.query(k=view.next_k or f.k * 2)),
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
