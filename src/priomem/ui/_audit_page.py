"""The audit log page: every deletion priomem made, newest first, never any content."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from priomem import AuditRecord
from priomem.ui._html import Markup, attrs_selected, join, render, stamp
from priomem.ui._layout import Chrome, layout

__all__ = ["AUDIT_ACTIONS", "audit_page"]

AUDIT_ACTIONS = ("forget", "evict", "sweep", "consolidate", "erase")


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
