"""Typed HTTP handlers: a handler parameter annotated with a payload type (pydantic model,
dataclass, ``TypedDict``, msgspec ``Struct``) receives the request's JSON body validated into it,
and a handler returning an instance of its return annotation's payload type answers it as JSON::

    @server.app.route("/orders", methods=["POST"])
    async def create(request: Request, order: Order) -> Receipt:
        return Receipt(order_id=order.id)

An invalid body is answered ``422`` with the validation errors (field paths and error types,
never the values), a body that is not JSON ``400``; the handler is not called. The OpenAPI
document describes the same types (``_openapi``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, json
from tamarco.codecs.interface import DecodeError
from tamarco.core import payloads

__all__ = ["type_route_handlers"]


def type_route_handlers(app: Sanic) -> None:
    """Wrap the handlers of ``app``'s routes that are typed (once each)."""
    for route in app.router.routes:
        typed = _typed(route.handler)
        if typed is not None:
            route.handler = typed


def _typed(handler: Callable[..., Any]) -> Callable[..., Awaitable[Any]] | None:
    if getattr(handler, "_tamarco_typed", False):
        return None
    try:
        signature = inspect.signature(handler, eval_str=True)
    except (NameError, TypeError, ValueError):
        return None
    body: tuple[str, payloads.PayloadType] | None = None
    for parameter in list(signature.parameters.values())[1:]:  # after the request
        kind = payloads.payload_type(parameter.annotation)
        if kind is not None:
            body = (parameter.name, kind)
            break
    reply = payloads.payload_type(signature.return_annotation)
    if body is None and reply is None:
        return None

    @functools.wraps(handler)
    async def typed(request: Request, **kwargs: Any) -> Any:
        if body is not None:
            name, kind = body
            try:
                kwargs[name] = kind.from_json(request.body or b"")
            except payloads.PayloadValidationError as error:
                return json({"error": f"invalid {kind.name}", "errors": error.errors}, status=422)
            except DecodeError:
                return json({"error": f"the request body is not a JSON {kind.name}"}, status=400)
        result = await handler(request, **kwargs)
        if reply is not None and reply.accepts(result):
            return HTTPResponse(reply.to_json(result), content_type="application/json")
        return result

    typed._tamarco_typed = True  # type: ignore[attr-defined]
    return typed
