"""The service's AsyncAPI document on the report server: ``/asyncapi.json``, ``/asyncapi.yaml``
and ``/asyncapi`` (an HTML page that works offline), built from the running service's
declarations and settings at the first request (the same document as ``tamarco asyncapi``)."""

from __future__ import annotations

from typing import Any

from tamarco.core.report_server import ReportRequest, ReportResponse, RouteHandler

__all__ = ["ASYNCAPI_PATHS", "asyncapi_routes"]

ASYNCAPI_PATHS = ("/asyncapi.json", "/asyncapi.yaml", "/asyncapi")


def asyncapi_routes(service: Any, taken: set[tuple[str, str]]) -> dict[tuple[str, str], RouteHandler]:
    """The three routes (those not ``taken`` by another resource), by ``(method, path)``.

    ``tamarco.core.contracts`` (and the messaging modules it describes) is imported at the first
    request, not at the start of every service (tests/test_start_imports.py).
    """
    cache: dict[str, Any] = {}

    def document() -> dict[str, Any]:
        from tamarco.core import contracts

        if "document" not in cache:
            cache["document"] = contracts.asyncapi_document(service)
        return cache["document"]  # type: ignore[no-any-return]

    async def as_json(request: ReportRequest) -> ReportResponse:
        from tamarco.core import contracts

        return ReportResponse.text(contracts.dump(document(), "json"), content_type="application/json")

    async def as_yaml(request: ReportRequest) -> ReportResponse:
        from tamarco.core import contracts

        return ReportResponse.text(contracts.dump(document(), "yaml"), content_type="application/yaml")

    async def as_html(request: ReportRequest) -> ReportResponse:
        from tamarco.core import contracts

        return ReportResponse.text(contracts.asyncapi_html(document()), content_type="text/html")

    handlers: tuple[RouteHandler, ...] = (as_json, as_yaml, as_html)
    return {
        ("GET", path): handler
        for path, handler in zip(ASYNCAPI_PATHS, handlers, strict=True)
        if ("GET", path) not in taken
    }
