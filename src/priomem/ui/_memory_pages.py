"""One memory's page (every field, its links, its search score) and the forget confirmation."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from priomem import Memory, RecallHit, Weights
from priomem.ui._html import Markup, ago, attrs_selected, esc, join, render, stamp
from priomem.ui._layout import PRIORITIES, Chrome, badge, csrf_field, duration, layout, tag_list
from priomem.ui._query import Filters

__all__ = ["ScoreView", "confirm_forget_page", "memory_page"]


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
        for p in PRIORITIES
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


def _datasets(names: Sequence[str]) -> Markup:
    """A memory's lineage datasets (``priomem lineage NAME`` walks them)."""
    if not names:
        return Markup('<span class="muted">none</span>')
    return join((render("<code>{n}</code>", n=n) for n in names), ", ")


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
    ttl = "from its priority's retention" if memory.ttl is None else duration(memory.ttl.total_seconds())
    fields = [
        ("id", render("<code>{v}</code>", v=memory.id)),
        ("priority", badge(memory.priority)),
        (
            "namespace",
            render('<a href="{h}">{v}</a>', h=chrome.link("ns", memory.namespace), v=memory.namespace),
        ),
        ("tags", tag_list(memory.tags)),
        (
            "thread",
            esc(memory.thread) if memory.thread else Markup('<span class="muted">none (a note)</span>'),
        ),
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
        ("reads", _datasets(memory.reads)),
        ("writes", _datasets(memory.writes)),
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
