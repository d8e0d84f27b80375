"""tamarco-kafka: Kafka producers and consumer groups (aiokafka) on the core's messaging seam.

``KafkaResource(inputs=[...], outputs=[...])`` with ``KafkaInput(topic, group_id=None,
codec=...)`` (decorator or ``async for``) and ``KafkaOutput(topic, codec=...)``. Delivery is
at-least-once: offsets are committed only past messages whose handler returned; partitions keep
their order; failures are retried, then dead-lettered to ``<topic>.dlq``. See docs/kafka.md.
The 0.1 import paths work: ``tamarco.resources.io.kafka.{input,output,resource}``.
"""

from tamarco.resources.io.kafka._config import DEFAULT_BOOTSTRAP_SERVERS, KafkaConfig
from tamarco.resources.io.kafka._delivery import KafkaDelivery
from tamarco.resources.io.kafka._transport import KafkaTransport, TopicNotFoundError
from tamarco.resources.io.kafka.input import KafkaInput
from tamarco.resources.io.kafka.output import KafkaOutput
from tamarco.resources.io.kafka.resource import KafkaResource

__all__ = [
    "DEFAULT_BOOTSTRAP_SERVERS",
    "KafkaConfig",
    "KafkaDelivery",
    "KafkaInput",
    "KafkaOutput",
    "KafkaResource",
    "KafkaTransport",
    "TopicNotFoundError",
]
