"""The frame every page shares, and the small pieces pages are built from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from priomem import Priority
from priomem.ui._html import Markup, join, render, url
from priomem.ui._security import CSRF_FIELD

__all__ = [
    "PRIORITIES",
    "Chrome",
    "badge",
    "csrf_field",
    "duration",
    "error_page",
    "layout",
    "login_page",
    "size",
    "snippet",
    "tag_list",
]

#: Priorities as the pages list them: most important first.
PRIORITIES = (Priority.CRITICAL, Priority.HIGH, Priority.MEDIUM, Priority.LOW)


@dataclass(frozen=True)
class Chrome:
    """What the frame of a page needs to know about the request and the app."""

    base: str
    csrf: str
    read_only: bool = False
    who: str | None = None
    can_logout: bool = False
    location: str = ""
    asset_version: str = "0"

    def link(self, *segments: str, query: dict[str, str] | None = None) -> str:
        """A URL inside the app (mounted or not)."""
        return url(self.base, *segments, query=query)


def size(count: int) -> str:
    """A byte count for people: ``631 B``, ``1.2 MB``."""
    value = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"  # pragma: no cover - the loop always returns


def duration(seconds: float) -> str:
    """A lifetime for people: ``7 days``, or ``H:MM:SS`` with a day count."""
    delta = timedelta(seconds=seconds)
    if delta.days >= 1 and delta.seconds == 0:
        return f"{delta.days} days"
    return str(delta)


def snippet(text: str, width: int = 160) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def tag_list(tags: Sequence[str]) -> Markup:
    """Tags as small labels (escaped), or a dash when there are none."""
    if not tags:
        return Markup('<span class="muted">—</span>')
    return join(render('<span class="tag">{tag}</span>', tag=tag) for tag in tags)


def csrf_field(chrome: Chrome) -> Markup:
    """The hidden CSRF field every POST form carries."""
    return render('<input type="hidden" name="{name}" value="{value}">', name=CSRF_FIELD, value=chrome.csrf)


def badge(priority: Priority | str, count: int | None = None) -> Markup:
    """A coloured priority badge, optionally with a count."""
    name = priority.name if isinstance(priority, Priority) else str(priority).upper()
    cls = name.lower() if name in Priority.__members__ else "unknown"
    if count is None:
        return render('<span class="badge p-{cls}">{label}</span>', cls=cls, label=name.lower())
    return render(
        '<span class="badge p-{cls}">{label} <b>{count}</b></span>', cls=cls, label=name.lower(), count=count
    )


def _nav(chrome: Chrome, current: str) -> Markup:
    items = [("namespaces", "Namespaces", chrome.link("")), ("audit", "Audit log", chrome.link("audit"))]
    return join(
        render(
            '<a href="{href}"{cur}>{label}</a>',
            href=href,
            label=label,
            cur=Markup(' aria-current="page"' if key == current else ""),
        )
        for key, label, href in items
    )


def layout(
    chrome: Chrome,
    title: str,
    body: Markup,
    *,
    current: str = "",
    crumbs: Sequence[tuple[str, str | None]] = (),
    flash: str | None = None,
    flash_kind: str = "ok",
) -> Markup:
    """A whole HTML document: header, breadcrumbs, an optional flash message, ``body``."""
    user = Markup("")
    if chrome.who is not None:
        logout = Markup("")
        if chrome.can_logout:
            logout = render(
                '<form method="post" action="{action}" class="inline">{csrf}'
                '<button type="submit" class="link">Log out</button></form>',
                action=chrome.link("logout"),
                csrf=csrf_field(chrome),
            )
        user = render('<span class="who">{who}</span>{logout}', who=chrome.who, logout=logout)
    mode = Markup(
        '<span class="pill ro" title="actions are off">read-only</span>' if chrome.read_only else ""
    )
    trail = Markup("")
    if crumbs:
        trail = render(
            '<nav class="crumbs" aria-label="breadcrumbs">{items}</nav>',
            items=join(
                (
                    render('<a href="{href}">{label}</a>', href=href, label=label)
                    if href
                    else render('<span aria-current="page">{label}</span>', label=label)
                )
                for label, href in crumbs
            ),
        )
    message = Markup("")
    if flash:
        message = render(
            '<p class="flash {kind}" role="status">{text}</p>',
            kind="error" if flash_kind == "error" else "ok",
            text=flash,
        )
    return render(
        """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · priomem</title>
<link rel="icon" href="{icon}" type="image/svg+xml">
<link rel="stylesheet" href="{css}">
<script src="{js}" defer></script>
</head>
<body>
<header class="top">
<a class="brand" href="{home}"><span class="logo" aria-hidden="true"></span>priomem</a>
<nav class="main">{nav}</nav>
<span class="spacer"></span>{mode}{user}
</header>
<main>
{trail}{message}{body}
</main>
<footer>priomem memory browser · store: <code>{location}</code></footer>
</body>
</html>
""",
        title=title,
        icon=chrome.link("static", "favicon.svg"),
        css=chrome.link("static", "ui.css", query={"v": chrome.asset_version}),
        js=chrome.link("static", "ui.js", query={"v": chrome.asset_version}),
        home=chrome.link(""),
        nav=_nav(chrome, current),
        mode=mode,
        user=user,
        trail=trail,
        message=message,
        body=body,
        location=chrome.location,
    )


def error_page(
    chrome: Chrome, status: int, title: str, message: str, *, hint: Markup | None = None
) -> Markup:
    """A page for a refused or failed request; ``message`` is shown as text."""
    body = render(
        '<section class="card error-card"><h1>{title}</h1><p class="code">HTTP {status}</p>'
        "<p>{message}</p>{hint}"
        '<p><a href="{home}">Back to the namespaces</a></p></section>',
        title=title,
        status=status,
        message=message,
        hint=hint or Markup(""),
        home=chrome.link(""),
    )
    return layout(chrome, title, body)


def login_page(chrome: Chrome, *, next_path: str, failed: bool) -> Markup:
    """The token form: trades a bearer token for a session cookie."""
    note = Markup("")
    if failed:
        note = Markup('<p class="flash error" role="alert">That token is not known to this server.</p>')
    body = render(
        '<section class="card narrow"><h1>Sign in</h1>'
        "<p>This memory browser is protected by bearer tokens. Paste the token you were given "
        "(from the server's tokens file); it is exchanged for a session cookie and not stored "
        "in the browser.</p>{note}"
        '<form method="post" action="{action}" class="stack">{csrf}'
        '<input type="hidden" name="next" value="{next}">'
        '<label for="token">Token</label>'
        '<input id="token" name="token" type="password" autocomplete="off" required autofocus>'
        '<button type="submit" class="primary">Sign in</button></form></section>',
        note=note,
        action=chrome.link("login"),
        csrf=csrf_field(chrome),
        next=next_path,
    )
    return layout(chrome, "Sign in", body)
