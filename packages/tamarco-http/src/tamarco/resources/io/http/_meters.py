"""Per-route request meters for :class:`HTTPServerResource`, only when tamarco-metrics is there.

:func:`request_meters` imports ``tamarco.resources.basic.metrics`` lazily. Without that package
(or with the ``metrics`` setting false) it returns ``None`` and the server registers no
middleware at all, so an absent metrics package costs nothing per request.

Meters (the metrics resource adds the service-name prefix):

- ``http_requests`` (counter, unit ``requests``), labels ``server``, ``route``, ``method``,
  ``status_code``;
- ``http_request_duration`` (summary, unit ``seconds``), labels ``server``, ``route``,
  ``method``.

``route`` is the route's pattern (``/items/<item_id>``), never the raw path, so the number of
series stays bounded; requests that match no route are counted under ``route="unmatched"``.
"""

from __future__ import annotations

import importlib
import time
from typing import Any

from sanic.request import Request

__all__ = ["METRICS_MODULE", "RequestMeters", "request_meters"]

METRICS_MODULE = "tamarco.resources.basic.metrics"
UNMATCHED_ROUTE = "unmatched"


def request_meters(server_name: str) -> RequestMeters | None:
    """The meters of one server, or ``None`` when tamarco-metrics is not installed."""
    try:
        metrics = importlib.import_module(METRICS_MODULE)
        counter_class, summary_class = metrics.Counter, metrics.Summary
    except (ImportError, AttributeError):
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
        route = request.route.path if request.route is not None else UNMATCHED_ROUTE
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
