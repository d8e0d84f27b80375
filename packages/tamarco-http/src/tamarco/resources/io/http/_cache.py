"""Response cache for :class:`HTTPServerResource`: a Sanic request/response middleware pair.

Only successful (200) responses to ``GET`` requests with a complete body are stored; streamed
responses and every other method pass through untouched. A response that sets a cookie or says
``Cache-Control: no-store / private / no-cache`` is never stored: it may belong to one user.
The cache key is the method, the path with its query string and the values of the configured
request headers (``header_keys``), so e.g. ``Accept-Language`` can give one entry per language.
Responses that went through the cache carry ``x-cache: HIT`` (served from the cache) or
``x-cache: MISS`` (computed by the handler).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from sanic.compat import Header
from sanic.request import Request
from sanic.response import HTTPResponse

if TYPE_CHECKING:
    from cachetools import TTLCache

__all__ = ["CACHE_HEADER", "HTTPCacheMiddleware"]

CACHE_HEADER = "x-cache"
_NOT_STORED_HEADERS = frozenset({"content-length", CACHE_HEADER})
_PRIVATE_DIRECTIVES = ("no-store", "private", "no-cache")
_CacheKey = tuple[str, ...]
_Entry = tuple[int, list[tuple[str, str]], bytes, "str | None"]


class HTTPCacheMiddleware:
    """A TTL + LRU cache of whole responses.

    ``maxsize`` is the number of responses kept; ``ttl`` their lifetime in seconds;
    ``header_keys`` the request headers that are part of the key. ``timer`` is for tests.
    """

    def __init__(
        self,
        maxsize: int = 1000,
        ttl: float = 60.0,
        header_keys: Sequence[str] | None = None,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.maxsize = maxsize
        self.ttl = ttl
        self.header_keys = tuple(key.lower() for key in header_keys or ())
        from cachetools import TTLCache  # here: a server without the cache never imports it

        self.cache: TTLCache[_CacheKey, _Entry] = TTLCache(maxsize, ttl, timer=timer)
        self.hits = 0
        self.misses = 0

    def cache_key(self, request: Request) -> _CacheKey:
        """What identifies a cacheable request: method, path + query, the chosen headers."""
        headers = request.headers
        return (
            request.method,
            request.path,
            request.query_string,
            *(headers.get(key, "") for key in self.header_keys),
        )

    async def on_request(self, request: Request) -> HTTPResponse | None:
        """Request middleware: answer from the cache, or remember the key for the response."""
        if request.method != "GET":
            return None
        key = self.cache_key(request)
        entry = self.cache.get(key)
        if entry is None:
            request.ctx.tamarco_cache_key = key
            return None
        self.hits += 1
        status, headers, body, content_type = entry
        response = HTTPResponse(body, status=status, headers=Header(headers), content_type=content_type)
        response.headers[CACHE_HEADER] = "HIT"
        return response

    async def on_response(self, request: Request, response: Any) -> None:
        """Response middleware: mark a miss and store the response when it can be reused."""
        key = getattr(request.ctx, "tamarco_cache_key", None)
        if key is None or not isinstance(response, HTTPResponse):
            return
        self.misses += 1
        response.headers[CACHE_HEADER] = "MISS"
        if response.status != 200 or response.body is None or not _shareable(response):
            return
        headers = [(name, value) for name, value in response.headers.items() if name.lower() not in _NOT_STORED_HEADERS]
        self.cache[key] = (response.status, headers, bytes(response.body), response.content_type)

    def clear(self) -> None:
        """Forget every stored response."""
        self.cache.clear()

    def statistics(self) -> dict[str, int]:
        """Hits, misses and current size (reported in the resource's status)."""
        return {"hits": self.hits, "misses": self.misses, "size": len(self.cache), "maxsize": self.maxsize}


def _shareable(response: HTTPResponse) -> bool:
    """Whether a response may be served to other clients (no cookie, no private directive)."""
    headers = response.headers
    if "set-cookie" in headers:
        return False
    cache_control = headers.get("cache-control", "").lower()
    return not any(directive in cache_control for directive in _PRIVATE_DIRECTIVES)
