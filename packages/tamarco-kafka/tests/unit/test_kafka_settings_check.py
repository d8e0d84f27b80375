"""The keys of ``system.resources.<kafka resource>``: every documented one taken, any other
refused naming its full key before anything connects."""

from __future__ import annotations

from typing import Any

import pytest
from tamarco.core.errors import ResourceSettingsError
from tamarco.core.logging.testing import capture_logs
from tamarco.core.messaging import InMemoryTransport
from tamarco.core.microservice import MicroserviceContext
from tamarco.resources.bases import StatusCodes
from tamarco.resources.io.kafka import KafkaInput, KafkaOutput, KafkaResource

#: Every key docs/kafka.md and docs/messaging.md list for a Kafka resource.
DOCUMENTED = {
    "bootstrap_servers": "127.0.0.1:9092",
    "client_id": "herd",
    "group_id": "herd",
    "security_protocol": "PLAINTEXT",
    "producer": {"acks": "all", "linger_ms": 5},
    "consumer": {"auto_offset_reset": "latest", "max_poll_records": 10},
    "auto_create_topics": False,
    "commit_interval_seconds": 1,
    "revocation_timeout_seconds": 5,
    "health_check_interval_seconds": 2,
    "connection_timeout": 10,
    "drain_timeout_seconds": 2,
    "delivery": {"max_concurrency": 2},
    "inputs": {"metrics": {"max_concurrency": 1}},
}


def service_with(settings: dict[str, Any], **resources: KafkaResource) -> MicroserviceContext:
    service_class = type("Herd", (MicroserviceContext,), {"name": "herd", "use_default_resources": False, **resources})
    service = service_class(environ={})
    service.settings.update_internal({"system": {"resources": settings}})
    return service


async def test_every_documented_key_is_taken() -> None:
    kafka = KafkaResource(inputs=[KafkaInput("metrics")], transport=InMemoryTransport())
    async with service_with({"kafka": DOCUMENTED}, kafka=kafka):
        assert kafka.status_code is StatusCodes.STARTED


async def test_wrong_keys_in_two_resources_fail_together_and_neither_connects() -> None:
    first = KafkaResource(inputs=[KafkaInput("metrics")])
    second = KafkaResource(outputs=[KafkaOutput("metrics")])
    settings = {
        # Nothing listens on port 1: a connection attempt would be logged and retried for 30 s.
        "first": {"bootstrap_servers": "127.0.0.1:1", "bootstrap_server": "x", "connection_timeout": 30},
        "second": {"bootstrap_servers": "127.0.0.1:1", "commit_interval_seconds": 0, "connection_timeout": 30},
    }
    service = service_with(settings, first=first, second=second)
    with capture_logs() as logs:
        with pytest.raises(ResourceSettingsError) as raised:
            await service.start()
        await service.stop()
    text = str(raised.value)
    assert "wrong settings in 2 resources ('first', 'second')" in text
    assert "setting system.resources.first.bootstrap_server is unknown (known: auto_create_topics" in text
    assert "setting system.resources.second.commit_interval_seconds must be a number of seconds > 0, got 0" in text
    assert first.transport is None and second.transport is None
    assert not [message for message in logs.messages if "connect" in message], logs.messages
