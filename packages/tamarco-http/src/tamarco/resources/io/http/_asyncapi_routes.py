"""The service's AsyncAPI document on the report server: ``/asyncapi.json``, ``/asyncapi.yaml``
and ``/asyncapi`` (an HTML page that works offline), built from the running service's
declarations and settings at the first request (the same document as ``tamarco asyncapi``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

__all__ = ["ASYNCAPI_PATHS", "add_asyncapi_routes"]

ASYNCAPI_PATHS = ("/asyncapi.json", "/asyncapi.yaml", "/asyncapi")


def add_asyncapi_routes(app: web.Application, service: Any, taken: set[tuple[str, str]]) -> None:
    """Mount the three routes on ``app`` (those not ``taken`` by another resource)."""
    from tamarco.core import contracts  # at the start of a report server, not at its import

    cache: dict[str, Any] = {}

    def document() -> dict[str, Any]:
        if "document" not in cache:
            cache["document"] = contracts.asyncapi_document(service)
        return cache["document"]  # type: ignore[no-any-return]

    async def as_json(request: web.Request) -> web.Response:
        return web.Response(text=contracts.dump(document(), "json"), content_type="application/json")

    async def as_yaml(request: web.Request) -> web.Response:
        return web.Response(text=contracts.dump(document(), "yaml"), content_type="application/yaml")

    async def as_html(request: web.Request) -> web.Response:
        return web.Response(text=contracts.asyncapi_html(document()), content_type="text/html")

    for path, handler in zip(ASYNCAPI_PATHS, (as_json, as_yaml, as_html), strict=True):
        if ("GET", path) not in taken:
            app.router.add_get(path, handler)
