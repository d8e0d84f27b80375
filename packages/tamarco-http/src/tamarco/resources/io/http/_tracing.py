"""Spans of the HTTP server and client, through core's tracing API (:mod:`tamarco.core.tracing`).

Installed only when the service traces (``system.tracing.enabled``): otherwise the server has no
tracing middleware and the client session no trace config, so tracing off costs nothing.

- Server: a SERVER span per routed request, named ``{method} {route template}``
  (``GET /items/<item_id:int>``), child of the caller's ``traceparent``/``tracestate`` when it sent
  one; the handler runs with it as the current span (its log records carry its ids). Attributes
  of OpenTelemetry's HTTP semantic conventions: ``http.request.method``, ``http.route``,
  ``url.path``, ``url.scheme``, ``server.address``, ``server.port``, ``client.address``,
  ``user_agent.original``, ``network.protocol.version``, ``http.response.status_code``; a 5xx is
  an error (``error.type`` the status code, the exception recorded when a handler raised).
- Client: a CLIENT span per request, named ``{method}``, with ``traceparent`` injected into the
  request headers; ``url.full`` has no credentials and no query.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from tamarco.core.tracing import SpanKind, Tracing

if TYPE_CHECKING:
    import aiohttp

__all__ = ["ServerTracing", "client_trace_config"]

_STANDARD_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})
#: Where a request keeps its span and the token that made it current.
SPAN_ATTRIBUTE = "tamarco_span"
_TOKEN_ATTRIBUTE = "tamarco_span_token"


def _method(method: str) -> str:
    return method if method in _STANDARD_METHODS else "_OTHER"


class ServerTracing:
    """The request and response middleware of one server's spans."""

    def __init__(self, tracing: Tracing) -> None:
        self.tracing = tracing

    async def on_request(self, request: Any) -> None:
        method = _method(request.method)
        route = request.route
        attributes: dict[str, Any] = {
            "http.request.method": method,
            "url.path": request.path,
            "url.scheme": request.scheme,
            "network.protocol.version": request.version,
        }
        if route is not None:
            template = f"/{route.path}"
            attributes["http.route"] = template
            name = f"{method} {template}"
        else:
            name = method
        host = request.server_name
        if host:
            attributes["server.address"] = host
            attributes["server.port"] = request.server_port
        client = request.remote_addr or request.ip
        if client:
            attributes["client.address"] = client
        agent = request.headers.get("user-agent")
        if agent:
            attributes["user_agent.original"] = agent
        if method == "_OTHER":
            attributes["http.request.method_original"] = request.method
        span = self.tracing.start_span(name, SpanKind.SERVER, attributes, headers=request.headers)
        setattr(request.ctx, SPAN_ATTRIBUTE, span)
        setattr(request.ctx, _TOKEN_ATTRIBUTE, self.tracing.activate(span))

    async def on_response(self, request: Any, response: Any) -> None:
        ctx = request.ctx
        span = getattr(ctx, SPAN_ATTRIBUTE, None)
        if span is None:
            return  # no route matched: Sanic answered before the request middleware
        setattr(ctx, SPAN_ATTRIBUTE, None)
        status = response.status if response is not None else 500
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            span.set_attribute("error.type", str(status))
            self.tracing.fail(span, f"HTTP {status}")
        self.tracing.deactivate(getattr(ctx, _TOKEN_ATTRIBUTE, None))
        span.end()

    def record_exception(self, request: Any, exception: BaseException) -> None:
        """A handler raised: the exception goes on the request's span (the 5xx follows)."""
        span = getattr(getattr(request, "ctx", None), SPAN_ATTRIBUTE, None)
        if span is not None:
            span.record_exception(exception)


def client_trace_config(tracing: Tracing) -> aiohttp.TraceConfig:
    """An aiohttp trace config making a CLIENT span of each request of a session."""

    async def on_request_start(session: Any, context: SimpleNamespace, params: Any) -> None:
        url = params.url
        method = _method(params.method)
        attributes: dict[str, Any] = {
            "http.request.method": method,
            "url.full": _without_credentials_and_query(str(url)),
        }
        if url.host:
            attributes["server.address"] = url.host
        if url.port:
            attributes["server.port"] = url.port
        span = tracing.start_span(method, SpanKind.CLIENT, attributes)
        tracing.inject(params.headers, span)
        context.tamarco_span = span

    async def on_request_end(session: Any, context: SimpleNamespace, params: Any) -> None:
        span = getattr(context, "tamarco_span", None)
        if span is None:
            return
        status = params.response.status
        span.set_attribute("http.response.status_code", status)
        if status >= 400:
            span.set_attribute("error.type", str(status))
            tracing.fail(span, f"HTTP {status}")
        span.end()

    async def on_request_exception(session: Any, context: SimpleNamespace, params: Any) -> None:
        span = getattr(context, "tamarco_span", None)
        if span is None:
            return
        tracing.fail(span, params.exception)
        span.end()

    import aiohttp  # the client's (a service without an HTTP client never imports it)

    config = aiohttp.TraceConfig()
    config.on_request_start.append(on_request_start)
    config.on_request_end.append(on_request_end)
    config.on_request_exception.append(on_request_exception)
    return config


def _without_credentials_and_query(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
