"""Consumer groups across processes: partitions shared, crash recovery, graceful stop."""

from __future__ import annotations

import asyncio
import collections
import re
import signal
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from tamarco.harness.messaging_suite import wait_until

pytestmark = pytest.mark.functional

WORKER = Path(__file__).with_name("kafka_worker.py")
HANDLED = re.compile(r"HANDLED (\d+) (\d+) (\d+)")
ASSIGNED = r"input \S+ \(group '[^']+'\) assigned (.+)"


def handled(process: Any) -> list[tuple[int, int, int]]:
    """``(n, partition, offset)`` of every message the worker handled, in order."""
    return [tuple(map(int, m.groups())) for line in process.lines if (m := HANDLED.search(line))]  # type: ignore[misc]


async def produce(bootstrap_servers: str, topic: str, count: int, *, start: int = 0, partitions: int = 1) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, linger_ms=5)
    await producer.start()
    try:
        futures = [
            await producer.send(topic, b'{"n":%d}' % n, partition=n % partitions) for n in range(start, start + count)
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def committed(bootstrap_servers: str, group: str, topic: str, partition: int = 0) -> int | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        return await consumer.committed(TopicPartition(topic, partition))
    finally:
        await consumer.stop()


async def test_two_processes_in_one_group_share_the_partitions_and_handle_each_message_once(
    kafka_case: Any, kafka_settings: Any, service_process: Any, unique_name: str
) -> None:
    topic = unique_name
    await kafka_case.create_topics(topic, partitions=4)
    env = {"KAFKA_TEST_TOPIC": topic, "KAFKA_TEST_GROUP": f"{topic}.group"}
    settings = kafka_settings()
    one = service_process(WORKER, settings, env)
    one.wait_for(ASSIGNED, 30)
    two = service_process(WORKER, settings, env)
    # Both members hold partitions once the rebalance after the second join is done.
    one.wait_for(ASSIGNED, 30, count=2)
    two.wait_for(ASSIGNED, 30)
    await produce(kafka_case.bootstrap_servers, topic, 200, partitions=4)
    await wait_until(lambda: len(handled(one)) + len(handled(two)) >= 200, 60, "200 messages handled")
    await asyncio.sleep(0.5)  # a window for duplicates to show up
    first, second = handled(one), handled(two)
    numbers = [n for n, _, _ in first + second]
    print(f"process 1 handled {len(first)}, process 2 handled {len(second)}")
    assert first and second, "both members handled messages"
    assert sorted(numbers) == list(range(200)), "every message handled exactly once"
    assert not {p for _, p, _ in first} & {p for _, p, _ in second}, "a partition belongs to one member"
    assert one.terminate() == 0 and two.terminate() == 0


async def test_a_consumer_killed_and_restarted_resumes_from_the_last_commit_and_loses_nothing(
    kafka_case: Any, kafka_settings: Any, service_process: Any, unique_name: str
) -> None:
    topic = unique_name
    sent = 400
    await kafka_case.create_topics(topic, partitions=2)
    env = {"KAFKA_TEST_TOPIC": topic, "KAFKA_TEST_GROUP": f"{topic}.group", "KAFKA_TEST_DELAY": "0.005"}
    settings = kafka_settings(commit_interval_seconds=0.2)
    first = service_process(WORKER, settings, env)
    first.wait_for(ASSIGNED, 30)
    await produce(kafka_case.bootstrap_servers, topic, sent, partitions=2)
    await wait_until(lambda: len(handled(first)) >= 120, 60, "120 messages handled before the kill")
    await asyncio.sleep(0.3)  # at least one commit went through
    assert first.kill() == -signal.SIGKILL
    before = handled(first)
    second = service_process(WORKER, settings, env)

    def all_seen() -> bool:
        return {n for n, _, _ in before + handled(second)} >= set(range(sent))

    await wait_until(all_seen, 60, f"all {sent} messages handled across the restart")
    after = handled(second)
    counts = collections.Counter(n for n, _, _ in before + after)
    duplicates = sum(c - 1 for c in counts.values())
    lost = len(set(range(sent)) - set(counts))
    print(f"sent {sent}, handled {len(before)} + {len(after)}, duplicates {duplicates}, lost {lost}")
    assert lost == 0
    assert len(before) < sent, "the kill came before the end"
    # Resumed from the last commit, not from the start: only what followed it comes again.
    assert len(after) < sent and duplicates < len(before)
    for partition in (0, 1):
        offsets = [o for _, p, o in after if p == partition]
        assert offsets == sorted(offsets), f"partition {partition} handled in order after the restart"
    assert second.terminate() == 0


async def test_sigterm_lets_the_handler_finish_and_commits_what_finished(
    kafka_case: Any, kafka_settings: Any, service_process: Any, unique_name: str
) -> None:
    topic = unique_name
    group = f"{topic}.group"
    await kafka_case.create_topics(topic)
    env = {"KAFKA_TEST_TOPIC": topic, "KAFKA_TEST_GROUP": group, "KAFKA_TEST_DELAY": "0.2"}
    # A long commit interval: only the stop commits.
    settings = kafka_settings(commit_interval_seconds=60)
    first = service_process(WORKER, settings, env)
    first.wait_for(ASSIGNED, 30)
    await produce(kafka_case.bootstrap_servers, topic, 30)
    first.wait_for(r"HANDLED", 30, count=3)
    assert first.terminate() == 0, first.output
    done = handled(first)
    assert 3 <= len(done) < 30
    assert [o for _, _, o in done] == list(range(len(done))), "handled in order, none skipped"
    assert await committed(kafka_case.bootstrap_servers, group, topic) == len(done), "every finished one committed"
    second = service_process(WORKER, settings | {}, {**env, "KAFKA_TEST_DELAY": "0"})
    await wait_until(lambda: len(handled(second)) >= 30 - len(done), 30, "the rest handled after the restart")
    assert [o for _, _, o in handled(second)] == list(range(len(done), 30)), "resumed right after the commit"
    assert second.terminate() == 0
