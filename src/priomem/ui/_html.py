"""HTML by string templates, escaped by default.

Everything that reaches a page goes through :func:`esc` unless it is already
:class:`Markup` (HTML this package built itself). :func:`render` escapes every value it
fills into a template, so a memory's content, tags, metadata, a namespace, an error
message or a query echo are always text, never markup. Templates are constants of this
package; nothing a caller sends is ever used as a template.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from urllib.parse import quote, urlencode

__all__ = [
    "Markup",
    "ago",
    "attrs_selected",
    "esc",
    "join",
    "render",
    "stamp",
    "url",
]


class Markup(str):
    """A string of HTML built by this package: :func:`esc` passes it through unchanged."""

    __slots__ = ()


def esc(value: object) -> Markup:
    """``value`` as HTML text: ``& < > " '`` escaped (``Markup`` is returned as it is)."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape("" if value is None else str(value), quote=True))


def render(template: str, /, **values: object) -> Markup:
    """Fill ``{name}`` fields of a constant ``template`` with escaped ``values``."""
    return Markup(template.format(**{key: esc(value) for key, value in values.items()}))


def join(parts: Iterable[object], sep: str = "") -> Markup:
    """Concatenate parts, escaping any that are not already ``Markup``."""
    return Markup(sep.join(esc(part) for part in parts))


def url(base: str, *segments: str, query: Mapping[str, object] | None = None) -> str:
    """A path under ``base`` with each segment percent-encoded, plus a query without empty values."""
    path = base.rstrip("/") + "/" + "/".join(quote(s, safe="") for s in segments)
    pairs = {k: str(v) for k, v in (query or {}).items() if v not in (None, "")}
    return path + ("?" + urlencode(pairs) if pairs else "")


def attrs_selected(flag: bool) -> Markup:
    """`` selected`` when ``flag`` (for an ``<option>``)."""
    return Markup(" selected" if flag else "")


def stamp(value: datetime | None, *, short: bool = False) -> Markup:
    """A UTC time as ``<time>`` (to the second, or the minute when ``short``), ISO in ``datetime``."""
    if value is None:
        return Markup('<span class="muted">never</span>')
    return render(
        '<time datetime="{iso}" title="{iso}">{text}</time>',
        iso=value.isoformat(),
        text=value.strftime("%Y-%m-%d %H:%M" if short else "%Y-%m-%d %H:%M:%S UTC"),
    )


def ago(value: datetime | None, now: datetime) -> str:
    """A short relative form: ``3 h ago``, ``in 29 d``, ``never``."""
    if value is None:
        return "never"
    delta = value - now
    future = delta > timedelta(0)
    seconds = abs(delta.total_seconds())
    for size, unit in ((86400 * 365, "y"), (86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            amount = f"{int(seconds // size)} {unit}"
            break
    else:
        return "just now"
    return f"in {amount}" if future else f"{amount} ago"
