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
import time
from collections.abc import Callable, Iterable
from inspect import isawaitable
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

    Labelled meters are looked up once per (route, method[, status]) and kept, so a request
    costs two dict lookups, one ``inc()`` and one ``observe()``.
    """

    def __init__(self, server_name: str, counter_class: Any, summary_class: Any) -> None:
        self.server_name = server_name
        self.requests = counter_class("http_requests", "requests")
        self.duration = summary_class("http_request_duration", "seconds")
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._summaries: dict[tuple[str, str], Any] = {}

    def record(self, route: str, method: str, status: int, seconds: float | None) -> None:
        """Count one response; observe its duration when known."""
        counter = self._counters.get((route, method, status))
        if counter is None:
            labels = {"server": self.server_name, "route": route, "method": method, "status_code": str(status)}
            counter = self._counters[(route, method, status)] = self.requests.new_labels(labels)
        counter.inc()
        if seconds is not None:
            summary = self._summaries.get((route, method))
            if summary is None:
                labels = {"server": self.server_name, "route": route, "method": method}
                summary = self._summaries[(route, method)] = self.duration.new_labels(labels)
            summary.observe(seconds)


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

    @functools.wraps(handler)
    async def metered(request: Request, *args: Any, **kwargs: Any) -> Any:
        meters = get_meters()
        if meters is None:
            result = handler(request, *args, **kwargs)
            return await result if isawaitable(result) else result
        started = time.perf_counter()
        try:
            result = handler(request, *args, **kwargs)
            if isawaitable(result):
                result = await result
        except Exception as error:
            status = error.status_code if isinstance(error, SanicException) else 500
            meters.record(route, request.method, status, time.perf_counter() - started)
            raise
        meters.record(route, request.method, int(getattr(result, "status", 200)), time.perf_counter() - started)
        return result

    setattr(metered, _METERED, True)
    return metered
