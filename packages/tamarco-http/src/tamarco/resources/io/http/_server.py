"""HTTPServerResource: a Sanic application served inside the microservice's event loop.

Sanic never takes over the process here: no ``app.run``, no worker processes, no signal
handlers (the microservice owns SIGTERM). The resource binds the listening socket itself, so
port 0 gives a free port and a port in use is reported before anything else happens, then
drives Sanic's lifecycle by hand:

start
    bind the socket → ``create_server(sock=..., start_serving=False)`` → ``startup`` (first
    start only) → ``before_server_start`` listeners → start accepting →
    ``after_server_start`` listeners → STARTED.
stop
    STOPPING → ``before_server_stop`` listeners → stop accepting → let in-flight requests
    finish (idle keep-alive connections are closed as soon as they are idle) until
    ``graceful_shutdown_timeout`` → abort what is left → ``after_server_stop`` → STOPPED.

The same resource can be started again afterwards (a restart policy, a test). Every instance
gets its own Sanic app with a unique name, so many servers live in one process; Sanic's
touchup optimisation stays on for all of them, and an app is in Sanic's process-wide app
registry only while its server runs, so a server that is gone is garbage-collected with its
app (see ``_touchup``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import socket
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from sanic import Sanic
from sanic.errorpages import exception_response
from sanic.exceptions import NotFound, RequestCancelled, SanicException
from sanic.handlers import ErrorHandler
from sanic.log import error_logger
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.server.async_server import AsyncioServer
from sanic.server.protocols.http_protocol import HttpProtocol
from sanic.server.protocols.websocket_protocol import WebSocketProtocol
from tamarco.core import tracing
from tamarco.resources.bases import BaseResource, StatusCodes
from tamarco.resources.io.http import _access_log, _openapi, _settings, _touchup, _typed_routes
from tamarco.resources.io.http._cache import HTTPCacheMiddleware
from tamarco.resources.io.http._errors import HTTPResourceError, ServerBindError
from tamarco.resources.io.http._limits import ConnectionLimit
from tamarco.resources.io.http._meters import RequestMeters, metered_protocol, request_meters
from tamarco.resources.io.http._settings import (
    DEFAULT_FIRST_BYTE_TIMEOUT,
    DEFAULT_REQUEST_DEADLINE,
)
from tamarco.resources.io.http._timeouts import bounded_protocol
from tamarco.resources.io.http._tracing import ServerTracing

if TYPE_CHECKING:
    from tamarco.core.contracts._schemas import SchemaRegistry

__all__ = ["HTTPServerResource"]

_app_numbers = itertools.count(1)
_DRAIN_POLL_SECONDS = 0.02
#: The status a request gets when its client disconnected before the response (nginx's
#: "client closed request"): counted apart from the server's own errors (5xx).
CLIENT_CLOSED_REQUEST = 499

logger = logging.getLogger("tamarco.http")
_ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


async def _not_found(request: Request) -> HTTPResponse:
    """The only route of a server started without routes: every path answers 404."""
    raise NotFound(f"Requested URL {request.path} not found")


class _ProductionWarningFilter(logging.Filter):
    """Drops Sanic's "running in PRODUCTION mode, consider --debug" hint (about ``sanic`` CLI
    flags that do not apply here), logged at each start when stdout is a terminal."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "running in PRODUCTION mode" not in str(record.msg)


@contextlib.contextmanager
def _without_production_warning() -> Iterator[None]:
    log_filter = _ProductionWarningFilter()
    error_logger.addFilter(log_filter)
    try:
        yield
    finally:
        error_logger.removeFilter(log_filter)


class _ErrorHandler(ErrorHandler):
    """Sanic's error handler, minus tracebacks in bodies: those go to the log only.

    Handler errors become a bare 500 whatever the ``debug`` setting, since a traceback or an
    exception message can reveal secrets. Sanic's own 4xx (404, 405, 400...) are unchanged. A
    client that disconnected mid-request (Sanic cancels the handler with ``RequestCancelled``)
    is no server error: it is logged at debug level and recorded as :data:`CLIENT_CLOSED_REQUEST`
    (nothing is sent: the connection is gone).
    """

    def __init__(self, resource: HTTPServerResource) -> None:
        super().__init__()
        self.resource = resource

    def default(self, request: Request, exception: Exception) -> HTTPResponse:
        self.log(request, exception)
        if self.resource.tracing is not None:
            self.resource.tracing.record_exception(request, exception)
        if isinstance(exception, RequestCancelled):
            return HTTPResponse(status=CLIENT_CLOSED_REQUEST)
        return exception_response(
            request,
            exception,
            debug=False,
            base=self.base,
            fallback=request.app.config.FALLBACK_ERROR_FORMAT,
        )

    def log(self, request: Request, exception: Exception) -> None:  # type: ignore[override]
        resource_logger = self.resource.logger
        if isinstance(exception, RequestCancelled):
            resource_logger.debug("%s %s: the client disconnected before the response", request.method, request.path)
            return
        if isinstance(exception, SanicException) and exception.status_code < 500:
            if request.app.config.NOISY_EXCEPTIONS:
                resource_logger.info("%s %s: %s", request.method, request.path, exception)
            return
        resource_logger.error(
            "%s %s: unhandled %s in the handler",
            request.method,
            request.path,
            type(exception).__name__,
            exc_info=exception,
        )


class HTTPServerResource(BaseResource):
    """An HTTP server (Sanic) that starts and stops with the microservice.

    Routes go on :attr:`app` (``@ms.http_server.app.route("/")``, blueprints...) or through
    :meth:`add_endpoint`. Settings are read at each start from ``system.resources.<name>``:
    ``host`` (default 127.0.0.1), ``port`` (required; 0 = a free port), ``debug``,
    ``keep_alive``, ``keep_alive_timeout_seconds``, ``request_timeout_seconds``,
    ``request_deadline_seconds``, ``first_byte_timeout_seconds``, ``max_connections``, ``access_log``, ``backlog``,
    ``graceful_shutdown_timeout``, ``metrics`` and ``cache.{enabled,maxsize,ttl,header_keys}``
    (see docs/http.md). After start, :attr:`host`, :attr:`port` and :attr:`url` say where it
    listens.
    """

    #: ``sanic.access`` carries the access log (``access_log: true``) and ``sanic.error``
    #: Sanic's own errors: both are configured like the service's loggers.
    loggers_names = ("tamarco.http", _access_log.ACCESS_LOGGER, "sanic.error")
    #: Sanic's other loggers: through the service's outputs, warnings and errors only.
    library_loggers = {"sanic.root": logging.WARNING, "sanic.server": logging.WARNING}

    #: Applied without a restart when they change (etcd, ``settings.set``): new connections
    #: log accesses or not, the next request exception is logged by the new ``debug``.
    live_settings = ("access_log", "debug")
    #: The keys of its settings; another one is an error naming it (a subclass may add its own).
    settings_keys: ClassVar[tuple[str, ...]] = _settings.SERVER_KEYS

    def __init__(self, *args: Any, app_name: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        name = app_name or f"tamarco_http_{os.getpid()}_{next(_app_numbers)}"
        #: The Sanic application: add routes, blueprints, listeners, middleware to it.
        self.app = Sanic(name, configure_logging=False, error_handler=_ErrorHandler(self))
        _touchup.adopt(self.app, self)  # in Sanic's app registry only while it serves
        self.app.config.MOTD = False
        self.logger = logger
        self.host: str | None = None
        self.port: int | None = None
        self.cache: HTTPCacheMiddleware | None = None
        self.meters: RequestMeters | None = None
        #: The request spans, when the service traces (see ``_tracing``).
        self.tracing: ServerTracing | None = None
        self._server: AsyncioServer | None = None
        self._socket: socket.socket | None = None
        self._drain_timeout = 15.0
        self._request_deadline: float | None = DEFAULT_REQUEST_DEADLINE
        self._first_byte_timeout: float | None = DEFAULT_FIRST_BYTE_TIMEOUT
        self._limit: ConnectionLimit | None = None
        self._installed_middleware: set[str] = set()
        #: Whether ``/openapi.json`` and ``/docs`` answer (setting ``openapi``, read at each start).
        self.openapi_enabled = False
        self._openapi_mounted = False

    # -- routes ---------------------------------------------------------------------------

    def add_endpoint(
        self,
        uri: str,
        endpoint_handler: Callable[..., Any],
        methods: Iterable[str] = ("GET",),
        **route_kwargs: Any,
    ) -> None:
        """Serve ``endpoint_handler(request, ...)`` at ``uri`` (Sanic route syntax).

        Works before the start and while the server runs (the router is rebuilt).
        """
        with self.app.amend():
            self.app.add_route(endpoint_handler, uri, methods=frozenset(methods), **route_kwargs)
        if self.app.state.is_started:
            _touchup.after_startup(self.app)

    def openapi_paths(self, schemas: SchemaRegistry) -> dict[str, Any]:
        """The OpenAPI ``paths`` of the app's routes (:class:`tamarco.core.contracts.DescribesOpenAPI`);
        the running server serves the document at ``/openapi.json`` and ``/docs``."""
        return _openapi.openapi_paths(self.app, schemas)

    @property
    def url(self) -> str | None:
        """``http://host:port`` once started, else None."""
        return _settings.http_url(self.host, self.port)

    # -- lifecycle ------------------------------------------------------------------------

    async def check_settings(self) -> None:
        _settings.read_server(self._settings_view(), self.settings_keys)

    async def start(self) -> None:
        """Bind, run the startup listeners, accept connections; STARTED when listening."""
        read = _settings.read_server(self._settings_view(), self.settings_keys)
        host, port, backlog, access_log = read["host"], read["port"], read["backlog"], read["access_log"]
        if access_log:
            _access_log.install()
        config = self.app.config
        config.KEEP_ALIVE = read["keep_alive"]
        config.KEEP_ALIVE_TIMEOUT = read["keep_alive_timeout"]
        config.REQUEST_TIMEOUT = read["request_timeout"]
        self._request_deadline = read["request_deadline"]
        self._first_byte_timeout = read["first_byte_timeout"]
        max_connections = read["max_connections"]
        self._limit = (
            None
            if max_connections is None
            else ConnectionLimit(f"HTTP server {self.name}", int(max_connections), self.logger)
        )
        config.NOISY_EXCEPTIONS = read["debug"]
        self._drain_timeout = read["drain_timeout"]
        self._configure_tracing()
        self._configure_cache(read["cache"])
        self._configure_meters(read["metrics"])
        if not self.app.router.routes:
            self.logger.warning(
                "HTTP server %s has no routes: it will answer 404 to every request; add one with "
                "@%s.app.route(...) or add_endpoint() before the service starts",
                self.name,
                self.name,
            )
            self.app.add_route(_not_found, "/", methods=_ALL_METHODS, name="tamarco_no_routes")
        _typed_routes.type_route_handlers(self.app)
        self.openapi_enabled = read["openapi"]
        if self.openapi_enabled and not self._openapi_mounted:
            with self.app.amend():
                _openapi.add_openapi_routes(self.app, self)
            if self.app.state.is_started:  # switched on after a start without it (a restart)
                _touchup.after_startup(self.app)
            self._openapi_mounted = True

        if self._server is not None:
            raise HTTPResourceError(f"HTTP server {self.name!r} is already started on {self.url}")
        self.set_status(StatusCodes.CONNECTING)
        sock = self._bind(host, port)
        server: AsyncioServer | None = None
        try:
            _touchup.running(self.app)
            with _without_production_warning():
                server = await self.app.create_server(
                    sock=sock,
                    backlog=backlog,
                    access_log=access_log,
                    protocol=self._protocol(),
                    asyncio_server_kwargs={"start_serving": False},
                )
            if server is None:  # pragma: no cover - Sanic returns None only without return_asyncio_server
                raise HTTPResourceError(f"resource {self.name!r}: Sanic did not create a server")
            if server.server is None:  # older Sanic returns the server before creating it
                await server
            if not self.app.state.is_started:
                _touchup.prepare_first_startup(self.app)
                with _touchup.http1_only(self.app, int(sock.getsockname()[1])):
                    await server.startup()
                _touchup.after_startup(self.app)
            await server.before_start()
            await server.start_serving()
        except BaseException as error:
            if server is not None and server.server is not None:
                server.server.close()
            sock.close()
            _touchup.stopped(self.app)
            self.set_status(StatusCodes.FAILED, error if isinstance(error, Exception) else None)
            raise
        self._server, self._socket = server, sock
        self.host, self.port = host, int(sock.getsockname()[1])
        await server.after_start()
        self.logger.info("HTTP server %s listening on %s", self.name, self.url)
        await super().start()

    async def stop(self) -> None:
        """Stop accepting, drain in-flight requests (up to the grace period), then close."""
        server = self._server
        if server is None:
            await super().stop()
            return
        self.set_status(StatusCodes.STOPPING)
        try:
            await server.before_stop()
        except Exception:
            self.logger.exception("HTTP server %s: a before_server_stop listener failed", self.name)
        if server.server is not None:
            server.server.close()
        left = await self._drain(server, self._drain_timeout)
        if left:
            self.logger.warning(
                "HTTP server %s: %d connection(s) still busy after %g s, aborting them",
                self.name,
                left,
                self._drain_timeout,
            )
            for connection in list(server.connections):
                if connection.transport is not None:
                    connection.transport.abort()
        if server.server is not None:
            try:
                await asyncio.wait_for(server.server.wait_closed(), timeout=1.0)
            except TimeoutError:
                self.logger.warning("HTTP server %s: the listening socket did not close in 1 s", self.name)
        try:
            await server.after_stop()
        except Exception:
            self.logger.exception("HTTP server %s: an after_server_stop listener failed", self.name)
        self._server = None
        _touchup.stopped(self.app)
        if self.meters is not None:
            self.meters.close()  # apply the last durations; the next start makes new meters
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        self.logger.info("HTTP server %s stopped", self.name)
        await super().stop()

    async def apply_settings(self, changes: dict[str, Any]) -> None:
        """Apply changed ``access_log`` / ``debug`` live (``None``: the key was deleted)."""
        view = self._settings_view()
        for key in changes:
            if key == "access_log":
                access_log = bool(_settings.read(view, "access_log", False, bool))
                if access_log:
                    _access_log.install()
                self.app.config.ACCESS_LOG = access_log
            elif key == "debug":
                self.app.config.NOISY_EXCEPTIONS = bool(_settings.read(view, "debug", False, bool))

    async def status(self) -> dict[str, Any]:
        info = await super().status()
        info["url"] = self.url
        if self._server is not None:
            info["connections"] = len(self._server.connections)
        if self.cache is not None:
            info["cache"] = self.cache.statistics()
        return info

    # -- helpers --------------------------------------------------------------------------

    def _settings_view(self) -> Any:
        if self.settings is None:
            raise HTTPResourceError(
                f"{type(self).__name__} {self.app.name} has no settings: declare it as a class "
                "attribute of a Microservice (or MicroserviceContext) and start the service"
            )
        return self.settings

    def _bind(self, host: str, port: int) -> socket.socket:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.setblocking(False)
        except OSError as error:
            sock.close()
            bind_error = ServerBindError(str(self.name), host, port, error, self._settings_view().full_key("port"))
            self.set_status(StatusCodes.FAILED, bind_error)
            raise bind_error from error
        return sock

    async def _drain(self, server: AsyncioServer, timeout: float) -> int:
        """Close connections as they become idle; the number still open at the deadline."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for connection in list(server.connections):
                connection.close_if_idle()
            if not server.connections or loop.time() >= deadline:
                return len(server.connections)
            await asyncio.sleep(_DRAIN_POLL_SECONDS)

    def _configure_cache(self, cache: tuple[int, float, list[str]] | None) -> None:
        """The response cache from ``(maxsize, ttl, header_keys)`` (:func:`_settings.read_cache`), or none."""
        if cache is None:
            self.cache = None
            return
        maxsize, ttl, header_keys = cache
        self.cache = HTTPCacheMiddleware(maxsize=maxsize, ttl=ttl, header_keys=header_keys)
        self._install_middleware("cache", self._cache_on_request, self._cache_on_response)

    def _configure_tracing(self) -> None:
        service_tracing = tracing.of(self.microservice)
        self.tracing = ServerTracing(service_tracing) if service_tracing.enabled else None
        if self.tracing is not None:
            self._install_middleware("tracing", self._tracing_on_request, self._tracing_on_response)

    def _configure_meters(self, enabled: bool) -> None:
        if self.meters is not None:  # left by a start that failed
            self.meters.close()
        self.meters = None
        if enabled:
            self.meters = request_meters(str(self.name))

    def _protocol(self) -> type[HttpProtocol]:
        """Sanic's protocol with the request head deadline, recording the meters when they are on."""
        base = bounded_protocol(
            WebSocketProtocol if self.app.websocket_enabled else HttpProtocol,
            request_deadline=self._request_deadline,
            first_byte_timeout=self._first_byte_timeout,
            limit=self._limit,
        )
        if self.meters is None:
            return base
        return metered_protocol(base, self.meters)

    def _install_middleware(self, kind: str, on_request: Any, on_response: Any) -> None:
        if kind in self._installed_middleware:
            return
        with self.app.amend():
            self.app.register_middleware(on_request, "request")
            self.app.register_middleware(on_response, "response")
        if self.app.state.is_started:
            _touchup.after_startup(self.app)
        self._installed_middleware.add(kind)

    # The installed middleware stays for the app's lifetime; it looks the feature up at each
    # request so that a restart with the feature turned off turns it off.

    async def _tracing_on_request(self, request: Request) -> None:
        server_tracing = self.tracing
        if server_tracing is not None:
            await server_tracing.on_request(request)

    async def _tracing_on_response(self, request: Request, response: Any) -> None:
        server_tracing = self.tracing
        if server_tracing is not None:
            await server_tracing.on_response(request, response)

    async def _cache_on_request(self, request: Request) -> HTTPResponse | None:
        cache = self.cache
        if cache is None:
            return None
        return await cache.on_request(request)

    async def _cache_on_response(self, request: Request, response: Any) -> None:
        cache = self.cache
        if cache is not None:
            await cache.on_response(request, response)
