"""The report server: the small HTTP server where metrics and status publish their endpoints.

Every Microservice gets it as the default resource ``tamarco_http_report_server`` (entry point
of tamarco-http). It implements core's :class:`tamarco.core.report_server.ReportServer`
contract: other resources (metrics, status, the debug resources) declare
``depends_on = (ReportServer,)``, find it with :func:`tamarco.core.report_server.find_report_server`
and call :meth:`ReportServerResource.add_route` in their ``pre_start``; none of them names it.

It is a small HTTP/1.1 server on ``httptools`` (``_report_http.py``) rather than a second Sanic
app or ``aiohttp.web``: its handlers take and return core's framework-neutral
:class:`~tamarco.core.report_server.ReportRequest` and
:class:`~tamarco.core.report_server.ReportResponse`, so the plugins that serve endpoints need
no HTTP library; a Sanic app brings process-global concerns (names, touchup, listeners), and
importing ``aiohttp.web`` was about a fifth of a service's start.

Settings (``system.resources.tamarco_http_report_server``): ``host`` (default 127.0.0.1),
``port`` (default 5747; 0 = a free port), ``shutdown_timeout`` (seconds, default 5),
``keep_alive_timeout_seconds`` (default 15: how long a connection may wait for its next whole
request, from its opening or the previous response; bounds idle connections and slow clients
alike, with one timer for both), ``max_connections`` (default 100: beyond it a
new connection gets 503 and is closed), ``bearer_token`` (when set, every endpoint but
``/health/*`` and ``/metrics`` needs ``Authorization: Bearer <token>``), ``protect_metrics``
(``true``: ``/metrics`` needs it too) and ``asyncapi`` (default true: the service's AsyncAPI
document at ``/asyncapi.json``, ``/asyncapi.yaml`` and the page ``/asyncapi``).

It closes last: ``stop()`` only marks it STOPPING and it keeps serving until ``post_stop``, which
runs once every resource has stopped. So while the service drains (the HTTP server finishing
its requests), ``/health/ready`` keeps answering 503 and Kubernetes stops routing to the pod
before its health endpoints disappear.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any, ClassVar

from tamarco.core.report_server import ReportRequest, ReportResponse, ReportServer, RouteHandler
from tamarco.resources.bases import BaseResource, StatusCodes
from tamarco.resources.io.http import _settings
from tamarco.resources.io.http._asyncapi_routes import asyncapi_routes
from tamarco.resources.io.http._errors import HTTPResourceError, HTTPSettingsError, RoutesFrozenError, ServerBindError
from tamarco.resources.io.http._limits import ConnectionLimit
from tamarco.resources.io.http._report_http import ReportHTTPServer

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "ReportServerResource", "ReportServerRouteHandler"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5747
DEFAULT_KEEP_ALIVE_TIMEOUT = 15.0
#: Open connections beyond which a new one gets 503 and is closed (scrapers and probes need few).
DEFAULT_MAX_CONNECTIONS = 100
#: The 0.1 documentation showed the report server's settings nested under ``metrics``.
_MISPLACED_KEY = "system.resources.metrics.tamarco_http_report_server"

#: ``handler(ReportRequest) -> ReportResponse`` (core's :data:`~tamarco.core.report_server.RouteHandler`).
ReportServerRouteHandler = RouteHandler


class ReportServerResource(BaseResource):
    """A small HTTP server for the framework's own endpoints (``/metrics``, ``/status``).

    ``GET /`` lists the mounted routes (unless a resource mounts its own ``/``). A ``GET`` route
    answers ``HEAD`` too (without the body); an unknown path gets 404, a known path with
    another method 405 (with ``Allow``), a handler's exception 500 (logged).
    """

    #: The keys of its settings; another one is an error naming it (a subclass may add its own).
    settings_keys: ClassVar[tuple[str, ...]] = _settings.REPORT_SERVER_KEYS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._routes: dict[tuple[str, str], ReportServerRouteHandler] = {}
        self._added_this_cycle: set[tuple[str, str]] = set()
        self._runner: ReportHTTPServer | None = None
        #: Stopped but still serving, until ``post_stop`` (or the next start) closes it.
        self._closing: ReportHTTPServer | None = None
        self._shutdown_timeout = 5.0
        self.host: str | None = None
        self.port: int | None = None

    def add_route(self, method: str, path: str, handler: ReportServerRouteHandler) -> None:
        """Serve ``handler(request: ReportRequest) -> ReportResponse`` for ``method path``
        (a ``{name}`` segment matches any one segment: ``request.match_info["name"]``).

        Call it before the report server starts (in ``pre_start`` of a resource that depends on
        it). Registering a route again in a later start cycle (the service restarted and
        ``pre_start`` ran again) replaces it; two different handlers for one method and path
        in the same cycle are an error naming both.
        """
        if self._runner is not None:
            raise RoutesFrozenError(
                f"report server {self.name!r} is already started: add route {method} {path} "
                "in pre_start of a resource that depends on it (depends_on = (ReportServer,))"
            )
        if not path.startswith("/"):
            raise ValueError(f"report server route path must start with '/', got {path!r}")
        key = (method.upper(), path)
        known = self._routes.get(key)
        if known is not None and key in self._added_this_cycle and known != handler:
            raise ValueError(f"report server route {key[0]} {path} is already served by {known!r}")
        self._routes[key] = handler
        self._added_this_cycle.add(key)

    @property
    def routes(self) -> list[tuple[str, str]]:
        """The ``(method, path)`` pairs mounted so far."""
        return list(self._routes)

    @property
    def url(self) -> str | None:
        """``http://host:port`` once started, else None."""
        return _settings.http_url(self.host, self.port)

    def _read_settings(self) -> dict[str, Any]:
        """Every setting the report server reads, checked: all the wrong ones reported together."""
        view = self.settings
        if view is None:
            raise HTTPResourceError(
                "ReportServerResource has no settings: it is started by a Microservice as the "
                "default resource tamarco_http_report_server"
            )
        return _settings.read_all(
            view,
            {
                "address": lambda: self._address(view),
                "known": lambda: _settings.check_known(view, self.settings_keys),
                "shutdown_timeout": lambda: _settings.read_positive(view, "shutdown_timeout", 5.0) or 5.0,
                "keep_alive_timeout": lambda: _settings.read_positive_first(
                    view, ("keep_alive_timeout_seconds",), DEFAULT_KEEP_ALIVE_TIMEOUT
                ),
                "asyncapi": lambda: _settings.read(view, "asyncapi", True, bool),
                "guard": lambda: _bearer_guard(view),
                "max_connections": lambda: _settings.read_positive(view, "max_connections", DEFAULT_MAX_CONNECTIONS),
            },
        )

    async def check_settings(self) -> None:
        self._read_settings()

    async def start(self) -> None:
        read = self._read_settings()
        view = self.settings
        assert view is not None  # _read_settings refused none
        host, port, misplaced = read["address"]
        if misplaced:
            self.logger.warning(
                "the report server settings are under %s (as in the 0.1 docs): move them to %s",
                _MISPLACED_KEY,
                view.prefix,
            )
        await self._close()  # still serving after a stop without post_stop (a restart)
        self._shutdown_timeout = read["shutdown_timeout"]
        routes = dict(self._routes)
        if ("GET", "/") not in routes:
            routes["GET", "/"] = self._index
        if self.microservice is not None and read["asyncapi"]:
            routes.update(asyncapi_routes(self.microservice, set(routes)))
        guard, open_prefixes = read["guard"] or (None, ())
        if guard is not None:
            self.logger.info(
                "report server: every endpoint but %s needs 'Authorization: Bearer <%s>'",
                " and ".join(f"{prefix}*" if prefix.endswith("/") else prefix for prefix in open_prefixes),
                view.full_key("bearer_token"),
            )
        router = _Router(routes, guard)
        max_connections = read["max_connections"]
        limit = None
        if max_connections is not None:
            limit = ConnectionLimit(f"report server {self.name}", int(max_connections), self.logger)
        server = ReportHTTPServer(router.dispatch, self.logger, read["keep_alive_timeout"], limit)
        self.set_status(StatusCodes.CONNECTING)
        try:
            bound_port = await server.start(host, port)
        except OSError as error:
            bind_error = ServerBindError(str(self.name), host, port, error, view.full_key("port"))
            self.set_status(StatusCodes.FAILED, bind_error)
            raise bind_error from error
        self._runner = server
        self._added_this_cycle.clear()
        self.host = host
        self.port = bound_port
        self.logger.info("report server listening on %s", self.url)
        await super().start()

    async def stop(self) -> None:
        """STOPPING, still serving: the endpoints answer (readiness 503) while the rest stops."""
        runner, self._runner = self._runner, None
        if runner is None:
            await super().stop()
            return
        self._closing = runner
        self.set_status(StatusCodes.STOPPING)

    async def post_stop(self) -> None:
        """Every resource stopped: close the server (draining its requests), STOPPED."""
        if self._closing is not None:
            await self._close()
            await super().stop()
        await super().post_stop()

    async def _close(self) -> None:
        server, self._closing = self._closing, None
        if server is not None:
            await server.close(self._shutdown_timeout)
            self.logger.info("report server on %s closed", self.url)

    async def status(self) -> dict[str, Any]:
        info = await super().status()
        info["url"] = self.url
        return info

    def _address(self, view: Any) -> tuple[str, int, bool]:
        """``(host, port, misplaced)``: misplaced when read from under ``metrics`` (0.1 docs);
        :meth:`start` says so (the settings check reads it too, silently)."""
        misplaced = view.get_nowait(_MISPLACED_KEY, None, raw=True)
        if isinstance(misplaced, dict) and view.get_nowait(None, None) is None:
            host = view.get_nowait(f"{_MISPLACED_KEY}.host", DEFAULT_HOST, raw=True, expect=str)
            port = view.get_nowait(f"{_MISPLACED_KEY}.port", DEFAULT_PORT, raw=True, expect=int)
            return host, port, True
        return _settings.read(view, "host", DEFAULT_HOST, str), _settings.read_port(view, "port", DEFAULT_PORT), False

    async def _index(self, request: ReportRequest) -> ReportResponse:
        return ReportResponse.json({"routes": [f"{method} {path}" for method, path in self.routes]})


Guard = Callable[[ReportRequest], "ReportResponse | None"]


class _Router:
    """``(method, path)`` to handler; ``{name}`` segments match one segment each."""

    def __init__(self, routes: dict[tuple[str, str], RouteHandler], guard: Guard | None) -> None:
        self.exact: dict[str, dict[str, RouteHandler]] = {}
        self.patterns: list[tuple[tuple[str, ...], dict[str, RouteHandler]]] = []
        for (method, path), handler in routes.items():
            if "{" in path:
                segments = tuple(path.split("/"))
                for known, handlers in self.patterns:
                    if known == segments:
                        handlers[method] = handler
                        break
                else:
                    self.patterns.append((segments, {method: handler}))
            else:
                self.exact.setdefault(path, {})[method] = handler
        self.guard = guard

    async def dispatch(self, request: ReportRequest) -> ReportResponse:
        if self.guard is not None and (refused := self.guard(request)) is not None:
            return refused
        handlers = self.exact.get(request.path)
        if handlers is None:
            handlers = self._match(request)
        if handlers is None:
            return ReportResponse("404: Not Found", 404)
        handler = handlers.get(request.method)
        if handler is None and request.method == "HEAD":
            handler = handlers.get("GET")
        if handler is None:
            allowed = ",".join(sorted(handlers))
            return ReportResponse("405: Method Not Allowed", 405, headers={"Allow": allowed})
        return await handler(request)

    def _match(self, request: ReportRequest) -> dict[str, RouteHandler] | None:
        given = request.path.split("/")
        for segments, handlers in self.patterns:
            if len(segments) != len(given):
                continue
            found: dict[str, str] = {}
            for pattern, value in zip(segments, given, strict=True):
                if pattern.startswith("{") and pattern.endswith("}") and value:
                    found[pattern[1:-1]] = value
                elif pattern != value:
                    break
            else:
                request.match_info = found
                return handlers
        return None


def _bearer_guard(view: Any) -> tuple[Guard, tuple[str, ...]] | None:
    """The bearer-token check (``bearer_token``) and the path prefixes it leaves open, or None
    when no token is set.

    ``/health/*`` stays open for probes; ``/metrics`` needs the token only with
    ``protect_metrics: true`` (a Prometheus job can send it with ``authorization``).
    """
    token = view.get_nowait("bearer_token", None)
    if token is None:
        return None
    if not isinstance(token, str) or len(token) < 16:
        raise HTTPSettingsError(view.full_key("bearer_token"), "must be a string of at least 16 characters")
    protect_metrics = _settings.read(view, "protect_metrics", False, bool)
    expected = f"Bearer {token}".encode()
    open_prefixes = ("/health/",) if protect_metrics else ("/health/", "/metrics")

    def guard(request: ReportRequest) -> ReportResponse | None:
        if request.path.startswith(open_prefixes):
            return None
        given = (request.headers.get("authorization") or "").encode("latin-1", "replace")
        if hmac.compare_digest(given, expected):
            return None
        return ReportResponse.json(
            {"error": "a bearer token is required"}, status=401, headers={"WWW-Authenticate": "Bearer"}
        )

    return guard, open_prefixes


# The contract, checked by mypy: the report server is what core's ReportServer describes.
_implements: type[ReportServer] = ReportServerResource
