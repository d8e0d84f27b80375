"""Per-route request meters for :class:`HTTPServerResource`, only when tamarco-metrics is there.

:func:`request_meters` imports ``tamarco.resources.basic.metrics`` lazily. Without that package,
when the service has no metrics resource to export the meters (a ``MicroserviceContext``, a
service with ``metrics = None``), or with the ``metrics`` setting false, it returns ``None`` and
the server runs no meter middleware at all: no cost per request.

The meters are created at each start of the server, inside the service's start, so they land
in that service's meter scope (see tamarco-metrics) and not in the process-wide one.

Meters (the metrics resource adds the service-name prefix):

- ``http_requests`` (counter, unit ``requests``), labels ``server``, ``route``, ``method``,
  ``status_code``;
- ``http_request_duration`` (summary, unit ``seconds``), labels ``server``, ``route``,
  ``method``.

``route`` is the route's pattern (``/items/<item_id:int>``), never the raw path, so the number of
series stays bounded; requests that match no route are counted under ``route="unmatched"``.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterable
from typing import Any

from sanic.request import Request

__all__ = ["METRICS_MODULE", "RequestMeters", "request_meters"]

METRICS_MODULE = "tamarco.resources.basic.metrics"
UNMATCHED_ROUTE = "unmatched"


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
    """The request/response middleware pair that feeds the per-route meters.

    Labelled meters are looked up once per (route, method[, status]) and kept, so a request
    costs two dict lookups, one ``inc()`` and one ``observe()``.
    """

    def __init__(self, server_name: str, counter_class: Any, summary_class: Any) -> None:
        self.server_name = server_name
        self.requests = counter_class("http_requests", "requests")
        self.duration = summary_class("http_request_duration", "seconds")
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._summaries: dict[tuple[str, str], Any] = {}

    async def on_request(self, request: Request) -> None:
        request.ctx.tamarco_started = time.perf_counter()

    async def on_response(self, request: Request, response: Any) -> None:
        started = getattr(request.ctx, "tamarco_started", None)
        route = f"/{request.route.path}" if request.route is not None else UNMATCHED_ROUTE
        method = request.method
        status = int(getattr(response, "status", 0) or 0)
        counter = self._counters.get((route, method, status))
        if counter is None:
            labels = {"server": self.server_name, "route": route, "method": method, "status_code": str(status)}
            counter = self._counters[(route, method, status)] = self.requests.new_labels(labels)
        counter.inc()
        if started is not None:
            summary = self._summaries.get((route, method))
            if summary is None:
                labels = {"server": self.server_name, "route": route, "method": method}
                summary = self._summaries[(route, method)] = self.duration.new_labels(labels)
            summary.observe(time.perf_counter() - started)
