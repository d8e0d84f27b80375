"""Validation of meter and label names, and the small name transformations exporters need."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tamarco.resources.basic.metrics._errors import InvalidMetricNameError

#: Prometheus metric and label names, without the colon (reserved for recording rules).
_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
_NOT_NAME_CHAR = re.compile(r"[^a-zA-Z0-9_]")
_NOT_GRAPHITE_CHAR = re.compile(r"[^a-zA-Z0-9_\-]")

#: Labels the exporters add themselves: a meter cannot declare them.
RESERVED_LABELS = frozenset({"deploy_name"})
#: Only a summary reserves ``quantile`` (its exposition uses it).
SUMMARY_RESERVED_LABELS = frozenset({"quantile"})

#: Prometheus base units: a meter whose unit is one of these gets it as a name suffix.
BASE_UNITS = frozenset({"seconds", "bytes", "ratio", "celsius", "meters", "volts", "amperes", "joules", "grams"})


def check_meter_name(name: Any) -> str:
    """Return ``name`` if it is a valid meter name, else raise naming it."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidMetricNameError(
            f"invalid metric name {name!r}: use letters, digits and underscores, not starting with a digit"
        )
    if name.startswith("__"):
        raise InvalidMetricNameError(f"invalid metric name {name!r}: names starting with '__' are reserved")
    return name


def normalize_labels(meter_name: str, labels: Mapping[str, Any] | None, reserved: frozenset[str]) -> dict[str, str]:
    """Labels as ``{name: str(value)}``, checked; raises naming the meter and the bad label."""
    if labels is None:
        return {}
    if not isinstance(labels, Mapping):
        raise TypeError(f"meter {meter_name!r}: labels must be a dict, not {type(labels).__name__}")
    normalized: dict[str, str] = {}
    for label, value in labels.items():
        if not isinstance(label, str) or not _NAME.match(label) or label.startswith("__"):
            raise InvalidMetricNameError(
                f"meter {meter_name!r}: invalid label name {label!r}: use letters, digits and "
                "underscores, not starting with a digit or '__'"
            )
        if label in RESERVED_LABELS or label in reserved:
            raise InvalidMetricNameError(
                f"meter {meter_name!r}: label name {label!r} is reserved (the exporter sets it)"
            )
        normalized[label] = str(value)
    return normalized


def labels_key(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """A hashable, order-independent key for normalized labels."""
    return tuple(sorted(labels.items()))


def prometheus_prefix(service_name: str) -> str:
    """The service name as a Prometheus name prefix (``billing-api`` → ``billing_api``)."""
    prefix = _NOT_NAME_CHAR.sub("_", service_name)
    if not prefix or prefix[0].isdigit():
        prefix = "_" + prefix
    return prefix


def graphite_component(value: str) -> str:
    """One dot-free component of a Graphite path."""
    return _NOT_GRAPHITE_CHAR.sub("_", value) or "_"
