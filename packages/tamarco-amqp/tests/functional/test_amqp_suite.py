"""The shared messaging suite on the harness's real RabbitMQ."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import aio_pika
import pytest
from tamarco.core.messaging import MessageInput, MessageOutput, MessagingResource
from tamarco.harness import RabbitMQService
from tamarco.harness.messaging_suite import TIMEOUT, MessagingCase, MessagingSuite
from tamarco.resources.io.amqp import (
    AMQPNames,
    AMQPOutput,
    AMQPPullInput,
    AMQPRequestInput,
    AMQPResource,
    AMQPSubscriptionInput,
)
from tamarco.resources.io.amqp._naming import NamingScheme

# The shared suite on both harness backends: a RabbitMQ process and a RabbitMQ container.
pytestmark = [pytest.mark.functional, pytest.mark.harness_backends("local", "docker")]


class AMQPCase(MessagingCase):
    """The suite's case for RabbitMQ: fresh queue names on the default vhost (a vhost per test
    costs seconds of ``rabbitmqctl``), a ``queues_prefix`` unique to the case."""

    def __init__(self, rabbitmq: RabbitMQService, prefix: str, naming: NamingScheme = "default") -> None:
        self.rabbitmq = rabbitmq
        self.names = AMQPNames(prefix, naming)
        self.prefix = prefix
        self.naming = naming

    def settings(self) -> dict[str, Any]:
        return {
            "host": self.rabbitmq.host,
            "port": self.rabbitmq.port,
            "vhost": "/",
            "user": self.rabbitmq.user,
            "password": self.rabbitmq.password,
            "connection_timeout": 10,
            "queues_prefix": self.prefix,
            "naming": self.naming,
        }

    def resource(self, inputs: Sequence[MessageInput] = (), outputs: Sequence[MessageOutput] = ()) -> MessagingResource:
        return AMQPResource(inputs=list(inputs), outputs=list(outputs))

    def pull_input(self, source: str, **kwargs: Any) -> MessageInput:
        return AMQPPullInput(source, **kwargs)

    def subscription_input(self, source: str, **kwargs: Any) -> MessageInput:
        return AMQPSubscriptionInput(source, **kwargs)

    def request_input(self, source: str, **kwargs: Any) -> MessageInput:
        return AMQPRequestInput(source, **kwargs)

    def output(self, destination: str, **kwargs: Any) -> MessageOutput:
        return AMQPOutput(destination, **kwargs)

    async def push_raw(self, resource: MessagingResource, destination: str, body: bytes) -> None:
        async with await aio_pika.connect(self.rabbitmq.url) as connection:
            channel = await connection.channel()
            name = self.names.push_queue(destination)
            await channel.declare_queue(name, durable=True)
            await channel.default_exchange.publish(aio_pika.Message(body), routing_key=name)

    async def dead_letters(
        self, source: str, count: int, timeout: float = TIMEOUT
    ) -> list[tuple[bytes, dict[str, Any]]]:
        letters: list[tuple[bytes, dict[str, Any]]] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with await aio_pika.connect(self.rabbitmq.url) as connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(self.names.dead_letter_queue(source), durable=True)
            while len(letters) < count:
                message = await queue.get(no_ack=True, fail=False)
                if message is not None:
                    letters.append((message.body, dict(message.headers or {})))
                    continue
                if loop.time() > deadline:
                    raise AssertionError(f"{len(letters)} dead letters of {source!r}, expected {count}")
                await asyncio.sleep(0.02)
        return letters


class TestAMQP(MessagingSuite):
    @pytest.fixture
    def messaging_case(self, rabbitmq_service: RabbitMQService, unique_name: str) -> AMQPCase:
        return AMQPCase(rabbitmq_service, f"{unique_name[-8:]}.")


class TestAMQPNaming01(MessagingSuite):
    """The whole contract (retries, dead letters, drain, requests...) with ``naming: "0.1"``."""

    @pytest.fixture
    def messaging_case(self, rabbitmq_service: RabbitMQService, unique_name: str) -> AMQPCase:
        return AMQPCase(rabbitmq_service, unique_name[-8:], naming="0.1")
