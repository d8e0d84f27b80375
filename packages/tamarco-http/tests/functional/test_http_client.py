"""HTTPClientResource against an HTTPServerResource of the same service."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from sanic.response import json
from tamarco.core.errors import ResourceStartError
from tamarco.core.microservice import MicroserviceContext
from tamarco.resources.bases import StatusCodes
from tamarco.resources.io.http.resource import (
    HTTPClientResource,
    HTTPResourceError,
    HTTPServerResource,
    HTTPSettingsError,
)

pytestmark = pytest.mark.functional


def client_and_server(client_settings: dict) -> tuple[MicroserviceContext, HTTPClientResource, HTTPServerResource]:
    server, client = HTTPServerResource(), HTTPClientResource()

    @server.app.route("/api/echo")
    async def echo(request):
        return json({"agent": request.headers.get("x-agent"), "query": dict(request.query_args)})

    @server.app.route("/api/slow")
    async def slow(request):
        await asyncio.sleep(2)
        return json({})

    cls = type("ClientCtx", (MicroserviceContext,), {"name": "client_test", "api": server, "client": client})
    ctx = cls()
    ctx.settings.update_internal({"system": {"resources": {"api": {"port": 0}, "client": client_settings}}})
    return ctx, client, server


async def test_client_session_talks_to_the_server():
    ctx, client, server = client_and_server({})
    async with ctx:
        assert client.status_code == StatusCodes.STARTED
        async with client.session.get(server.url + "/api/echo?x=1") as response:
            assert response.status == 200
            assert await response.json() == {"agent": None, "query": {"x": "1"}}
        session = client.session
    assert session.closed
    assert client.status_code == StatusCodes.STOPPED
    with pytest.raises(HTTPResourceError, match="not started"):
        _ = client.session


async def test_base_url_headers_and_timeouts(free_port):
    ctx, client, _server = client_and_server({})
    await ctx.settings.update_internal_settings("system.resources.api.port", free_port)
    settings = {
        "base_url": f"http://user:s3cret@127.0.0.1:{free_port}",
        "headers": {"X-Agent": "tamarco"},
        "timeout": 0.3,
        "limit": 5,
    }
    await ctx.settings.update_internal_settings("system.resources.client", settings)
    async with ctx:
        async with client.session.get("/api/echo") as response:
            assert (await response.json())["agent"] == "tamarco"
        with pytest.raises(asyncio.TimeoutError):
            async with client.session.get("/api/slow"):
                pass
        assert client.session.connector is not None and client.session.connector.limit == 5
        status = await client.status()
        assert status["base_url"] == f"http://127.0.0.1:{free_port}"
        assert "s3cret" not in str(status)


async def test_bad_base_url_names_the_setting_without_the_password():
    ctx, _client, _ = client_and_server({"base_url": "ftp://user:s3cret@example.com"})
    with pytest.raises(ResourceStartError) as raised:
        await ctx.start()
    await ctx.stop()
    assert isinstance(raised.value.error, HTTPSettingsError)
    assert "system.resources.client.base_url" in str(raised.value)
    assert "s3cret" not in str(raised.value)


async def test_connection_refused_is_an_aiohttp_error(free_port):
    ctx, client, _ = client_and_server({"base_url": f"http://127.0.0.1:{free_port}"})
    async with ctx:
        with pytest.raises(aiohttp.ClientConnectionError):
            async with client.session.get("/nothing"):
                pass


async def test_base_url_with_a_path():
    ctx, client, server = client_and_server({})
    async with ctx:
        await client.stop()
        await ctx.settings.update_internal_settings("system.resources.client.base_url", server.url + "/api/")
        await client.start()
        async with client.session.get("echo", params={"q": "1"}) as response:
            assert (await response.json())["query"] == {"q": "1"}
