"""Deprecated 0.1 path: import from ``tamarco.resources.io.amqp.output`` (the same classes)."""

import warnings

from tamarco.resources.io.amqp.output import AMQPGenericOutput, AMQPOutput

__all__ = ["AMQPGenericOutput", "AMQPOutput"]

warnings.warn(
    "tamarco_amqp.output is deprecated: import from tamarco.resources.io.amqp.output",
    DeprecationWarning,
    stacklevel=2,
)
