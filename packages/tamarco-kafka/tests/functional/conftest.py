"""The Kafka case of the shared messaging suite, and helpers of the Kafka functional tests."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.partitioner import DefaultPartitioner
from tamarco.core.messaging import MessageInput, MessageOutput, MessagingResource
from tamarco.harness import ServiceProcess
from tamarco.harness.messaging_suite import TIMEOUT, MessagingCase
from tamarco.resources.io.kafka import KafkaInput, KafkaOutput, KafkaResource, KafkaTransport

#: Consumer-group timings for the local broker (tansu joins in about session_timeout/2).
FAST_GROUP = {"session_timeout_ms": 1000, "heartbeat_interval_ms": 200, "rebalance_timeout_ms": 1000}


class KafkaCase(MessagingCase):
    """Kafka in the shared suite: pull inputs of one topic share group ``<topic>.workers``;
    each subscription input is a group of its own; no request/response; partitions are
    ordered streams."""

    supports_request = False
    ordered_streams = True

    def __init__(self, bootstrap_servers: str) -> None:
        self.bootstrap_servers = bootstrap_servers

    async def create_topics(self, *topics: str, partitions: int = 1) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap_servers)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topic, partitions, replication_factor=1) for topic in topics])
        finally:
            await admin.close()

    async def prepare(self, name: str) -> None:
        await self.create_topics(name, f"{name}.dlq")

    async def prepare_streams(self, name: str, count: int) -> list[str]:
        await self.create_topics(name, partitions=count)
        await self.create_topics(f"{name}.dlq")
        return keys_for_partitions(count)

    def resource(self, inputs: Sequence[MessageInput] = (), outputs: Sequence[MessageOutput] = ()) -> MessagingResource:
        return KafkaResource(inputs=list(inputs), outputs=list(outputs))

    def pull_input(self, source: str, **kwargs: Any) -> MessageInput:
        kwargs.setdefault("group_id", f"{source}.workers")
        return KafkaInput(source, **kwargs)

    def subscription_input(self, source: str, **kwargs: Any) -> MessageInput:
        return KafkaInput(source, group_id=f"{source}.sub-{uuid.uuid4().hex[:8]}", **kwargs)

    def output(self, destination: str, **kwargs: Any) -> MessageOutput:
        return KafkaOutput(destination, **kwargs)

    def settings(self) -> dict[str, Any]:
        return {
            "bootstrap_servers": self.bootstrap_servers,
            "consumer": dict(FAST_GROUP),
            "commit_interval_seconds": 0.2,
            "auto_create_topics": False,
        }

    async def push_raw(self, resource: MessagingResource, destination: str, body: bytes) -> None:
        transport = resource.transport
        assert isinstance(transport, KafkaTransport)
        await transport.produce(destination, body)

    async def dead_letters(
        self, source: str, count: int, timeout: float = TIMEOUT
    ) -> list[tuple[bytes, dict[str, Any]]]:
        records = await self.read(f"{source}.dlq", count, timeout)
        return [(record.value, {k: v.decode() for k, v in record.headers}) for record in records]

    async def read(self, topic: str, count: int, timeout: float = TIMEOUT) -> list[Any]:
        """At least ``count`` records of ``topic`` from its start (no group, nothing committed)."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap_servers, enable_auto_commit=False)
        await consumer.start()
        try:
            await consumer.topics()  # fresh metadata
            partitions = consumer.partitions_for_topic(topic) or {0}
            tps = [TopicPartition(topic, p) for p in sorted(partitions)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            records: list[Any] = []
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while len(records) < count:
                if loop.time() > deadline:
                    raise AssertionError(f"{len(records)} records on {topic!r} after {timeout:g} s, expected {count}")
                batch = await consumer.getmany(timeout_ms=200)
                for items in batch.values():
                    records.extend(items)
            return records
        finally:
            await consumer.stop()


def keys_for_partitions(count: int) -> list[str]:
    """One key per partition of a ``count``-partition topic (the producer's default partitioner)."""
    partitioner = DefaultPartitioner()
    found: dict[int, str] = {}
    n = 0
    while len(found) < count:
        key = f"k{n}"
        partition = partitioner(key.encode(), list(range(count)), list(range(count)))
        found.setdefault(partition, key)
        n += 1
    return [found[p] for p in range(count)]


@pytest.fixture
def kafka_case(kafka_service: Any) -> KafkaCase:
    return KafkaCase(kafka_service.bootstrap_servers)


def service_settings(bootstrap_servers: str, **kafka: Any) -> dict[str, Any]:
    """Settings of a service run in a subprocess: its ``kafka`` resource on the harness broker."""
    resource = {"bootstrap_servers": bootstrap_servers, "consumer": dict(FAST_GROUP), **kafka}
    return {
        "system": {
            "logging": {"profile": "DEVELOP"},
            "resources": {"kafka": resource, "tamarco_http_report_server": {"port": 0}},
        }
    }


@pytest.fixture
def service_process() -> Any:
    """``service_process(script, settings, env=None)`` starts a :class:`ServiceProcess`; those
    still running after the test are killed."""
    started: list[ServiceProcess] = []

    def start(script: Any, settings: dict[str, Any], env: dict[str, str] | None = None) -> ServiceProcess:
        started.append(ServiceProcess(script, settings=settings, env=env).start())
        return started[-1]

    yield start
    for process in started:
        process.__exit__(None, None, None)


@pytest.fixture
def kafka_settings(kafka_service: Any) -> Any:
    """``kafka_settings(**kafka)``: :func:`service_settings` on the harness broker."""

    def make(**kafka: Any) -> dict[str, Any]:
        return service_settings(kafka_service.bootstrap_servers, **kafka)

    return make


@pytest.fixture
def make_kafka_case() -> Any:
    """:class:`KafkaCase` for another broker: ``make_kafka_case(bootstrap_servers)``."""
    return KafkaCase
