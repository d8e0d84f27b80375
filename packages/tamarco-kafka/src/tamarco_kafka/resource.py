"""Deprecated 0.1 path: import from ``tamarco.resources.io.kafka.resource`` (the same classes)."""

import warnings

from tamarco.resources.io.kafka.resource import KafkaResource

__all__ = ["KafkaResource"]

warnings.warn(
    "tamarco_kafka.resource is deprecated: import from tamarco.resources.io.kafka.resource",
    DeprecationWarning,
    stacklevel=2,
)
