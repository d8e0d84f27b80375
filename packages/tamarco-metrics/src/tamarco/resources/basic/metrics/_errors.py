"""Exceptions of tamarco-metrics. Each names the meter, label or setting involved."""

from __future__ import annotations

from tamarco.core.settings.reader import SettingValueError

__all__ = ["InvalidMetricNameError", "MeterConflictError", "MetricsError", "MetricsSettingsError"]


class MetricsError(Exception):
    """Base class of the metrics errors."""


class InvalidMetricNameError(MetricsError, ValueError):
    """A meter or label name is not a valid Prometheus name (or is reserved)."""


class MeterConflictError(MetricsError, ValueError):
    """A meter name is already used by a meter of another type or unit."""


class MetricsSettingsError(MetricsError, SettingValueError):
    """A ``system.resources.metrics`` setting is invalid (a ``ValueError``, an expected start
    failure); the message names the full key, or each of the wrong ones."""
