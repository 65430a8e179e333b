"""Limits on what an HTTP client may make the server hold before its request is complete.

uvicorn picks ``httptools`` when it is installed, and then ignores h11's header size
limit; neither parser closes a connection whose headers trickle in forever (uvicorn's
keep-alive timer is cancelled by every byte received). Both HTTP surfaces (``priomem-mcp``
over HTTP and ``priomem ui``) therefore serve with :class:`BoundedH11Protocol`: h11 with
a header size limit, and a deadline for each request's headers that data cannot extend.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["HEADER_TIMEOUT", "MAX_HEADER_BYTES", "BoundedH11Protocol", "uvicorn_limits"]

#: Bytes of request line and headers accepted (h11 answers 400 past this).
MAX_HEADER_BYTES = 64 * 1024
#: Seconds a client has to send a request's line and headers, from connecting or from the
#: end of its previous response.
HEADER_TIMEOUT = 10.0


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a header deadline that trickled bytes do not extend."""

    _header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the request's headers are complete
            self._disarm_header_deadline()
        elif self._header_deadline is None and not self.transport.is_closing():
            # A new request began inside this call (the previous one's response went out
            # before its body ended): its headers get a deadline too. Only ever armed
            # here when none runs, so trickled bytes never push it back.
            self._arm_header_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        self._disarm_header_deadline()
        self._header_deadline = self.loop.call_later(HEADER_TIMEOUT, self._headers_too_slow)

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def uvicorn_limits() -> dict[str, Any]:
    """The ``uvicorn.Config`` arguments that put these limits in force."""
    return {"http": BoundedH11Protocol, "h11_max_incomplete_event_size": MAX_HEADER_BYTES}
