"""The service's AsyncAPI document on the report server: ``/asyncapi.json``, ``/asyncapi.yaml``
and ``/asyncapi`` (an HTML page that works offline), built from the running service's
declarations and settings at the first request (the same document as ``tamarco asyncapi``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tamarco.resources.io.http._aiohttp import aiohttp_web

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["ASYNCAPI_PATHS", "add_asyncapi_routes"]

ASYNCAPI_PATHS = ("/asyncapi.json", "/asyncapi.yaml", "/asyncapi")


def add_asyncapi_routes(app: web.Application, service: Any, taken: set[tuple[str, str]]) -> None:
    """Mount the three routes on ``app`` (those not ``taken`` by another resource).

    ``tamarco.core.contracts`` (and the messaging modules it describes) is imported at the first
    request, not at the start of every service (tests/test_start_imports.py).
    """
    cache: dict[str, Any] = {}
    aioweb = aiohttp_web()

    def document() -> dict[str, Any]:
        from tamarco.core import contracts

        if "document" not in cache:
            cache["document"] = contracts.asyncapi_document(service)
        return cache["document"]  # type: ignore[no-any-return]

    async def as_json(request: web.Request) -> web.Response:
        from tamarco.core import contracts

        return aioweb.Response(text=contracts.dump(document(), "json"), content_type="application/json")

    async def as_yaml(request: web.Request) -> web.Response:
        from tamarco.core import contracts

        return aioweb.Response(text=contracts.dump(document(), "yaml"), content_type="application/yaml")

    async def as_html(request: web.Request) -> web.Response:
        from tamarco.core import contracts

        return aioweb.Response(text=contracts.asyncapi_html(document()), content_type="text/html")

    for path, handler in zip(ASYNCAPI_PATHS, (as_json, as_yaml, as_html), strict=True):
        if ("GET", path) not in taken:
            app.router.add_get(path, handler)
