"""A deadline for reading a request head on :class:`HTTPServerResource`'s connections.

Sanic's ``REQUEST_TIMEOUT`` counts from the last bytes received (every ``data_received``
restarts it), so a client sending one byte every few seconds keeps a connection, and its
memory, forever. Here the request head (request line and headers) must be complete within
``request_timeout_seconds`` of its first byte, however the bytes trickle in: the protocol from
:func:`bounded_protocol` notes when the first bytes of a request arrive, and ends a head that is
too old through Sanic's own request-timeout path (a ``408 Request Timeout``, then
the connection is closed). Sanic checks its timeouts every ``min(timeouts) / 2`` seconds (at
least 0.1 s), so a head gets between 1 and 1.5 times the timeout.

An idle keep-alive connection (no request under way) is closed by Sanic's
``KEEP_ALIVE_TIMEOUT`` (the ``keep_alive_timeout_seconds`` setting); the body of a request is
read by the handler, under Sanic's ``RESPONSE_TIMEOUT``.

The whole request, head and body, must arrive within ``request_deadline_seconds`` of its first
byte (default 60): a body trickled one byte a second is answered ``408`` and the connection
closed, whatever the handler does meanwhile (Sanic's ``Http.request_body`` says whether the body
is still being received).

The first bytes of a request are those a connection receives while Sanic is not reading a head
(``Stage.IDLE``), or while it handles a request whose body was read whole (a pipelined request).
They are noted in ``data_received``, which Sanic calls for every chunk anyway, from the time Sanic
itself just took (``_time``): nothing runs per request in Sanic's request coroutine (an override
of ``Http.http1_request_header`` cost a coroutine frame and a clock read per request, ~3% of the
embedding's instructions, benchmarks/README.md).

A connection that has sent nothing at all is closed after ``first_byte_timeout_seconds``
(default 10), much sooner than an idle keep-alive connection that already made requests.

Beyond ``max_connections`` (default 1000) a new connection gets ``503`` and is closed
(:mod:`._limits`).

Relies on Sanic internals (``Http.stage``, ``Http.request_body``, ``HttpProtocol.data_received``
setting ``_time``, ``HttpProtocol.check_timeouts``, ``connections``, ``_http``, ``_task``, ``_time``):
``tests/unit/test_sanic_contract.py`` names them.
"""

from __future__ import annotations

from time import monotonic
from typing import Any

from sanic.exceptions import RequestTimeout
from sanic.http import Http, Stage
from sanic.server.protocols.http_protocol import HttpProtocol
from tamarco.resources.io.http._limits import ConnectionLimit

__all__ = ["BoundedHttp", "bounded_protocol"]

_IDLE = Stage.IDLE
_REQUEST = Stage.REQUEST


class BoundedHttp(Http):
    """Sanic's HTTP/1 connection handler, as the bounded protocol uses it (the deadlines are
    kept by the protocol; subclasses add per-response work, e.g. the meters)."""

    __slots__ = ()


def bounded_protocol(
    base: type[HttpProtocol],
    *,
    request_deadline: float | None = None,
    first_byte_timeout: float | None = None,
    limit: ConnectionLimit | None = None,
) -> type[HttpProtocol]:
    """``base`` (Sanic's ``HttpProtocol`` or ``WebSocketProtocol``) with the head deadline, the
    whole-request deadline, the first-byte timeout and the connection limit."""

    def connection_made(self: Any, transport: Any) -> None:
        self.tamarco_opened = monotonic()
        self.tamarco_received = False
        self.tamarco_head_since = self.tamarco_request_since = None
        base.connection_made(self, transport)
        if limit is not None and len(self.connections) > limit.maximum:
            limit.refuse(transport, len(self.connections))

    base_data_received = base.data_received

    def data_received(self: Any, data: bytes) -> None:
        # Once per chunk received (once per request on a keep-alive connection): the stages are
        # module globals and Sanic's method is bound here, not looked up on classes each time.
        self.tamarco_received = True
        try:
            http = self._http
        except AttributeError:  # set by the connection's task, maybe not yet running
            http = None
        if http is None or (stage := http.stage) is _IDLE or (stage is not _REQUEST and not http.request_body):
            # The first bytes of a request (see the module doc): Sanic's clock read is ours.
            base_data_received(self, data)
            self.tamarco_head_since = self.tamarco_request_since = self._time
            return
        base_data_received(self, data)

    def check_timeouts(self: Any) -> None:
        now = monotonic()
        http = self._http
        since = getattr(self, "tamarco_head_since", None)
        if since is not None and http is not None and http.stage is Stage.REQUEST:
            if now - since > self.request_timeout:
                self._time = since  # Sanic's own path: "Request Timeout", 408, close
        request_since = getattr(self, "tamarco_request_since", None)
        if (
            request_deadline is not None
            and request_since is not None
            and http is not None
            and http.stage is Stage.HANDLER
            and http.request_body  # still being received
            and now - request_since > request_deadline
            and self._task
        ):
            # The body is still arriving: end it as Sanic ends a slow head (408, then close).
            self.tamarco_request_since = None
            http.exception = RequestTimeout("Request Timeout: the whole request took too long")
            http.keep_alive = False
            http.request_body = None  # Sanic would otherwise read the rest before closing
            self._task.cancel("the request deadline passed")
            return
        if (
            first_byte_timeout is not None
            and not getattr(self, "tamarco_received", True)
            and http is not None
            and http.stage is Stage.IDLE
            and now - self.tamarco_opened > first_byte_timeout
        ):
            self._time = now - self.keep_alive_timeout - 1  # Sanic's keep-alive path closes it
        base.check_timeouts(self)

    namespace: dict[str, Any] = {
        "__slots__": ("tamarco_head_since", "tamarco_request_since", "tamarco_opened", "tamarco_received"),
        "HTTP_CLASS": BoundedHttp,
        "check_timeouts": check_timeouts,
        "connection_made": connection_made,
        "data_received": data_received,
        "__module__": __name__,
    }
    return type(f"Bounded{base.__name__}", (base,), namespace)
