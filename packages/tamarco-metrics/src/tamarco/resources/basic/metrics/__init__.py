"""Tamarco metrics: meters and the resource that exports them.

Meters (flyweights: the same name and labels give the same object wherever it is created)::

    from tamarco.resources.basic.metrics import Counter, Gauge, Summary

    requests = Counter("http_requests", "requests")
    requests.new_labels({"status_code": 404}).inc()

:class:`MetricsResource` is every Microservice's default resource ``metrics``: ``GET /metrics``
on the report server (Prometheus) and the carbon, file and stdout handlers. See
``docs/metrics.md``.

This package is also the implementation of core's instrumentation API
(:mod:`tamarco.core.instrumentation`, entry point ``tamarco.instrumentation``): packages that
must not depend on tamarco-metrics record through that API, into these same meters.
"""

from tamarco.resources.basic.metrics._errors import (
    InvalidMetricNameError,
    MeterConflictError,
    MetricsError,
    MetricsSettingsError,
)
from tamarco.resources.basic.metrics._handlers import CarbonHandler, FileHandler, LinesHandler, StdoutHandler
from tamarco.resources.basic.metrics._meters import (
    DEFAULT_AGE_BUCKETS,
    DEFAULT_MAX_SAMPLES,
    DEFAULT_QUANTILES,
    DEFAULT_WINDOW_SECONDS,
    BaseMeter,
    Counter,
    Gauge,
    MeterFlyweight,
)
from tamarco.resources.basic.metrics._resource import MetricsResource
from tamarco.resources.basic.metrics._scope import GLOBAL_SCOPE, MeterScope, current_scope, meter_scope
from tamarco.resources.basic.metrics._summary import Summary
from tamarco.resources.basic.metrics._timer import ExceptionMonitor, Timer

__all__ = [
    "DEFAULT_AGE_BUCKETS",
    "DEFAULT_MAX_SAMPLES",
    "DEFAULT_QUANTILES",
    "DEFAULT_WINDOW_SECONDS",
    "GLOBAL_SCOPE",
    "BaseMeter",
    "CarbonHandler",
    "Counter",
    "ExceptionMonitor",
    "FileHandler",
    "Gauge",
    "InvalidMetricNameError",
    "LinesHandler",
    "MeterConflictError",
    "MeterFlyweight",
    "MeterScope",
    "MetricsError",
    "MetricsResource",
    "MetricsSettingsError",
    "StdoutHandler",
    "Summary",
    "TamarcoCollector",
    "Timer",
    "current_scope",
    "meter_scope",
]


def __getattr__(name: str) -> object:
    # prometheus-client is imported when the exposition is first used, not by every service's start.
    if name == "TamarcoCollector":
        from tamarco.resources.basic.metrics._prometheus import TamarcoCollector

        return TamarcoCollector
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
