"""The report server's HTTP/1.1 server: an asyncio protocol on ``httptools`` (Sanic's parser).

The report server answers a handful of small requests (probes, scrapes, ``/status``) with
whole bodies, so it needs no web framework: ``httptools`` parses the requests (heads, chunked
or sized bodies, keep-alive), this module routes them to core's
:data:`tamarco.core.report_server.RouteHandler` and writes the responses. Importing it costs
well under a millisecond; ``aiohttp.web``, which it replaced, was about a fifth of a service's
start (benchmarks/service_lifecycle.py).

What it does, per connection: requests are answered one at a time in their order (pipelined
ones wait); the connection closes when ``keep_alive_timeout`` passes between its opening (or
its previous response) and the end of its next whole request, when the client asks for it
(``Connection: close``, HTTP/1.0), on a malformed request (400) and on a body over
:data:`MAX_BODY_BYTES` (413). Beyond ``max_connections`` a new connection gets 503 and is
closed (:class:`ConnectionLimit`). :meth:`ReportHTTPServer.close` stops listening, closes idle
connections and gives in-flight requests ``shutdown_timeout`` seconds before closing the rest.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import NamedTuple, cast
from urllib.parse import parse_qsl, unquote

import httptools
from tamarco.core.report_server import ReportRequest, ReportResponse
from tamarco.resources.io.http._limits import ConnectionLimit

__all__ = ["MAX_BODY_BYTES", "ReportHTTPServer"]

#: A request body beyond this gets 413 (aiohttp's ``client_max_size`` default, which it replaced).
MAX_BODY_BYTES = 1024**2
#: Pipelined requests waiting on one connection beyond which it stops reading until they are answered.
_MAX_PENDING = 16
_BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
_TOO_LARGE = b"HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"

Dispatch = Callable[[ReportRequest], Awaitable[ReportResponse]]


class _Parsed(NamedTuple):
    method: str
    url: bytes
    headers: dict[str, str]
    body: bytes
    keep_alive: bool
    #: HTTP/1.0: a kept-alive connection must say so (``Connection: keep-alive``).
    http10: bool


class ReportHTTPServer:
    """Serves ``dispatch(request) -> response`` on one listening socket."""

    def __init__(
        self,
        dispatch: Dispatch,
        logger: logging.Logger,
        keep_alive_timeout: float,
        limit: ConnectionLimit | None = None,
    ) -> None:
        self.dispatch = dispatch
        self.logger = logger
        self.keep_alive_timeout = keep_alive_timeout
        self.limit = limit
        self.connections: set[_Connection] = set()
        self.closing = False
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port`` (0: a free port) and return the port; ``OSError`` if taken."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), host, port)
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self, shutdown_timeout: float) -> None:
        """Stop listening; answer the requests in flight (``shutdown_timeout`` at most), then close."""
        server, self._server = self._server, None
        if server is None:
            return
        self.closing = True
        server.close()
        for connection in list(self.connections):
            connection.close_when_idle()
        busy = [connection.task for connection in self.connections if connection.task is not None]
        if busy:
            await asyncio.wait(busy, timeout=shutdown_timeout)
        for connection in list(self.connections):
            connection.abort()


class _Connection(asyncio.Protocol):
    """One client connection: httptools calls the ``on_*`` methods while it parses."""

    def __init__(self, server: ReportHTTPServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.pending: deque[_Parsed] = deque()
        self.task: asyncio.Task[None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self._url = bytearray()
        self._headers: dict[str, str] = {}
        self._body = bytearray()
        self._refused = False

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        connections = self.server.connections
        connections.add(self)
        limit = self.server.limit
        if limit is not None and len(connections) > limit.maximum:
            self._refused = True
            limit.refuse(transport, len(connections))
            return
        self._arm_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        self._cancel_timer()
        self.transport = None

    def data_received(self, data: bytes) -> None:
        if self._refused or self.transport is None or self.transport.is_closing():
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self._fail(_BAD_REQUEST)
            return
        except httptools.HttpParserUpgrade:  # websockets and the like: not served here
            self._fail(_BAD_REQUEST)
            return
        if self.pending and self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._serve())

    # -- httptools callbacks ------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url.clear()
        self._headers = {}
        self._body.clear()

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        known = self._headers.get(key)
        self._headers[key] = text if known is None else f"{known}, {text}"

    def on_headers_complete(self) -> None:
        length = self._headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            self._fail(_TOO_LARGE)
        elif self._headers.get("expect", "").lower() == "100-continue" and self.transport is not None:
            self.transport.write(_CONTINUE)

    def on_body(self, body: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self._body += body
        if len(self._body) > MAX_BODY_BYTES:
            self._fail(_TOO_LARGE)

    def on_message_complete(self) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self._cancel_timer()
        method = self.parser.get_method().decode("ascii")
        keep_alive = self.parser.should_keep_alive()
        http10 = self.parser.get_http_version() == "1.0"
        self.pending.append(_Parsed(method, bytes(self._url), self._headers, bytes(self._body), keep_alive, http10))
        if len(self.pending) >= _MAX_PENDING:
            self.transport.pause_reading()

    # -- serving ------------------------------------------------------------------------------

    async def _serve(self) -> None:
        try:
            while self.pending and self.transport is not None and not self.transport.is_closing():
                parsed = self.pending.popleft()
                if len(self.pending) == _MAX_PENDING - 1:
                    self.transport.resume_reading()
                response = await self._answer(parsed)
                transport = self.transport
                if transport is None or transport.is_closing():
                    return
                keep_alive = parsed.keep_alive and not self.server.closing
                head = parsed.method == "HEAD"
                connection = "close" if not keep_alive else "keep-alive" if parsed.http10 else None
                try:
                    data = _encode(response, connection, head)
                except ValueError:
                    self.server.logger.exception("report server: %s: invalid response", parsed.method)
                    data = _encode(ReportResponse("500: Internal Server Error", 500), connection, head)
                transport.write(data)
                if not keep_alive:
                    transport.close()
                    return
            self._arm_timer()
        finally:
            self.task = None

    async def _answer(self, parsed: _Parsed) -> ReportResponse:
        try:
            url = httptools.parse_url(parsed.url)
        except httptools.HttpParserInvalidURLError:
            return ReportResponse("400: Bad Request", 400)
        path = unquote(url.path.decode("latin-1")) if url.path else "/"
        query: dict[str, str] = {}
        if url.query:
            for name, value in parse_qsl(url.query.decode("latin-1"), keep_blank_values=True):
                query.setdefault(name, value)
        request = ReportRequest(parsed.method, path, query, parsed.headers, parsed.body)
        try:
            return await self.server.dispatch(request)
        except Exception:
            self.server.logger.exception("report server: %s %s failed", parsed.method, path)
            return ReportResponse("500: Internal Server Error", 500)

    def close_when_idle(self) -> None:
        """The server is closing: close now if no request is being answered (else after it)."""
        if self.task is None and self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.task is not None:
            self.task.cancel()
        if self.transport is not None:
            self.transport.abort()

    def _fail(self, answer: bytes) -> None:
        self.pending.clear()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(answer)
            self.transport.close()

    def _arm_timer(self) -> None:
        self._cancel_timer()
        if self.transport is not None and not self.transport.is_closing():
            loop = asyncio.get_running_loop()
            self.timer = loop.call_later(self.server.keep_alive_timeout, self._timed_out)

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _timed_out(self) -> None:
        self.timer = None
        if self.task is None and self.transport is not None:
            self.transport.close()


def _encode(response: ReportResponse, connection: str | None, head: bool) -> bytes:
    """The response's bytes: status line, headers, body (none for HEAD, 1xx, 204, 304)."""
    status = response.status
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = ""
    lines = [f"HTTP/1.1 {status} {reason}", f"Date: {_http_date()}"]
    bodiless = status < 200 or status in (204, 304)
    if not bodiless:
        lines.append(f"Content-Type: {response.content_type}")
        lines.append(f"Content-Length: {len(response.body)}")
    for name, value in response.headers.items():
        if name.lower() in ("content-length", "content-type", "connection", "transfer-encoding"):
            continue
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
            raise ValueError(f"report server: header {name!r} holds a line break")
        lines.append(f"{name}: {value}")
    if connection is not None:
        lines.append(f"Connection: {connection}")
    head_bytes = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    if bodiless or head:
        return head_bytes
    return head_bytes + response.body


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_date_cache: list[object] = [-1, ""]


def _http_date() -> str:
    """The ``Date`` header's value (RFC 9110 IMF-fixdate), formatted once per second."""
    now = int(time.time())
    if _date_cache[0] != now:
        t = time.gmtime(now)
        _date_cache[:] = [
            now,
            f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT",
        ]
    return str(_date_cache[1])
