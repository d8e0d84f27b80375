"""Kafka across a broker restart and a crash, on the harness's durable broker (its log, offsets
and groups survive): messages the broker acknowledged are all handled; dead letters that could not
be published during the outage are published after it.

The consumer runs in a subprocess (``services/kafka_consumer.py``); the test produces with
aiokafka (``acks="all"``) and reads the dead-letter topic back itself.
"""

from __future__ import annotations

import asyncio
import collections
import json
import re
from collections.abc import Iterable
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from tamarco.harness import ServiceProcess

pytestmark = pytest.mark.functional

ASSIGNED = r"input \S+ \(group '[^']+'\) assigned"
HANDLED = re.compile(r"^HANDLED (\d+)")
#: Consumer-group timings for the local broker (tansu joins in about session_timeout/2).
FAST_GROUP = {"session_timeout_ms": 1000, "heartbeat_interval_ms": 200, "rebalance_timeout_ms": 1000}


def settings(bootstrap_servers: str, **kafka: Any) -> dict[str, Any]:
    resource = {
        "bootstrap_servers": bootstrap_servers,
        "consumer": dict(FAST_GROUP),
        "commit_interval_seconds": 0.2,
        "auto_create_topics": False,
        **kafka,
    }
    return {
        "system": {
            "logging": {"profile": "DEVELOP"},
            "resources": {"kafka": resource, "tamarco_http_report_server": {"port": 0}},
        }
    }


async def push(bootstrap_servers: str, topic: str, numbers: Iterable[int]) -> set[int]:
    """Produce ``{"n": n}`` for each number; the numbers the broker acknowledged (acks=all)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all", linger_ms=5)
    await producer.start()
    try:
        numbers = list(numbers)
        futures = [await producer.send(topic, json.dumps({"n": n}).encode()) for n in numbers]
        outcomes = await asyncio.gather(*futures, return_exceptions=True)
    finally:
        await producer.stop()
    return {n for n, outcome in zip(numbers, outcomes, strict=True) if not isinstance(outcome, BaseException)}


def handled(service: ServiceProcess) -> list[int]:
    return [int(m.group(1)) for line in service.output.splitlines() if (m := HANDLED.search(line))]


async def read_numbers(bootstrap_servers: str, topic: str, expected: set[int], timeout: float) -> list[int]:
    """The ``n`` of every record of ``topic`` (from its start), read until all of ``expected``
    are there or ``timeout`` passes."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    numbers: list[int] = []
    try:
        await consumer.topics()
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or {0})]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not expected <= set(numbers) and loop.time() < deadline:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                numbers.extend(json.loads(record.value)["n"] for record in records)
    finally:
        await consumer.stop()
    return numbers


async def wait_for(condition: Any, timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        await asyncio.sleep(0.05)


async def test_kafka_broker_restart_loses_no_acknowledged_message(
    kafka_durable_service: Any, fault_service: Any, faults: Any, unique_name: str
) -> None:
    broker = kafka_durable_service
    topic = unique_name
    broker.create_topic(topic, partitions=2)
    env = {"FAULT_TOPIC": topic, "FAULT_GROUP": f"{topic}.group"}
    config = settings(broker.bootstrap_servers)
    first = fault_service(script="kafka_consumer.py", settings=config, env=env)
    first.wait_for(ASSIGNED, 30)
    confirmed = await push(broker.bootstrap_servers, topic, range(100))
    await wait_for(lambda: confirmed <= set(handled(first)), 30, "the first 100 handled")
    assert first.terminate() == 0, first.output[-3000:]  # commits what it handled

    # Acknowledged while no consumer runs: these are only in the broker's log when it restarts.
    confirmed |= await push(broker.bootstrap_servers, topic, range(100, 300))
    await asyncio.to_thread(broker.restart)
    service = fault_service(script="kafka_consumer.py", settings=config, env=env)
    service.wait_for(ASSIGNED, 30)
    confirmed |= await push(broker.bootstrap_servers, topic, range(300, 400))
    await wait_for(lambda: confirmed - set(handled(first)) <= set(handled(service)), 90, "every message handled")

    counts = collections.Counter(handled(first) + handled(service))
    lost = len(confirmed - set(counts))
    again = len(set(handled(first)) & set(handled(service)))
    faults.report_counts(
        "kafka broker restart",
        sent=400,
        confirmed=len(confirmed),
        handled=len(counts),
        waiting_at_restart=200,
        handled_again_after_restart=again,
        duplicates=sum(c - 1 for c in counts.values()),
        lost=lost,
    )
    assert len(confirmed) == 400, "the broker acknowledged every push (before and after its restart)"
    assert lost == 0
    assert again == 0, "the group's committed offsets survived the restart"
    assert service.terminate() == 0, service.output[-3000:]


async def test_kafka_dead_letter_publish_failing_in_a_broker_crash_loses_nothing(
    kafka_durable_service: Any, fault_service: Any, faults: Any, unique_name: str
) -> None:
    broker = kafka_durable_service
    topic = unique_name
    broker.create_topic(topic)
    broker.create_topic(f"{topic}.dlq")
    env = {"FAULT_TOPIC": topic, "FAULT_GROUP": f"{topic}.group", "FAULT_DELAY": "0.05", "FAULT_FAIL": "1"}
    kafka = {
        # Every failure dead-lettered at once; a dead-letter publish to a dead broker fails in 1 s.
        "delivery": {"retry": {"attempts": 1}},
        "producer": {"request_timeout_ms": 1000},
    }
    service = fault_service(script="kafka_consumer.py", settings=settings(broker.bootstrap_servers, **kafka), env=env)
    service.wait_for(ASSIGNED, 30)

    sent = 60
    confirmed = await push(broker.bootstrap_servers, topic, range(sent))
    service.wait_for(r"dead-lettering it", 30, count=10)
    await asyncio.to_thread(broker.kill)
    service.wait_for(r"could not dead-letter a message", 30)
    await asyncio.to_thread(broker.start)
    dead = await read_numbers(broker.bootstrap_servers, f"{topic}.dlq", confirmed, 90)

    counts = collections.Counter(dead)
    lost = len(confirmed - set(counts))
    failed_publishes = service.output.count("could not dead-letter a message")
    faults.report_counts(
        "kafka dead-letter publish during a broker crash",
        sent=sent,
        confirmed=len(confirmed),
        dead_lettered=len(counts),
        dead_letter_refusal_log_lines=failed_publishes,
        duplicates=sum(c - 1 for c in counts.values()),
        lost=lost,
    )
    assert len(confirmed) == sent
    assert failed_publishes >= 1
    assert lost == 0, f"not in {topic}.dlq: {sorted(confirmed - set(counts))}"
    assert service.terminate() == 0, service.output[-3000:]
