"""HTTPCacheMiddleware in memory: keys, TTL with a fake clock, what is (not) stored."""

from __future__ import annotations

from types import SimpleNamespace

from sanic.compat import Header
from sanic.response import HTTPResponse, text
from tamarco.resources.io.http.resource import CACHE_HEADER, HTTPCacheMiddleware


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def request(path: str = "/", method: str = "GET", query: str = "", headers: dict | None = None) -> SimpleNamespace:
    return SimpleNamespace(
        method=method, path=path, query_string=query, headers=Header(headers or {}), ctx=SimpleNamespace()
    )


async def roundtrip(cache: HTTPCacheMiddleware, req: SimpleNamespace, response: HTTPResponse) -> HTTPResponse:
    """What Sanic does: request middleware, else the handler's response through response middleware."""
    cached = await cache.on_request(req)  # type: ignore[arg-type]
    if cached is not None:
        return cached
    await cache.on_response(req, response)  # type: ignore[arg-type]
    return response


async def test_miss_then_hit_until_the_ttl_passes():
    clock = Clock()
    cache = HTTPCacheMiddleware(maxsize=10, ttl=5, timer=clock)
    first = await roundtrip(cache, request("/a"), text("one", headers={"x-custom": "1"}))
    assert first.headers[CACHE_HEADER] == "MISS"
    hit = await roundtrip(cache, request("/a"), text("two"))
    assert hit.headers[CACHE_HEADER] == "HIT"
    assert hit.body == b"one" and hit.headers["x-custom"] == "1" and hit.content_type.startswith("text/plain")
    clock.now = 5.1
    expired = await roundtrip(cache, request("/a"), text("three"))
    assert (expired.headers[CACHE_HEADER], expired.body) == ("MISS", b"three")
    assert cache.statistics() == {"hits": 1, "misses": 2, "size": 1, "maxsize": 10}


async def test_key_is_method_path_query_and_chosen_headers():
    cache = HTTPCacheMiddleware(header_keys=["Accept-Language"])
    base = cache.cache_key(request("/a", query="x=1", headers={"accept-language": "en", "x-other": "1"}))
    assert base == cache.cache_key(request("/a", query="x=1", headers={"Accept-Language": "en"}))
    assert base != cache.cache_key(request("/a", query="x=2", headers={"Accept-Language": "en"}))
    assert base != cache.cache_key(request("/a", query="x=1", headers={"Accept-Language": "es"}))
    assert base != cache.cache_key(request("/b", query="x=1", headers={"Accept-Language": "en"}))


async def test_only_shareable_successful_get_responses_are_stored():
    cache = HTTPCacheMiddleware()
    post = request("/a", method="POST")
    assert await cache.on_request(post) is None  # type: ignore[arg-type]
    response = text("posted")
    await cache.on_response(post, response)  # type: ignore[arg-type]
    assert CACHE_HEADER not in response.headers
    not_found = await roundtrip(cache, request("/missing"), text("nope", status=404))
    assert not_found.headers[CACHE_HEADER] == "MISS"
    with_cookie = text("mine")
    with_cookie.cookies.add_cookie("session", "abc")
    await roundtrip(cache, request("/cookie"), with_cookie)
    await roundtrip(cache, request("/private"), text("mine", headers={"Cache-Control": "private, max-age=60"}))
    assert len(cache.cache) == 0


async def test_maxsize_evicts_the_oldest_entries():
    cache = HTTPCacheMiddleware(maxsize=2, ttl=60)
    for path in ("/1", "/2", "/3"):
        await roundtrip(cache, request(path), text(path))
    assert (await roundtrip(cache, request("/1"), text("again"))).body == b"again"
    assert (await roundtrip(cache, request("/3"), text("x"))).headers[CACHE_HEADER] == "HIT"
    cache.clear()
    assert len(cache.cache) == 0
