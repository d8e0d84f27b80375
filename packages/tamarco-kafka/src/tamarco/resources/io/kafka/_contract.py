"""How a Kafka resource appears in the service's AsyncAPI document (Kafka bindings 0.5.0):
one channel per topic an input reads (with its consumer group) or an output writes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tamarco.core.messaging import ChannelDescription, MessageOutput
from tamarco.resources.io.kafka._config import KafkaConfig

if TYPE_CHECKING:
    from tamarco.resources.io.kafka.input import KafkaInput

__all__ = ["kafka_channels", "kafka_servers"]

_VERSION = {"bindingVersion": "0.5.0"}
_KEY = {"kafka": {"key": {"type": "string", "description": "the partitioning key, if any"}, **_VERSION}}


def kafka_servers(name: str, config: KafkaConfig) -> dict[str, dict[str, Any]]:
    """One AsyncAPI server per bootstrap server (no SASL user or password)."""
    secure = config.security_protocol != "PLAINTEXT"
    servers: dict[str, dict[str, Any]] = {}
    for number, address in enumerate(config.bootstrap_servers):
        key = name if len(config.bootstrap_servers) == 1 else f"{name}.{number}"
        servers[key] = {
            "host": address,
            "protocol": "kafka-secure" if secure else "kafka",
            "description": f"Kafka bootstrap server of resource {name} ({config.security_protocol})",
        }
    return servers


def kafka_channels(io: KafkaInput[Any] | MessageOutput, config: KafkaConfig, group: str) -> list[ChannelDescription]:
    """The topics ``io`` reads (as consumer group ``group`` unless the input names its own) or writes."""
    if isinstance(io, MessageOutput):
        topic = io.destination
        return [
            ChannelDescription(
                "send",
                topic,
                "send",
                f"topic {topic}",
                channel_bindings={"kafka": {"topic": topic, **_VERSION}},
                operation_bindings={"kafka": {"clientId": {"type": "string", "enum": [config.client_id]}, **_VERSION}},
                message_bindings=_KEY,
            )
        ]
    group_id = io.group_id or group
    receive = {
        "kafka": {
            "groupId": {"type": "string", "enum": [group_id]},
            "clientId": {"type": "string", "enum": [config.client_id]},
            **_VERSION,
        }
    }
    pattern = io.topic_pattern
    if pattern is not None:
        return [
            ChannelDescription(
                "pattern",
                pattern,
                "receive",
                f"every topic matching the regular expression {pattern} (consumer group {group_id})",
                operation_bindings=receive,
                message_bindings=_KEY,
            )
        ]
    return [
        ChannelDescription(
            topic if len(io.topics) > 1 else "receive",
            topic,
            "receive",
            f"topic {topic}, consumer group {group_id}",
            channel_bindings={"kafka": {"topic": topic, **_VERSION}},
            operation_bindings=receive,
            message_bindings=_KEY,
            dead_letter=io.dead_letter_topic_for(topic),
        )
        for topic in io.topics
    ]
