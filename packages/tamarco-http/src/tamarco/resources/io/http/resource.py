"""The HTTP resources, at the import path of the 0.1 documentation.

``from tamarco.resources.io.http.resource import HTTPClientResource, HTTPServerResource``
"""

from __future__ import annotations

from tamarco.resources.io.http._cache import CACHE_HEADER, HTTPCacheMiddleware
from tamarco.resources.io.http._client import HTTPClientResource
from tamarco.resources.io.http._errors import (
    HTTPResourceError,
    HTTPSettingsError,
    RoutesFrozenError,
    ServerBindError,
)
from tamarco.resources.io.http._server import HTTPServerResource

__all__ = [
    "CACHE_HEADER",
    "HTTPCacheMiddleware",
    "HTTPClientResource",
    "HTTPResourceError",
    "HTTPServerResource",
    "HTTPSettingsError",
    "RoutesFrozenError",
    "ServerBindError",
]
