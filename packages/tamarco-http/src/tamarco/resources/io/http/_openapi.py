"""The OpenAPI 3.1 description of an HTTP server resource's Sanic routes, and the routes that
serve it (``/openapi.json`` and a ``/docs`` page; setting ``openapi: false`` switches them off).

Why not sanic-ext's OpenAPI: it writes OpenAPI 3.0 documents (not 3.1), and it is a Sanic
extension that, once registered, installs much else into the app (CORS, dependency injection,
validation, its own ``/docs`` assets from a CDN); the embedded server drives Sanic's lifecycle
by hand and keeps the app to what the user added. The routes are read from Sanic's router:
paths and their typed parameters, methods, the handler's docstring, a request body schema when
a handler parameter is annotated with a payload type (pydantic model, dataclass...), a response
schema when its return annotation is one.
"""

from __future__ import annotations

import inspect
import re
from typing import TYPE_CHECKING, Any

from sanic import Sanic
from sanic.exceptions import NotFound
from sanic.request import Request
from sanic.response import HTTPResponse, html, json
from tamarco.core import payloads

if TYPE_CHECKING:
    from tamarco.core.contracts._schemas import SchemaRegistry

__all__ = ["OPENAPI_ROUTE_NAMES", "add_openapi_routes", "openapi_paths"]

#: Route names of the documents themselves and of the no-routes placeholder: not described.
OPENAPI_ROUTE_NAMES = ("tamarco_openapi_json", "tamarco_openapi_docs", "tamarco_no_routes")
_PARAMETER = re.compile(r"<([^:>]+)(?::([^>]+))?>")
_LABELS = {
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "number": {"type": "number"},
    "uuid": {"type": "string", "format": "uuid"},
    "ymd": {"type": "string", "format": "date"},
}
_BODY_METHODS = {"POST", "PUT", "PATCH"}


def _route_name(route: Any) -> str:
    return str(route.name).rsplit(".", 1)[-1]


def openapi_paths(app: Sanic, schemas: SchemaRegistry) -> dict[str, Any]:
    """The ``paths`` object of ``app``'s routes."""
    paths: dict[str, Any] = {}
    for route in sorted(app.router.routes, key=lambda found: str(found.path)):
        if _route_name(route) in OPENAPI_ROUTE_NAMES:
            continue
        parameters = []
        for name, label in _PARAMETER.findall(str(route.path)):
            schema = _LABELS.get(label.split(":", 1)[0], {"type": "string"})
            parameters.append({"name": name, "in": "path", "required": True, "schema": dict(schema)})
        path = "/" + _PARAMETER.sub(lambda match: "{" + match.group(1) + "}", str(route.path)).lstrip("/")
        item = paths.setdefault(path, {})
        for method in sorted(route.methods):
            if method in ("HEAD", "OPTIONS") and len(route.methods) > 1:
                continue
            item[method.lower()] = _operation(route, method, parameters, schemas)
    return paths


def _operation(route: Any, method: str, parameters: list[dict[str, Any]], schemas: SchemaRegistry) -> dict[str, Any]:
    handler = route.handler
    operation: dict[str, Any] = {"operationId": f"{_route_name(route)}.{method.lower()}"}
    doc = inspect.getdoc(handler)
    if doc:
        operation["summary"] = doc.splitlines()[0]
        if "\n" in doc:
            operation["description"] = doc
    if parameters:
        operation["parameters"] = parameters
    try:
        signature = inspect.signature(handler, eval_str=True)
    except (NameError, TypeError, ValueError):
        signature = None
    if signature is not None and method in _BODY_METHODS:
        for parameter in signature.parameters.values():
            kind = payloads.payload_type(parameter.annotation)
            if kind is not None:
                operation["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": schemas.ref(kind)}},
                }
                break
    response: dict[str, Any] = {"description": "OK"}
    if signature is not None:
        kind = payloads.payload_type(signature.return_annotation)
        if kind is not None:
            response["content"] = {"application/json": {"schema": schemas.ref(kind)}}
    operation["responses"] = {"200": response}
    return operation


def add_openapi_routes(app: Sanic, resource: Any) -> None:
    """Serve ``GET /openapi.json`` (``resource``'s document) and ``GET /docs`` (an offline HTML
    page of it) on ``app`` while ``resource.openapi_enabled`` (404 otherwise: the routes stay,
    since Sanic keeps an app's routes across restarts). Built at the first request
    (``tamarco.core.contracts`` is imported then, not at every service's start:
    tests/test_start_imports.py)."""
    cache: dict[str, Any] = {}

    def document() -> dict[str, Any]:
        from tamarco.core import contracts

        if not resource.openapi_enabled:
            raise NotFound("the OpenAPI document is switched off (setting openapi)")
        if "document" not in cache:
            cache["document"] = contracts.openapi_document(resource.microservice, str(resource.name))
        return cache["document"]  # type: ignore[no-any-return]

    async def openapi_json(request: Request) -> HTTPResponse:
        return json(document())

    async def openapi_docs(request: Request) -> HTTPResponse:
        from tamarco.core import contracts

        return html(contracts.openapi_html(document()))

    app.add_route(openapi_json, "/openapi.json", methods=["GET"], name="tamarco_openapi_json")
    app.add_route(openapi_docs, "/docs", methods=["GET"], name="tamarco_openapi_docs")
