"""A Kafka resource with no bootstrap_servers setting connects to the broker `tamarco-harness up`
printed (TAMARCO_KAFKA_BOOTSTRAP_SERVERS); a bootstrap_servers setting wins over it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tamarco.core.microservice import MicroserviceContext
from tamarco.resources.io.kafka import KafkaInput, KafkaOutput, KafkaResource

pytestmark = pytest.mark.functional


async def test_the_printed_variables_connect_a_resource_without_bootstrap_servers(
    kafka_service: Any, kafka_case: Any, unique_name: str
) -> None:
    topic = f"{unique_name}-env"
    await kafka_case.create_topics(topic)

    class Service(MicroserviceContext):
        name = "kafka_env"
        kafka = KafkaResource(outputs=[KafkaOutput(topic)])
        stream = KafkaInput(topic=topic)

    Service.kafka.add_input(Service.stream)
    service = Service(environ=kafka_service.env())
    settings = kafka_case.settings()
    del settings["bootstrap_servers"]  # the address comes from the environment only
    service.settings.update_internal({"system": {"resources": {"kafka": settings}}})
    async with service:
        await service.kafka.outputs[topic].push("hi")
        assert await asyncio.wait_for(service.stream.__anext__(), 20) == "hi"


def test_a_bootstrap_servers_setting_wins_over_the_environment() -> None:
    from tamarco.core.settings import Settings, SettingsView

    async def address(kafka: dict[str, Any]) -> str:
        settings = Settings("kafka_env", environ={"TAMARCO_KAFKA_BOOTSTRAP_SERVERS": "from-env:9092"})
        settings.update_internal({"system": {"resources": {"kafka": kafka}}})
        await settings.start()
        resource = KafkaResource()
        await resource.configure_settings(SettingsView(settings, "system.resources.kafka"))
        transport: Any = resource.create_transport()
        return str(transport.config.address)

    assert asyncio.run(address({"bootstrap_servers": "from-settings:9092"})) == "from-settings:9092"
    assert asyncio.run(address({})) == "from-env:9092"
