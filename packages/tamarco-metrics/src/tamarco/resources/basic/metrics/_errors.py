"""Exceptions of tamarco-metrics. Each names the meter, label or setting involved."""

from __future__ import annotations

__all__ = ["InvalidMetricNameError", "MeterConflictError", "MetricsError", "MetricsSettingsError"]


class MetricsError(Exception):
    """Base class of the metrics errors."""


class InvalidMetricNameError(MetricsError, ValueError):
    """A meter or label name is not a valid Prometheus name (or is reserved)."""


class MeterConflictError(MetricsError, ValueError):
    """A meter name is already used by a meter of another type or unit."""


class MetricsSettingsError(MetricsError, ValueError):
    """A ``system.resources.metrics`` setting is invalid; the message names the full key."""
