"""Per-route request meters for :class:`HTTPServerResource`, only when tamarco-metrics is there.

:func:`request_meters` imports ``tamarco.resources.basic.metrics`` lazily. Without that package,
when the service has no metrics resource to export the meters (a ``MicroserviceContext``, a
service with ``metrics = None``), or with the ``metrics`` setting false, it returns ``None`` and
requests are not measured: no cost per request beyond one attribute check.

The meters are created at each start of the server, inside the service's start, so they land
in that service's meter scope (see tamarco-metrics) and not in the process-wide one.

Meters (the metrics resource adds the service-name prefix):

- ``http_requests`` (counter, unit ``requests``), labels ``server``, ``route``, ``method``,
  ``status_code``;
- ``http_request_duration`` (summary, unit ``seconds``), labels ``server``, ``route``,
  ``method``.

``route`` is the route's pattern (``/items/<item_id:int>``), never the raw path, so the number of
series stays bounded; requests that match no route are counted under ``route="unmatched"``.

Measuring wraps each route handler (:func:`metered_handler`) instead of adding Sanic request
and response middleware: a middleware pair costs Sanic about 10% of its hello-world throughput,
a wrapper one coroutine call.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable, Iterable
from time import perf_counter
from typing import Any

from sanic.exceptions import SanicException
from sanic.request import Request

__all__ = ["METRICS_MODULE", "UNMATCHED_ROUTE", "RequestMeters", "metered_handler", "request_meters"]

METRICS_MODULE = "tamarco.resources.basic.metrics"
UNMATCHED_ROUTE = "unmatched"
_METERED = "__tamarco_metered__"


def request_meters(server_name: str, resources: Iterable[object] | None = None) -> RequestMeters | None:
    """The meters of one server, or ``None`` when nothing would export them.

    ``resources`` are the service's resources: without a ``MetricsResource`` among them the
    meters would only pile up unexported, so none are created. ``None`` skips that check.
    """
    try:
        metrics = importlib.import_module(METRICS_MODULE)
        counter_class, summary_class = metrics.Counter, metrics.Summary
    except (ImportError, AttributeError):
        return None
    exporter = getattr(metrics, "MetricsResource", None)
    if resources is not None and exporter is not None and not any(isinstance(r, exporter) for r in resources):
        return None
    return RequestMeters(server_name, counter_class, summary_class)


class RequestMeters:
    """The request counter and latency summary of one server.

    The labelled meters of each (route, method, status) are looked up once and kept, so a
    request costs one dict lookup, one ``inc()`` and one ``observe()``.
    """

    def __init__(self, server_name: str, counter_class: Any, summary_class: Any) -> None:
        self.server_name = server_name
        self.requests = counter_class("http_requests", "requests")
        self.duration = summary_class("http_request_duration", "seconds")
        self._meters: dict[tuple[str, str, int], tuple[Callable[[], None], Callable[[float], None] | None]] = {}

    def record(self, route: str, method: str, status: int, seconds: float | None) -> None:
        """Count one response; observe its duration when known."""
        meters = self._meters.get((route, method, status))
        if meters is None or (seconds is not None and meters[1] is None):
            meters = self._labelled(route, method, status, with_duration=seconds is not None)
        meters[0]()
        if seconds is not None:
            meters[1](seconds)  # type: ignore[misc]

    def _labelled(
        self, route: str, method: str, status: int, with_duration: bool
    ) -> tuple[Callable[[], None], Callable[[float], None] | None]:
        """The labelled meters' bound methods (a summary only once a duration is known, so
        that unmatched requests, counted without one, export no empty summary)."""
        labels = {"server": self.server_name, "route": route, "method": method}
        counter = self.requests.new_labels({**labels, "status_code": str(status)})
        observe = self.duration.new_labels(labels).observe if with_duration else None
        meters = self._meters[(route, method, status)] = (counter.inc, observe)
        return meters


def route_label(request: Request) -> str:
    """The ``route`` label of a request: its route's pattern, or ``unmatched``."""
    route = request.route
    return f"/{route.path}" if route is not None else UNMATCHED_ROUTE


def is_metered(handler: Callable[..., Any]) -> bool:
    return bool(getattr(handler, _METERED, False))


def metered_handler(
    handler: Callable[..., Any], route_path: str, get_meters: Callable[[], RequestMeters | None]
) -> Callable[..., Any]:
    """``handler`` measured with the meters ``get_meters()`` returns at each request (if any)."""
    route = f"/{route_path}"

    if inspect.iscoroutinefunction(handler):

        @functools.wraps(handler)
        async def metered(request: Request, *args: Any, **kwargs: Any) -> Any:
            meters = get_meters()
            if meters is None:
                return await handler(request, *args, **kwargs)
            started = perf_counter()
            try:
                result = await handler(request, *args, **kwargs)
            except Exception as error:
                meters.record(route, request.method, _error_status(error), perf_counter() - started)
                raise
            meters.record(route, request.method, getattr(result, "status", 200), perf_counter() - started)
            return result

    else:  # a plain function (Sanic accepts those too), maybe returning an awaitable

        @functools.wraps(handler)
        async def metered(request: Request, *args: Any, **kwargs: Any) -> Any:
            meters = get_meters()
            started = perf_counter()
            try:
                result = handler(request, *args, **kwargs)
                if inspect.isawaitable(result):
                    result = await result
            except Exception as error:
                if meters is not None:
                    meters.record(route, request.method, _error_status(error), perf_counter() - started)
                raise
            if meters is not None:
                meters.record(route, request.method, getattr(result, "status", 200), perf_counter() - started)
            return result

    setattr(metered, _METERED, True)
    return metered


def _error_status(error: Exception) -> int:
    return error.status_code if isinstance(error, SanicException) else 500
