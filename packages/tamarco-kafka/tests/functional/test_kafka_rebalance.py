"""A rebalance while messages are being handled: the revoked partitions' in-flight handlers
finish, their offsets are committed, and the new owner goes on from there."""

from __future__ import annotations

import asyncio
import collections
from typing import Any

import pytest
from tamarco.core.messaging import Message
from tamarco.harness.messaging_suite import running, wait_until
from tamarco.resources.io.kafka import KafkaInput, KafkaOutput, KafkaResource

pytestmark = pytest.mark.functional


async def test_a_member_joining_mid_stream_takes_partitions_without_losing_or_repeating(
    kafka_case: Any, unique_name: str
) -> None:
    topic, group, sent = unique_name, f"{unique_name}.g", 300
    keys = await kafka_case.prepare_streams(topic, 4)
    seen: list[tuple[str, int, int, int]] = []

    def handler_for(member: str) -> Any:
        async def handle(message: Message) -> None:
            await asyncio.sleep(0.01)
            partition, offset = message.position
            seen.append((member, message.body, partition, offset))

        return handle

    output = KafkaOutput(topic)
    first = KafkaResource([KafkaInput(topic, group_id=group, on_message=handler_for("first"))], [output])
    second = KafkaResource([KafkaInput(topic, group_id=group, on_message=handler_for("second"))])
    async with running(kafka_case, first):
        for n in range(sent):
            await output.send(n, key=keys[n % 4])
        await wait_until(lambda: len(seen) >= 40, what="the first member under way")
        async with running(kafka_case, second):
            await wait_until(lambda: len({n for _, n, _, _ in seen}) >= sent, 60, f"all {sent} handled")
            await asyncio.sleep(0.3)
    counts = collections.Counter(n for _, n, _, _ in seen)
    duplicates = sum(c - 1 for c in counts.values())
    lost = sent - len(counts)
    by_member = collections.Counter(member for member, _, _, _ in seen)
    print(f"sent {sent}, handled {dict(by_member)}, duplicates {duplicates}, lost {lost}")
    assert lost == 0
    assert by_member["second"] > 0, "the joining member took partitions"
    assert duplicates == 0, "in-flight work finished and was committed before the partitions moved"
    for partition in range(4):
        offsets = [offset for _, _, p, offset in seen if p == partition]
        assert offsets == list(range(len(offsets))), f"partition {partition}: in order, nothing skipped"
