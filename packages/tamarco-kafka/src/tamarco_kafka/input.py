"""Deprecated 0.1 path: import from ``tamarco.resources.io.kafka.input`` (the same classes)."""

import warnings

from tamarco.resources.io.kafka.input import KafkaInput

__all__ = ["KafkaInput"]

warnings.warn(
    "tamarco_kafka.input is deprecated: import from tamarco.resources.io.kafka.input",
    DeprecationWarning,
    stacklevel=2,
)
