"""Deprecated 0.1 path: import from ``tamarco.resources.io.amqp.resource`` (the same classes)."""

import warnings

from tamarco.resources.io.amqp.resource import AMQPResource

__all__ = ["AMQPResource"]

warnings.warn(
    "tamarco_amqp.resource is deprecated: import from tamarco.resources.io.amqp.resource",
    DeprecationWarning,
    stacklevel=2,
)
