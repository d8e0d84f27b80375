"""The response cache of HTTPServerResource over real HTTP: HIT/MISS, TTL expiry, header keys."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from sanic.response import text
from tamarco.core.microservice import MicroserviceContext
from tamarco.resources.io.http.resource import HTTPServerResource

pytestmark = pytest.mark.functional


def cached_server(cache_settings: dict) -> tuple[MicroserviceContext, HTTPServerResource, itertools.count]:
    server = HTTPServerResource()
    calls = itertools.count(1)

    @server.app.route("/count")
    async def count(request):
        return text(f"call {next(calls)} lang={request.headers.get('accept-language', '-')}")

    @server.app.route("/private")
    async def private(request):
        response = text(f"call {next(calls)}")
        response.cookies.add_cookie("session", "abc")
        return response

    @server.app.post("/count")
    async def post(request):
        return text(f"post {next(calls)}")

    cls = type("CacheCtx", (MicroserviceContext,), {"name": "cache_test", "http_server": server})
    ctx = cls()
    ctx.settings.update_internal({"system": {"resources": {"http_server": {"port": 0, "cache": cache_settings}}}})
    return ctx, server, calls


async def fetch(session, method, url, **kwargs):
    async with session.request(method, url, **kwargs) as response:
        return response.status, response.headers.get("x-cache"), await response.text()


async def test_hit_miss_and_ttl_expiry(http_session):
    ctx, server, _ = cached_server({"enabled": True, "ttl": 0.4})
    async with ctx:
        url = server.url + "/count"
        assert await fetch(http_session, "GET", url) == (200, "MISS", "call 1 lang=-")
        assert await fetch(http_session, "GET", url) == (200, "HIT", "call 1 lang=-")
        assert await fetch(http_session, "GET", url + "?page=2") == (200, "MISS", "call 2 lang=-")
        assert await fetch(http_session, "POST", url) == (200, None, "post 3")
        # after the TTL the handler runs again
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while (result := await fetch(http_session, "GET", url))[1] == "HIT":
            assert loop.time() < deadline, "the cached response never expired"
            await asyncio.sleep(0.05)
        assert result == (200, "MISS", "call 4 lang=-")
        assert (await server.status())["cache"]["hits"] >= 1


async def test_header_keys_split_the_cache(http_session):
    ctx, server, _ = cached_server({"enabled": True, "ttl": 60, "header_keys": ["Accept-Language"]})
    async with ctx:
        url = server.url + "/count"
        english, spanish = {"Accept-Language": "en"}, {"Accept-Language": "es"}
        assert await fetch(http_session, "GET", url, headers=english) == (200, "MISS", "call 1 lang=en")
        assert await fetch(http_session, "GET", url, headers=spanish) == (200, "MISS", "call 2 lang=es")
        assert await fetch(http_session, "GET", url, headers=english) == (200, "HIT", "call 1 lang=en")
        # other headers are not part of the key
        assert await fetch(http_session, "GET", url, headers={**spanish, "X-Other": "1"}) == (
            200,
            "HIT",
            "call 2 lang=es",
        )


async def test_maxsize_evicts_and_cookies_are_never_cached(http_session):
    ctx, server, _ = cached_server({"enabled": True, "ttl": 60, "maxsize": 1})
    async with ctx:
        url = server.url + "/count"
        assert (await fetch(http_session, "GET", url + "?a"))[1:] == ("MISS", "call 1 lang=-")
        assert (await fetch(http_session, "GET", url + "?b"))[1:] == ("MISS", "call 2 lang=-")
        assert (await fetch(http_session, "GET", url + "?a"))[1:] == ("MISS", "call 3 lang=-")
        assert (await fetch(http_session, "GET", server.url + "/private"))[1:] == ("MISS", "call 4")
        assert (await fetch(http_session, "GET", server.url + "/private"))[1:] == ("MISS", "call 5")


async def test_legacy_flat_cache_keys_and_disabled_by_default(http_session):
    ctx, server, _ = cached_server({})
    async with ctx:
        assert await fetch(http_session, "GET", server.url + "/count") == (200, None, "call 1 lang=-")
        assert await fetch(http_session, "GET", server.url + "/count") == (200, None, "call 2 lang=-")
    # the 0.1 resource read cache_enabled / cache_ttl / cache_maxsize / cache_header_keys
    await ctx.settings.update_internal_settings("system.resources.http_server.cache_enabled", True)
    async with ctx:
        assert (await fetch(http_session, "GET", server.url + "/count"))[1] == "MISS"
        assert (await fetch(http_session, "GET", server.url + "/count"))[1] == "HIT"
    # and a restart with the cache off really turns it off
    await ctx.settings.update_internal_settings("system.resources.http_server.cache_enabled", False)
    async with ctx:
        assert (await fetch(http_session, "GET", server.url + "/count"))[1] is None
