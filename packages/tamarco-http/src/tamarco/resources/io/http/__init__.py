"""tamarco-http: the Sanic server resource, the aiohttp client resource and the report server.

See docs/http.md. The names below are also importable from ``tamarco.resources.io.http.resource``
(the path of the 0.1 documentation) and ``tamarco.resources.io.http.report_server``.
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
from tamarco.resources.io.http.report_server import ReportServerResource

__all__ = [
    "CACHE_HEADER",
    "HTTPCacheMiddleware",
    "HTTPClientResource",
    "HTTPResourceError",
    "HTTPServerResource",
    "HTTPSettingsError",
    "ReportServerResource",
    "RoutesFrozenError",
    "ServerBindError",
]
