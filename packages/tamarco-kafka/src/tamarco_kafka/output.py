"""Deprecated 0.1 path: import from ``tamarco.resources.io.kafka.output`` (the same classes)."""

import warnings

from tamarco.resources.io.kafka.output import KafkaOutput

__all__ = ["KafkaOutput"]

warnings.warn(
    "tamarco_kafka.output is deprecated: import from tamarco.resources.io.kafka.output",
    DeprecationWarning,
    stacklevel=2,
)
