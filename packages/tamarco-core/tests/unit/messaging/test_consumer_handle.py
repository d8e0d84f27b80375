"""Consumer.handle, the one way into the delivery contract, and its ConcurrencyLimiter."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import pytest
from tamarco.core.messaging import (
    ConcurrencyLimiter,
    Consumer,
    DeliveryPolicy,
    InMemoryTransport,
    PositionalRun,
    PullInput,
    RetryPolicy,
    Settlement,
)

_LOGGER = logging.getLogger("test.consumer")


class Record:
    """A delivery that records how it was settled (as a Kafka record does)."""

    def __init__(self, body: bytes, position: int = 0) -> None:
        self.body = body
        self.headers: Mapping[str, Any] = {}
        self.key = None
        self.source = "orders"
        self.position = position
        self.redelivered = False
        self.reply_to = None
        self.correlation_id = None
        self.outcome: Settlement | None = None

    async def ack(self) -> None:
        self.outcome = self.outcome or Settlement.ACKED

    async def nack(self, requeue: bool = True) -> None:
        self.outcome = self.outcome or (Settlement.REQUEUED if requeue else Settlement.REJECTED)

    async def reply(self, body: bytes, *, headers: object = None) -> None:
        raise AssertionError("not a request")


def _consumer(handler: Any, max_concurrency: int = 1, envelope: bool | None = None, **policy: Any) -> Consumer:
    input_ = PullInput("orders", on_message=handler, envelope=envelope)
    policy.setdefault("retry", RetryPolicy(attempts=1))
    return Consumer(
        input_,
        InMemoryTransport(),
        DeliveryPolicy(max_concurrency=max_concurrency, **policy),
        resource_name="bus",
        logger=_LOGGER,
    )


async def test_a_run_is_handled_in_order_and_counted() -> None:
    seen: list[int] = []

    async def handler(body: Any) -> None:
        seen.append(body)

    consumer = _consumer(handler)
    records = [Record(str(n).encode(), n) for n in range(5)]
    assert await consumer.handle(records) == 5
    assert seen == [0, 1, 2, 3, 4]
    assert [record.outcome for record in records] == [Settlement.ACKED] * 5


class _PositionalRun(PositionalRun):
    """A run whose records the transport settles by position (as Kafka's partition runs)."""

    def __init__(self, records: Iterable[Record]) -> None:
        self.records = list(records)

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records)


async def test_a_run_settled_by_position_is_not_acked_one_by_one_but_a_failure_still_is_settled() -> None:
    async def handler(body: Any) -> None:
        if body == 3:
            raise ValueError("boom")

    consumer = _consumer(handler, dead_letter=False)
    records = _PositionalRun(Record(str(n).encode(), n) for n in range(5))
    assert await consumer.handle(records) == 5
    assert consumer.handled == 4
    assert [record.outcome for record in records.records] == [None, None, None, Settlement.REJECTED, None]


async def test_a_run_stops_at_the_first_message_given_back() -> None:
    async def handler(message: Any) -> None:
        if message.body == 2:
            await message.nack(True)
        else:
            await message.ack()

    consumer = _consumer(handler, envelope=True, ack="manual")
    records = [Record(str(n).encode(), n) for n in range(5)]
    assert await consumer.handle(iter(records)) == 2
    assert [record.outcome for record in records] == [
        Settlement.ACKED,
        Settlement.ACKED,
        Settlement.REQUEUED,
        None,
        None,
    ]


async def test_waiters_hold_their_messages_unsettled_then_go_back_at_drain() -> None:
    release = asyncio.Event()
    started = asyncio.Event()

    async def handler(body: Any) -> None:
        started.set()
        await release.wait()

    consumer = _consumer(handler, max_concurrency=1)
    first, second = Record(b"1"), Record(b"2")
    running = asyncio.ensure_future(consumer.handle([first]))
    await started.wait()
    waiting = asyncio.ensure_future(consumer.handle([second]))
    await asyncio.sleep(0)
    assert consumer.limiter.in_use == 1 and consumer.limiter.waiting == 1
    assert second.outcome is None  # backpressure: unsettled while it waits for a slot

    draining = asyncio.ensure_future(consumer.drain(5.0))
    assert await waiting == 0  # turned away at once, not after the running handler
    assert second.outcome is Settlement.REQUEUED
    assert first.outcome is None
    release.set()
    assert await running == 1
    assert await draining == 0
    assert first.outcome is Settlement.ACKED


async def test_at_most_max_concurrency_handlers_at_once() -> None:
    running = 0
    most = 0

    async def handler(body: Any) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        running -= 1

    consumer = _consumer(handler, max_concurrency=3)
    records = [Record(b"1") for _ in range(20)]
    results = await asyncio.gather(*(consumer.handle([record]) for record in records))
    assert results == [1] * 20
    assert most == 3


async def test_limiter_hands_slots_in_order_and_refuses_after_close() -> None:
    limiter = ConcurrencyLimiter(1)
    assert await limiter.acquire()
    order: list[int] = []

    async def take(n: int) -> None:
        if await limiter.acquire():
            order.append(n)
            limiter.release()

    waiters = [asyncio.ensure_future(take(n)) for n in range(3)]
    await asyncio.sleep(0)
    limiter.release()
    await asyncio.gather(*waiters)
    assert order == [0, 1, 2]
    assert limiter.in_use == 0
    limiter.close()
    assert not await limiter.acquire()
    limiter.open()
    assert await limiter.acquire()


async def test_a_cancelled_waiter_passes_its_slot_on() -> None:
    limiter = ConcurrencyLimiter(1)
    assert await limiter.acquire()
    cancelled = asyncio.ensure_future(limiter.acquire())
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    limiter.release()
    assert limiter.in_use == 0
    with pytest.raises(ValueError, match=">= 1"):
        ConcurrencyLimiter(0)


async def _ignore(body: Any) -> None:
    pass


@pytest.mark.parametrize("steps", range(5))
async def test_a_cancelled_retry_wait_is_cancelled_even_as_the_consumer_starts_closing(steps: int) -> None:
    """The retry wait ends at the delay or when the consumer closes; a cancellation of the
    handler's task arriving as the closing wakes it is never swallowed (3.11's ``wait_for``
    then returned and the handler went on, nacking, after the drain had cancelled it)."""
    consumer = _consumer(_ignore)
    waiting = asyncio.ensure_future(consumer._wait_or_closing(30))
    await asyncio.sleep(0)  # the wait begins
    consumer._closing.set()
    for _ in range(steps):  # the closing's wake-up travels a few loop steps: cancel at each
        await asyncio.sleep(0)
    cancelled = waiting.cancel()
    if not cancelled:  # finished before the cancellation: it saw the closing
        assert waiting.result() is True
        return
    with pytest.raises(asyncio.CancelledError):
        await waiting


async def test_the_retry_wait_ends_at_its_delay_or_at_the_closing() -> None:
    consumer = _consumer(_ignore)
    assert await consumer._wait_or_closing(0.001) is False
    assert await consumer._wait_or_closing(0) is False
    waiting = asyncio.ensure_future(consumer._wait_or_closing(30))
    await asyncio.sleep(0)
    consumer._closing.set()
    assert await waiting is True
