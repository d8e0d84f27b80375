"""Deprecated 0.1 path: import from ``tamarco.resources.io.amqp.input`` (the same classes)."""

import warnings

from tamarco.resources.io.amqp.input import AMQPInput, AMQPPullInput, AMQPRequestInput, AMQPSubscriptionInput

__all__ = ["AMQPInput", "AMQPPullInput", "AMQPRequestInput", "AMQPSubscriptionInput"]

warnings.warn(
    "tamarco_amqp.input is deprecated: import from tamarco.resources.io.amqp.input",
    DeprecationWarning,
    stacklevel=2,
)
