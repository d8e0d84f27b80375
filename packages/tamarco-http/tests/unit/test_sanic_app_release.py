"""Sanic apps created by HTTP servers are released when the servers are gone: Sanic's
process-wide app registry holds an app only while its server serves, and a server nobody
references any more is garbage-collected with its app. Loopback sockets only."""

from __future__ import annotations

import gc
import weakref

import aiohttp
import pytest
from sanic import Sanic
from sanic.exceptions import SanicException
from sanic.response import text
from tamarco.core.microservice import MicroserviceContext
from tamarco.resources.io.http import _touchup
from tamarco.resources.io.http.resource import HTTPServerResource


def context(resources: dict, settings: dict) -> MicroserviceContext:
    cls = type("Ctx", (MicroserviceContext,), {"name": "sanic_app_release", **resources})
    ctx = cls()
    ctx.settings.update_internal({"system": {"resources": settings}})
    return ctx


async def hello(request):
    return text("hello")


async def test_servers_that_start_and_stop_leave_the_app_registry_as_it_was():
    gc.collect()
    registry_before = len(Sanic._app_registry)
    tracked_before = (len(_touchup._live), len(_touchup._signals))
    gone = []
    for _ in range(5):
        server = HTTPServerResource()
        server.add_endpoint("/", hello)
        assert server.app.name not in Sanic._app_registry  # created: not registered yet
        async with context({"api": server}, {"api": {"port": 0}}):
            assert Sanic.get_app(server.app.name) is server.app  # registered while it serves
        assert server.app.name not in Sanic._app_registry
        gone.append(weakref.ref(server))
        del server
    assert len(Sanic._app_registry) == registry_before
    gc.collect()
    assert [ref() for ref in gone] == [None] * 5  # nothing process-wide keeps a server or its app
    assert (len(_touchup._live), len(_touchup._signals)) == tracked_before


async def test_a_failed_start_does_not_leave_the_app_registered():
    server = HTTPServerResource()
    server.add_endpoint("/", hello)

    @server.app.listener("before_server_start")
    async def fail(app):
        raise RuntimeError("not today")

    ctx = context({"api": server}, {"api": {"port": 0}})
    with pytest.raises(Exception, match="not today"):
        await ctx.start()
    await ctx.stop()
    assert server.app.name not in Sanic._app_registry


async def test_app_names_are_unique_among_live_servers_and_free_again_once_a_server_is_gone():
    first = HTTPServerResource(app_name="tamarco_release_named")
    with pytest.raises(SanicException, match="tamarco_release_named"):
        HTTPServerResource(app_name="tamarco_release_named")
    del first
    gc.collect()
    again = HTTPServerResource(app_name="tamarco_release_named")
    assert again.app.name == "tamarco_release_named"


async def test_a_stopped_server_keeps_its_signals_when_another_app_starts_meanwhile():
    """Touchup rebuilds Sanic's methods at each new app's first start, keeping only the signal
    dispatches of the apps it knows: a stopped server that will serve again must stay known."""
    with_signal, other = HTTPServerResource(), HTTPServerResource()
    with_signal.add_endpoint("/", hello)
    other.add_endpoint("/", hello)
    seen = []

    @with_signal.app.signal("http.lifecycle.response")
    async def on_response(request, response):
        seen.append(response.status)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
        first = context({"api": with_signal}, {"api": {"port": 0}})
        async with first:
            async with session.get(with_signal.url) as response:
                assert response.status == 200
        assert seen == [200]
        async with context({"api": other}, {"api": {"port": 0}}):  # other's first start: touchup again
            async with session.get(other.url) as response:
                assert response.status == 200
        async with first:  # the first server serves again: its signal still fires
            async with session.get(with_signal.url) as response:
                assert response.status == 200
    assert seen == [200, 200]
