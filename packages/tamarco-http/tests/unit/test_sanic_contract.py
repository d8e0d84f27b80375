"""The Sanic internals tamarco-http relies on are still there, with the same shape.

- ``_touchup.py`` restores and shares what Sanic's touchup rewrites: ``TouchUp._registry``,
  the ``__touched__`` flags, the signal router's ``allow_fail_builtin``, ``config.TOUCHUP``.
- ``_meters.py`` records each response in ``Http.log_response`` (called once per response when
  the protocol's ``access_log`` is on), measures from ``Http.perft0``, and subclasses
  ``HttpProtocol`` overriding ``_setup`` and ``log_disconnect`` (and ``WebSocketProtocol``'s
  ``log_websocket``) around the ``access_log`` slot.
- ``_timeouts.py`` notes a request's first bytes in ``HttpProtocol.data_received`` (the stage of
  ``_http``, ``request_body``, the ``_time`` Sanic sets there) and ends a head that takes too long
  through ``HttpProtocol.check_timeouts`` (``_http``, ``_time``, ``request_timeout``).
- ``_touchup.http1_only`` lists one HTTP/1 server in ``app.state.server_info`` during the startup,
  for the ``AltSvcCheck`` touchup (``sanic.touchup.schemes.altsvc``) to drop the ``alt-svc`` line.
- ``_server.py`` keeps an app in ``Sanic._app_registry`` only while it runs
  (``register_app``/``unregister_app``) and drives ``AsyncioServer``'s lifecycle by hand.

pyproject bounds Sanic (<26); before the bound is raised these tests must pass on the new
release. Each failure names the internal, the Sanic version and what needs updating.
"""

from __future__ import annotations

import importlib.metadata
import inspect

import pytest
import sanic.http.http1
import sanic.server.protocols.http_protocol
from sanic import Sanic
from sanic.http import Http
from sanic.server.async_server import AsyncioServer
from sanic.server.protocols.http_protocol import HttpProtocol
from sanic.server.protocols.websocket_protocol import WebSocketProtocol
from sanic.touchup import TouchUp

SANIC_VERSION = importlib.metadata.version("sanic")

METERS = "tamarco-http's meters (_meters.py)"
TOUCHUP = "tamarco-http's touchup shim (_touchup.py)"
SERVER = "tamarco-http's server (_server.py)"


def require(condition: object, internal: str, user: str, detail: str = "") -> None:
    if not condition:
        pytest.fail(
            f"sanic {SANIC_VERSION} changed {internal}: {user} need{'s' if user != METERS else ''} updating"
            f"{': ' + detail if detail else ''}",
            pytrace=False,
        )


def only_self(function: object) -> bool:
    return callable(function) and list(inspect.signature(function).parameters) == ["self"]  # type: ignore[arg-type]


def source_of(module: object) -> str:
    # The module's file, not the (possibly touched-up, source-less) methods.
    return inspect.getsource(module)  # type: ignore[arg-type]


@pytest.fixture
def app():
    application = Sanic(f"tamarco_contract_{id(object())}", configure_logging=False)
    yield application
    Sanic.unregister_app(application)


# -- touchup ------------------------------------------------------------------------------


def test_touchup_registry_is_a_set_of_class_and_method_name():
    registry = getattr(TouchUp, "_registry", None)
    require(isinstance(registry, set) and registry, "TouchUp._registry", TOUCHUP, "not a non-empty set")
    for entry in registry:
        require(
            isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], type) and isinstance(entry[1], str),
            "TouchUp._registry entries",
            TOUCHUP,
            f"{entry!r} is not (class, method name)",
        )
        target, name = entry
        require(callable(getattr(target, name, None)), f"TouchUp target {target.__name__}.{name}", TOUCHUP)
    require(callable(getattr(TouchUp, "run", None)), "TouchUp.run", TOUCHUP)


def test_touchup_rewrites_the_classes_the_shim_restores():
    """The shim restores the pristine methods of exactly these classes before an app's first
    startup; a new target would be rewritten once and then reused stale by later apps."""
    targets = {target for target, _ in TouchUp._registry}
    require(
        targets <= {Sanic, Http, HttpProtocol},
        "the classes TouchUp rewrites",
        TOUCHUP,
        f"{sorted(t.__name__ for t in targets)}",
    )


def test_apps_have_the_touchup_switch_and_a_lenient_signal_router(app):
    require("TOUCHUP" in app.config, "config.TOUCHUP", TOUCHUP)
    router = app.signal_router
    require(hasattr(router, "allow_fail_builtin"), "SignalRouter.allow_fail_builtin", TOUCHUP)

    @app.signal("http.lifecycle.request")
    async def on_request(request):  # pragma: no cover - never dispatched
        pass

    names = {route.name for route in router.routes}
    require("http.lifecycle.request" in names, "SignalRouter.routes[].name", TOUCHUP, f"{sorted(names)}")
    require(hasattr(app.state, "is_started"), "app.state.is_started", SERVER)


# -- meters -------------------------------------------------------------------------------


def test_http_log_response_is_called_once_per_response_when_access_log_is_on():
    require(only_self(getattr(Http, "log_response", None)), "Http.log_response(self)", METERS)
    source = source_of(sanic.http.http1)
    require(
        "if self.protocol.access_log:\n            self.log_response()" in source,
        "when Http.log_response is called",
        METERS,
        "no longer `if self.protocol.access_log: self.log_response()` in the response header path",
    )


def test_http_notes_when_it_hands_the_request_to_the_app():
    require("perft0" in Http.__slots__, "Http.perft0 (a slot)", METERS)
    require("self.perft0 = perf_counter()" in source_of(sanic.http.http1), "where Http.perft0 is set", METERS)
    require(hasattr(Http, "__slots__"), "Http.__slots__", METERS, "MeteredHttp declares empty __slots__")


def test_http_protocol_reads_access_log_in_setup(app):
    require(only_self(getattr(HttpProtocol, "_setup", None)), "HttpProtocol._setup(self)", METERS)
    require("access_log" in HttpProtocol.__slots__, "HttpProtocol.access_log (a slot)", METERS)
    require(HttpProtocol.HTTP_CLASS is Http, "HttpProtocol.HTTP_CLASS", METERS)
    app.config.ACCESS_LOG = True
    protocol = HttpProtocol.__new__(HttpProtocol)
    protocol.app = app
    HttpProtocol._setup(protocol)
    require(protocol.access_log is True, "HttpProtocol._setup", METERS, "it no longer sets access_log from ACCESS_LOG")


def test_http_protocol_logs_disconnects_only_with_access_log():
    require(only_self(getattr(HttpProtocol, "log_disconnect", None)), "HttpProtocol.log_disconnect(self)", METERS)
    source = source_of(sanic.server.protocols.http_protocol)
    require(
        "self.access_log\n" in source and "self.log_disconnect()" in source,
        "when HttpProtocol.log_disconnect is called",
        METERS,
    )


def test_websocket_protocol_logs_through_log_websocket():
    require(issubclass(WebSocketProtocol, HttpProtocol), "WebSocketProtocol's base", METERS)
    method = getattr(WebSocketProtocol, "log_websocket", None)
    require(
        callable(method) and list(inspect.signature(method).parameters) == ["self", "message"],
        "WebSocketProtocol.log_websocket(self, message)",
        METERS,
    )


# -- app registry and server lifecycle ----------------------------------------------------


def test_apps_register_by_name_and_can_be_unregistered():
    registry = getattr(Sanic, "_app_registry", None)
    require(isinstance(registry, dict), "Sanic._app_registry", SERVER)
    name = f"tamarco_contract_registry_{id(object())}"
    app = Sanic(name, configure_logging=False)
    require(Sanic._app_registry.get(name) is app, "Sanic app registration at construction", SERVER)
    Sanic.unregister_app(app)
    require(name not in Sanic._app_registry, "Sanic.unregister_app", SERVER)
    Sanic.register_app(app)
    require(Sanic._app_registry.get(name) is app, "Sanic.register_app", SERVER)
    Sanic.unregister_app(app)


def test_asyncio_server_has_the_lifecycle_steps_the_server_drives():
    for name in ("startup", "before_start", "start_serving", "after_start", "before_stop", "after_stop"):
        # each returns an awaitable (a coroutine or the app's event dispatch)
        require(only_self(getattr(AsyncioServer, name, None)), f"AsyncioServer.{name}(self)", SERVER)
    require(callable(getattr(HttpProtocol, "close_if_idle", None)), "HttpProtocol.close_if_idle", SERVER)


def test_a_broken_contract_names_the_internal_the_version_and_the_user():
    with pytest.raises(pytest.fail.Exception) as failure:
        require(False, "Http.log_response", METERS)
    assert str(failure.value) == f"sanic {SANIC_VERSION} changed Http.log_response: {METERS} need updating"


# -- request head deadline ----------------------------------------------------------------

TIMEOUTS = "tamarco-http's request head deadline (_timeouts.py)"


def test_http_reads_the_request_head_in_http1_request_header_at_stage_request():
    method = getattr(Http, "http1_request_header", None)
    require(inspect.iscoroutinefunction(method) and only_self(method), "Http.http1_request_header(self)", TIMEOUTS)
    source = source_of(sanic.http.http1)
    require(
        "self.stage = Stage.REQUEST" in source and "await self.http1_request_header()" in source,
        "the head is read at Stage.REQUEST by http1_request_header",
        TIMEOUTS,
    )


def test_data_received_sets_self_time_to_now_first():
    """The deadlines take a request's start from the ``_time`` Sanic's ``data_received`` sets."""
    require(
        "def data_received(self, data: bytes):\n        try:\n            self._time = current_time()"
        in source_of(sanic.server.protocols.http_protocol),
        "HttpProtocol.data_received",
        TIMEOUTS,
        "no longer sets self._time = current_time() first",
    )
    source = source_of(sanic.http.http1)
    require(
        "while self.keep_alive and self.stage is Stage.IDLE:" in source and "self.request_body = None" in source,
        "Http.http1 (waits for a request at Stage.IDLE; request_body reset per request)",
        TIMEOUTS,
    )


def test_check_timeouts_ends_a_request_older_than_request_timeout_since_self_time():
    require(only_self(getattr(HttpProtocol, "check_timeouts", None)), "HttpProtocol.check_timeouts(self)", TIMEOUTS)
    source = source_of(sanic.server.protocols.http_protocol)
    require(
        "duration = current_time() - self._time" in source
        and "stage is Stage.REQUEST and duration > self.request_timeout" in source,
        "HttpProtocol.check_timeouts",
        TIMEOUTS,
        "no longer ends Stage.REQUEST when current_time() - self._time > request_timeout",
    )
    require(
        sanic.server.protocols.http_protocol.current_time.__name__ == "monotonic",
        "HttpProtocol's clock",
        TIMEOUTS,
        "current_time is not time.monotonic",
    )
    require({"_http", "_time"} <= set(_all_slots(HttpProtocol)), "HttpProtocol._http/_time (slots)", TIMEOUTS)


def _all_slots(cls: type) -> list[str]:
    return [slot for klass in cls.__mro__ for slot in getattr(klass, "__slots__", ())]


def test_the_body_is_read_by_http_read_until_request_body_is_falsy():
    """The whole-request deadline notes the body's end in ``Http.read`` (``request_body`` falsy),
    ends a late one by cancelling ``_task`` with ``exception`` set, keeps new connections in
    ``connections`` and closes a silent one by the keep-alive path (``keep_alive_timeout``)."""
    method = getattr(Http, "read", None)
    require(inspect.iscoroutinefunction(method) and only_self(method), "Http.read(self)", TIMEOUTS)
    require({"request_body", "exception", "keep_alive", "stage"} <= set(_all_slots(Http)), "Http slots", TIMEOUTS)
    source = source_of(sanic.server.protocols.http_protocol)
    require(
        "stage is Stage.IDLE and duration > self.keep_alive_timeout" in source and "self._task.cancel(" in source,
        "HttpProtocol.check_timeouts keep-alive path",
        TIMEOUTS,
    )
    require("self.connections.add(self)" in source, "HttpProtocol.connection_made adds to connections", TIMEOUTS)


def test_the_alt_svc_touchup_drops_the_header_for_one_http_version():
    import sanic.touchup.schemes.altsvc as altsvc

    source = source_of(altsvc)
    require(
        'info.settings["version"] for info in app.state.server_info' in source
        and "return len(self._versions) == 1" in source,
        "sanic.touchup.schemes.altsvc.RemoveAltSvc",
        "tamarco-http's _touchup.http1_only",
        "no longer removes alt-svc when app.state.server_info lists one HTTP version",
    )
    require(
        'headers["alt-svc"] = ""' in source_of(sanic.http.http1),
        "Http.http1_response_header's alt-svc line",
        "tamarco-http's _touchup.http1_only",
    )
