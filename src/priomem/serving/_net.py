"""Where a server may listen: loopback checks, ``Host`` header names, and binding a port.

Both HTTP surfaces (``priomem-mcp --transport http`` and the memory browser) bind their
socket first, before opening the store or starting anything, so a busy port is a clear
error with nothing left running; and both refuse to serve beyond loopback without tokens.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping
from typing import Any

from priomem import InvalidInputError

__all__ = ["LOOPBACK_NAMES", "WILDCARDS", "bind", "host_name", "is_loopback", "refuse_open_bind", "url_host"]

#: The names a ``Host`` header gives a loopback server.
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
#: Bind addresses meaning every interface.
WILDCARDS = ("0.0.0.0", "::", "")


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(host_header: str) -> str:
    """The name part of a ``Host`` header (``[::1]:8766`` -> ``[::1]``, ``a:1`` -> ``a``)."""
    host = host_header.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        return host[: end + 1] if end != -1 else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def url_host(host: str) -> str:
    """``host`` as it appears in a URL (an IPv6 address in brackets)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def refuse_open_bind(host: str, tokens: Mapping[str, Any] | None, *, what: str, flags: str, see: str) -> None:
    """Refuse to serve beyond loopback without tokens: anyone who could reach the address
    could read and delete every memory. ``what`` is served; ``flags`` give tokens; ``see``
    is the README section that explains it."""
    if not tokens and not is_loopback(host):
        raise InvalidInputError(
            f"--host: refusing to serve {what}on {host!r} without bearer tokens, because anyone who "
            "can reach that address could read and delete every memory. Bind to 127.0.0.1, or "
            f"give tokens with {flags} (see the README's '{see}').",
            field="host",
        )


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free one); a clear error when taken."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise InvalidInputError(
            f"--port: cannot listen on {host}:{port} ({exc.strerror or exc}); choose another port with --port.",
            field="port",
        ) from None
    sock.set_inheritable(True)
    return sock
