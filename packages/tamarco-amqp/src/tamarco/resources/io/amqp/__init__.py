"""tamarco-amqp: publish/subscribe, push/pull and request/response on RabbitMQ (aio-pika).

::

    from tamarco.resources.io.amqp import AMQPOutput, AMQPPullInput, AMQPResource

The 0.1 module paths work too: ``tamarco.resources.io.amqp.{input,output,resource}``.
See docs/amqp.md.
"""

from tamarco.resources.io.amqp._config import AMQPConfig
from tamarco.resources.io.amqp._delivery import AMQPDelivery
from tamarco.resources.io.amqp._naming import AMQPNames
from tamarco.resources.io.amqp._rpc import DIRECT_REPLY_TO
from tamarco.resources.io.amqp._transport import AMQPTransport
from tamarco.resources.io.amqp.input import AMQPInput, AMQPPullInput, AMQPRequestInput, AMQPSubscriptionInput
from tamarco.resources.io.amqp.output import AMQPGenericOutput, AMQPOutput
from tamarco.resources.io.amqp.resource import AMQPResource

__all__ = [
    "DIRECT_REPLY_TO",
    "AMQPConfig",
    "AMQPDelivery",
    "AMQPGenericOutput",
    "AMQPInput",
    "AMQPNames",
    "AMQPOutput",
    "AMQPPullInput",
    "AMQPRequestInput",
    "AMQPResource",
    "AMQPSubscriptionInput",
    "AMQPTransport",
]
