"""What users' unit tests do: a Kafka service's handlers on the in-memory transport."""

from __future__ import annotations

import asyncio
from typing import Any

from tamarco.codecs import JsonCodec
from tamarco.core.messaging.testing import serving, use_in_memory
from tamarco.core.microservice import Microservice, task
from tamarco.harness.messaging_suite import wait_until
from tamarco.resources.io.kafka import KafkaInput, KafkaOutput, KafkaResource


class MetricsService(Microservice):
    name = "kafka_in_memory"
    use_default_resources = False

    metrics_input = KafkaInput(topic="metrics", codec=JsonCodec)
    metrics_output = KafkaOutput(topic="metrics", codec=JsonCodec)
    kafka = KafkaResource(inputs=[metrics_input], outputs=[metrics_output])
    audit: list[Any]
    streamed: list[Any]

    def __init__(self) -> None:
        super().__init__(environ={})
        self.audit = []
        self.streamed = []

    @KafkaInput(resource=kafka, topic="metrics", group_id="auditors", codec=JsonCodec, name="audit")
    async def audit_metric(self, message: Any) -> None:
        self.audit.append(message)

    @task
    async def consume(self) -> None:
        async for metric in self.metrics_input:
            self.streamed.append(metric)


async def test_each_group_gets_every_message_in_memory() -> None:
    service = MetricsService()
    broker = use_in_memory(service)
    async with serving(service):
        await service.metrics_output.push({"cow": "MOOOO"})
        await service.kafka.outputs["metrics"].send({"cat": "MEOW"}, key="cat")
        await wait_until(lambda: len(service.audit) == 2 and len(service.streamed) == 2, 5, "both groups")
    assert service.audit == [{"cow": "MOOOO"}, {"cat": "MEOW"}]
    assert service.streamed == [{"cow": "MOOOO"}, {"cat": "MEOW"}]
    assert broker.pending("metrics") == 0


class RawService(Microservice):
    """0.1's ``codec=None``: raw bytes in and out."""

    name = "kafka_raw"
    use_default_resources = False

    raw_output = KafkaOutput(topic="raw", codec=None)
    kafka = KafkaResource(outputs=[raw_output])
    received: list[Any]

    def __init__(self) -> None:
        super().__init__(environ={})
        self.received = []

    @KafkaInput(resource=kafka, topic="raw", codec=None)
    async def on_raw(self, message: Any) -> None:
        self.received.append(message)


async def test_codec_none_is_raw_bytes_in_and_out() -> None:
    service = RawService()
    use_in_memory(service)
    async with serving(service):
        await service.raw_output.push(b"\x00\xffraw")
        await wait_until(lambda: len(service.received) == 1, 5, "the raw message")
    assert service.received == [b"\x00\xffraw"]


class StalledService(Microservice):
    name = "kafka_stalled"
    use_default_resources = False

    kafka = KafkaResource(outputs=[KafkaOutput(topic="hay")])

    @KafkaInput(resource=kafka, topic="hay", handler_timeout_seconds=0.05, retry={"attempts": 1})
    async def on_hay(self, message: Any) -> None:
        await asyncio.Event().wait()


async def test_a_handler_past_the_timeout_given_in_code_is_cancelled_and_dead_lettered() -> None:
    service = StalledService(environ={})
    broker = use_in_memory(service)
    async with serving(service):
        await service.kafka.outputs["hay"].push({"bale": 1})
        [letter] = await broker.wait_dead_letters("hay", 1)
        timeout = service.kafka.consumers["hay"].policy.handler_timeout_seconds
    assert letter.headers["x-tamarco-error-type"] == "HandlerTimeoutError"
    assert timeout == 0.05
