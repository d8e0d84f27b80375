"""HTTPServerResource against real sockets: routes, several servers, restarts, faults."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import pytest
from sanic import Sanic
from sanic.response import json, text
from tamarco.core.errors import ResourceStartError
from tamarco.core.logging.testing import capture_logs
from tamarco.core.microservice import MicroserviceContext
from tamarco.resources.bases import StatusCodes
from tamarco.resources.io.http.resource import (
    HTTPResourceError,
    HTTPServerResource,
    HTTPSettingsError,
    ServerBindError,
)

pytestmark = pytest.mark.functional


def context(resources: dict, settings: dict, name: str = "http_test") -> MicroserviceContext:
    """A MicroserviceContext subclass with ``resources`` as class attributes, started later."""
    cls = type("Ctx", (MicroserviceContext,), {"name": name, **resources})
    ctx = cls()
    ctx.settings.update_internal({"system": {"resources": settings}})
    return ctx


async def get_text(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with session.get(url) as response:
        return response.status, await response.text()


async def test_routes_from_decorator_and_add_endpoint(http_session):
    server = HTTPServerResource()

    @server.app.route("/")
    async def index(request):
        return text("Hello world!")

    async def item(request, item_id: int):
        return json({"item": item_id})

    server.add_endpoint("/items/<item_id:int>", item)
    async with context({"http_server": server}, {"http_server": {"port": 0}}):
        assert server.status_code == StatusCodes.STARTED
        assert server.port and server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert await get_text(http_session, server.url + "/") == (200, "Hello world!")
        async with http_session.get(server.url + "/items/7") as response:
            assert await response.json() == {"item": 7}
        status = await server.status()
        assert status["status_name"] == "STARTED" and status["url"] == server.url
    assert server.status_code == StatusCodes.STOPPED


async def test_responses_carry_no_empty_alt_svc_header_in_any_of_two_servers(http_session):
    """Sanic's touchup drops its ``alt-svc`` header only for an app that says it serves one HTTP
    version (``app.run`` does, ``create_server`` does not): without that, every response carried
    an empty ``alt-svc:`` (invalid, and ~5% of a hello-world request's instructions)."""
    first, second = HTTPServerResource(), HTTPServerResource()
    for resource in (first, second):
        resource.add_endpoint("/", lambda request: _answer(0))
    one = context({"first": first}, {"first": {"port": 0}}, "alt_svc_one")
    two = context({"second": second}, {"second": {"port": 0}}, "alt_svc_two")
    async with one, two:  # the second start touches Sanic up again, for both
        for server in (first, second):
            async with http_session.get(server.url + "/") as response:
                assert response.status == 200
                assert "alt-svc" not in {name.lower() for name in response.headers}


async def test_two_servers_in_one_service_and_two_services_in_one_process(http_session):
    first, second, third = HTTPServerResource(), HTTPServerResource(), HTTPServerResource()
    for number, resource in enumerate((first, second, third)):
        resource.add_endpoint("/", lambda request, n=number: _answer(n))
    assert len({first.app.name, second.app.name, third.app.name}) == 3
    one = context(
        {"recommendation_http_api": first, "billing_http_api": second},
        {"recommendation_http_api": {"port": 0}, "billing_http_api": {"port": 0}},
        "one",
    )
    two = context({"api": third}, {"api": {"port": 0}}, "two")
    async with one, two:
        assert len({first.port, second.port, third.port}) == 3
        assert await get_text(http_session, first.url) == (200, "server 0")
        assert await get_text(http_session, second.url) == (200, "server 1")
        assert await get_text(http_session, third.url) == (200, "server 2")


async def _answer(number: int):
    return text(f"server {number}")


async def test_start_stop_start_in_one_process(http_session):
    server = HTTPServerResource()
    started = []

    @server.app.route("/")
    async def index(request):
        return text("up")

    @server.app.listener("after_server_start")
    async def on_start(app):
        started.append(app.name)

    ctx = context({"http_server": server}, {"http_server": {"port": 0}})
    for round_ in range(3):
        await ctx.start()
        assert await get_text(http_session, server.url + "/") == (200, "up")
        url = server.url
        await ctx.stop()
        assert server.status_code == StatusCodes.STOPPED
        with pytest.raises(aiohttp.ClientConnectionError):
            await get_text(http_session, url + "/")
        assert len(started) == round_ + 1
    # a route added while stopped is served at the next start
    server.add_endpoint("/late", lambda request: _answer(9))
    async with ctx:
        assert await get_text(http_session, server.url + "/late") == (200, "server 9")


async def test_route_added_while_running_is_served(http_session):
    server = HTTPServerResource()
    server.add_endpoint("/", lambda request: _answer(1))
    async with context({"http_server": server}, {"http_server": {"port": 0}}):
        server.add_endpoint("/new", lambda request: _answer(2))
        assert await get_text(http_session, server.url + "/new") == (200, "server 2")


async def test_stop_drains_an_in_flight_request(http_session):
    server = HTTPServerResource()
    entered = asyncio.Event()

    @server.app.route("/slow")
    async def slow(request):
        entered.set()
        await asyncio.sleep(0.5)
        return text("finished")

    statuses = []
    server.add_status_listener(lambda resource, old, new: statuses.append(new))
    ctx = context({"http_server": server}, {"http_server": {"port": 0}})
    await ctx.start()
    url = server.url
    request = asyncio.create_task(get_text(http_session, url + "/slow"))
    await asyncio.wait_for(entered.wait(), 5)
    stopping = asyncio.create_task(ctx.stop())
    await asyncio.sleep(0)  # the stop begins while the request is in flight
    assert await asyncio.wait_for(request, 5) == (200, "finished")
    await asyncio.wait_for(stopping, 5)
    assert StatusCodes.STOPPING in statuses
    assert statuses[-1] == StatusCodes.STOPPED
    with pytest.raises(aiohttp.ClientConnectionError):
        await get_text(http_session, url + "/slow")


async def test_status_is_stopping_while_draining(http_session):
    server = HTTPServerResource()
    entered, release = asyncio.Event(), asyncio.Event()

    @server.app.route("/wait")
    async def wait(request):
        entered.set()
        await release.wait()
        return text("released")

    async with context({"http_server": server}, {"http_server": {"port": 0}}):
        request = asyncio.create_task(get_text(http_session, server.url + "/wait"))
        await asyncio.wait_for(entered.wait(), 5)
        stopping = asyncio.create_task(server.stop())
        await asyncio.sleep(0.1)
        assert server.status_code == StatusCodes.STOPPING
        assert (await server.status())["status_name"] == "STOPPING"
        release.set()
        assert await asyncio.wait_for(request, 5) == (200, "released")
        await asyncio.wait_for(stopping, 5)
        assert server.status_code == StatusCodes.STOPPED


async def test_drain_gives_up_after_the_grace_period(http_session):
    server = HTTPServerResource()
    entered = asyncio.Event()

    @server.app.route("/forever")
    async def forever(request):
        entered.set()
        await asyncio.sleep(60)
        return text("never")

    ctx = context({"http_server": server}, {"http_server": {"port": 0, "graceful_shutdown_timeout": 0.3}})
    await ctx.start()
    request = asyncio.create_task(get_text(http_session, server.url + "/forever"))
    await asyncio.wait_for(entered.wait(), 5)
    await asyncio.wait_for(ctx.stop(), 5)
    with pytest.raises(aiohttp.ClientError):
        await asyncio.wait_for(request, 5)
    assert server.status_code == StatusCodes.STOPPED


async def test_port_in_use_is_failed_naming_host_and_port():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = HTTPServerResource()
        server.add_endpoint("/", lambda request: _answer(0))
        ctx = context({"http_server": server}, {"http_server": {"host": "127.0.0.1", "port": port}})
        with pytest.raises(ResourceStartError) as raised:
            await ctx.start()
        assert server.status_code == StatusCodes.FAILED
        status = await server.status()
        await ctx.stop()
    assert isinstance(raised.value.error, ServerBindError)
    assert f"127.0.0.1:{port}" in str(raised.value)
    assert status["status_name"] == "FAILED"
    assert f"127.0.0.1:{port}" in status["last_error"]


async def test_missing_port_names_the_setting():
    server = HTTPServerResource()
    server.add_endpoint("/", lambda request: _answer(0))
    ctx = context({"billing_http_api": server}, {"billing_http_api": {"host": "127.0.0.1"}})
    with pytest.raises(ResourceStartError) as raised:
        await ctx.start()
    await ctx.stop()
    assert isinstance(raised.value.error, HTTPSettingsError)
    assert "system.resources.billing_http_api.port" in str(raised.value)


async def test_handler_error_is_500_without_traceback_and_logged(http_session):
    server = HTTPServerResource()

    @server.app.route("/boom")
    async def boom(request):
        raise RuntimeError("password=hunter2")

    @server.app.route("/ok")
    async def ok(request):
        return text("ok")

    settings = {"http_server": {"port": 0, "debug": True}}
    with capture_logs() as logs:
        async with context({"http_server": server}, settings):
            for accept in ("text/plain", "application/json", "text/html"):
                async with http_session.get(server.url + "/boom", headers={"Accept": accept}) as response:
                    body = await response.text()
                assert response.status == 500
                assert "hunter2" not in body and "Traceback" not in body and "RuntimeError" not in body
            assert await get_text(http_session, server.url + "/ok") == (200, "ok")
    record = logs.find(contains="GET /boom: unhandled RuntimeError", level="ERROR")
    assert record.exc_info and "hunter2" in str(record.exc_info[1])


async def test_malformed_request_is_400_and_the_server_keeps_serving(http_session):
    server = HTTPServerResource()
    server.add_endpoint("/", lambda request: _answer(0))
    async with context({"http_server": server}, {"http_server": {"port": 0}}):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"THIS IS NOT HTTP\r\n\x00\x01\r\n\r\n")
        await writer.drain()
        reply = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        assert reply.startswith(b"HTTP/1.1 400"), reply[:100]
        assert await get_text(http_session, server.url + "/") == (200, "server 0")


async def test_keep_alive_setting(http_session):
    server = HTTPServerResource()
    server.add_endpoint("/", lambda request: _answer(0))
    async with context({"http_server": server}, {"http_server": {"port": 0, "keep_alive": False}}):
        async with http_session.get(server.url + "/") as response:
            assert response.headers.get("Connection", "").lower() == "close"
    server2 = HTTPServerResource()
    server2.add_endpoint("/", lambda request: _answer(0))
    async with context({"http_server": server2}, {"http_server": {"port": 0, "keep_alive_timeout": 0.3}}):
        reader, writer = await asyncio.open_connection("127.0.0.1", server2.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"server 0"), 5)
        assert b"keep-alive" in head.lower()
        loop = asyncio.get_running_loop()
        idle_since = loop.time()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # the server closed the idle connection
        assert loop.time() - idle_since < 3
        writer.close()


async def test_app_is_a_real_sanic_app_with_a_unique_name():
    names = {HTTPServerResource().app.name for _ in range(5)}
    assert len(names) == 5
    named = HTTPServerResource(app_name="my_api")
    assert isinstance(named.app, Sanic) and named.app.name == "my_api"


async def test_touchup_is_on_and_signals_of_one_app_survive_another_app():
    with_signal, plain = HTTPServerResource(), HTTPServerResource()
    with_signal.add_endpoint("/", lambda request: _answer(1))
    plain.add_endpoint("/", lambda request: _answer(2))
    responses = []

    @with_signal.app.signal("http.lifecycle.response")
    async def on_response(request, response):
        responses.append(response.status)

    # a connection keeps the request handler it started with: use a new one per request
    http_session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))
    first = context({"api": with_signal}, {"api": {"port": 0}}, "first")
    second = context({"api": plain}, {"api": {"port": 0}}, "second")
    async with first:
        assert await get_text(http_session, with_signal.url) == (200, "server 1")
        assert responses == [200]
        async with second:  # the second app's touchup must keep the first app's signal
            assert with_signal.app.config.TOUCHUP is True and plain.app.config.TOUCHUP is True
            assert getattr(Sanic, "__touched__", False)
            assert await get_text(http_session, plain.url) == (200, "server 2")
            assert await get_text(http_session, with_signal.url) == (200, "server 1")
    await http_session.close()
    assert responses == [200, 200]


async def test_a_failing_startup_listener_fails_the_start_and_frees_the_port(free_port):
    server = HTTPServerResource()
    server.add_endpoint("/", lambda request: _answer(0))
    fail = {"now": True}

    @server.app.listener("before_server_start")
    async def check(app):
        if fail["now"]:
            raise RuntimeError("database not reachable")

    ctx = context({"http_server": server}, {"http_server": {"port": free_port}})
    with pytest.raises(ResourceStartError, match="database not reachable"):
        await ctx.start()
    assert server.status_code == StatusCodes.FAILED
    await ctx.stop()
    fail["now"] = False
    async with ctx:  # the port was released: the same port binds again
        assert server.port == free_port
        with pytest.raises(HTTPResourceError, match="already started"):
            await server.start()


async def test_access_log_goes_through_tamarco_logging_without_secrets(http_session):
    server = HTTPServerResource()
    server.add_endpoint("/items", lambda request: _answer(5))
    with capture_logs() as logs:
        async with context({"http_server": server}, {"http_server": {"port": 0, "access_log": True}}):
            async with http_session.get(server.url + "/items?page=2&api_token=abc123") as response:
                assert response.status == 200
            record = await logs.wait_for(logger="sanic.access", contains="GET /items")
    assert "GET /items?page=2&api_token=********" in record.message
    assert " 200 " in record.message
    assert "abc123" not in record.message and "abc123" not in str(record.extra)


async def test_access_log_and_debug_change_without_a_restart():
    server = HTTPServerResource()
    server.add_endpoint("/", lambda request: _answer(0))
    # one connection per request: the access-log switch applies to new connections
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))
    ctx = context({"http_server": server}, {"http_server": {"port": 0}})
    try:
        with capture_logs() as logs:
            async with ctx:
                await get_text(session, server.url + "/")
                assert not logs.filter(logger="sanic.access")
                await ctx.settings.set("system.resources.http_server.access_log", True)
                await ctx.settings.set("system.resources.http_server.debug", True)
                await get_text(session, server.url + "/missing")
                await logs.wait_for(logger="sanic.access", contains="GET /missing")
                await logs.wait_for(contains="GET /missing: Requested URL /missing not found")
    finally:
        await session.close()


async def test_server_without_routes_starts_with_a_warning_and_answers_404(http_session):
    empty = HTTPServerResource()
    with capture_logs() as records:
        async with context({"api": empty}, {"api": {"port": 0}}):
            assert empty.status_code == StatusCodes.STARTED
            for path in ("/", "/anything"):
                async with http_session.get(empty.url + path) as response:
                    assert response.status == 404, path
            async with http_session.post(empty.url + "/") as response:
                assert response.status == 404
    warning = records.find(contains="has no routes")
    assert warning.levelname == "WARNING"
    assert "@api.app.route" in warning.message
