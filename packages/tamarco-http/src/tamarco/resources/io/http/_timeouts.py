"""A deadline for reading a request head on :class:`HTTPServerResource`'s connections.

Sanic's ``REQUEST_TIMEOUT`` counts from the last bytes received (every ``data_received``
restarts it), so a client sending one byte every few seconds keeps a connection, and its
memory, forever. Here the request head (request line and headers) must be complete within
``request_timeout_seconds`` of its first byte, however the bytes trickle in: :class:`BoundedHttp`
notes when Sanic starts reading a head, and the protocol from :func:`bounded_protocol` ends a
head that is too old through Sanic's own request-timeout path (a ``408 Request Timeout``, then
the connection is closed). Sanic checks its timeouts every ``min(timeouts) / 2`` seconds (at
least 0.1 s), so a head gets between 1 and 1.5 times the timeout.

An idle keep-alive connection (no request under way) is closed by Sanic's
``KEEP_ALIVE_TIMEOUT`` (the ``keep_alive_timeout_seconds`` setting); the body of a request is
read by the handler, under Sanic's ``RESPONSE_TIMEOUT``.

Relies on Sanic internals (``Http.http1_request_header``, ``HttpProtocol.check_timeouts``,
``_http``, ``_time``): ``tests/unit/test_sanic_contract.py`` names them.
"""

from __future__ import annotations

from time import monotonic
from typing import Any

from sanic.http import Http, Stage
from sanic.server.protocols.http_protocol import HttpProtocol

__all__ = ["BoundedHttp", "bounded_protocol"]


class BoundedHttp(Http):
    """Sanic's HTTP/1 connection handler, noting on its protocol when a request head began."""

    __slots__ = ()

    async def http1_request_header(self) -> None:
        protocol: Any = self.protocol
        protocol.tamarco_head_since = monotonic()
        try:
            await super().http1_request_header()
        finally:
            protocol.tamarco_head_since = None


def bounded_protocol(base: type[HttpProtocol]) -> type[HttpProtocol]:
    """``base`` (Sanic's ``HttpProtocol`` or ``WebSocketProtocol``) with the head deadline."""

    def check_timeouts(self: Any) -> None:
        since = getattr(self, "tamarco_head_since", None)
        http = self._http
        if since is not None and http is not None and http.stage is Stage.REQUEST:
            if monotonic() - since > self.request_timeout:
                self._time = since  # Sanic's own path: "Request Timeout", 408, close
        base.check_timeouts(self)

    namespace: dict[str, Any] = {
        "__slots__": ("tamarco_head_since",),
        "HTTP_CLASS": BoundedHttp,
        "check_timeouts": check_timeouts,
        "__module__": __name__,
    }
    return type(f"Bounded{base.__name__}", (base,), namespace)
