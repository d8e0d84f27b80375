"""The appender: concurrent senders go into aiokafka's ``send`` one at a time, in order, and a
full batch makes one of them wait, not all (without a broker: a producer whose batches the
test drains)."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError
from aiokafka.producer.message_accumulator import MessageAccumulator, MessageBatch
from aiokafka.structs import TopicPartition
from tamarco.resources.io.kafka._appender import _MOST_BATCHES, Appender

BATCH = 4


class BatchingProducer:
    """Like aiokafka's: ``send`` appends to a batch of ``BATCH`` messages and returns the
    message's future; while the batch is full it waits until the test drains it."""

    def __init__(self) -> None:
        self.batch: list[tuple[bytes, asyncio.Future[Any]]] = []
        self.sent: list[bytes] = []
        self.inside = 0
        self.most_inside = 0
        self.drain_waits = 0
        self._drained = asyncio.Event()

    async def send(self, topic: str, value: bytes, key: Any = None, headers: Any = None) -> asyncio.Future[Any]:
        if value == b"too large":
            raise MessageSizeTooLargeError()
        self.inside += 1
        self.most_inside = max(self.most_inside, self.inside)
        try:
            while len(self.batch) >= BATCH:
                self.drain_waits += 1
                self._drained.clear()
                await self._drained.wait()
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self.batch.append((value, future))
            return future
        finally:
            self.inside -= 1

    def drain(self) -> None:
        """The broker acknowledges the batch (each message's answer is its body)."""
        batch, self.batch = self.batch, []
        for value, future in batch:
            self.sent.append(value)
            if not future.done():
                future.set_result(value)
        self._drained.set()


async def drain_until(producer: BatchingProducer, done: asyncio.Future[Any]) -> None:
    """Drain batches as they fill, until ``done``."""
    for _ in range(1000):
        if done.done():
            return
        producer.drain()
        await asyncio.sleep(0)
    raise AssertionError("the senders never finished")


async def test_concurrent_senders_go_in_one_at_a_time_in_order_and_get_their_answers() -> None:
    producer = BatchingProducer()
    appender = Appender(producer)  # type: ignore[arg-type]
    bodies = [str(n).encode() for n in range(50)]
    sends = asyncio.gather(*(appender.send("t", body, None, None, wait=True) for body in bodies))
    await drain_until(producer, sends)
    assert await sends == bodies, "each caller gets the broker's answer for its own message"
    assert producer.sent == bodies, "messages reach the batches in the order they were sent"
    assert producer.most_inside == 1, "never two callers inside send at once"
    # One waiter per full batch, not one per caller per batch (aiokafka wakes every waiter).
    assert producer.drain_waits <= len(bodies) // BATCH + 1
    assert appender.waiting == 0


async def test_without_waiting_a_sender_gets_the_future_of_the_answer() -> None:
    producer = BatchingProducer()
    appender = Appender(producer)  # type: ignore[arg-type]
    futures = asyncio.gather(*(appender.send("t", bytes([n]), None, None, wait=False) for n in range(10)))
    await drain_until(producer, futures)
    answers = await asyncio.gather(*await futures)
    assert answers == [bytes([n]) for n in range(10)]


async def test_a_refused_message_fails_only_its_own_sender() -> None:
    producer = BatchingProducer()
    appender = Appender(producer)  # type: ignore[arg-type]
    bodies = [b"a", b"b", b"c", b"d", b"e", b"too large", b"f", b"g"]
    sends = asyncio.gather(
        *(appender.send("t", body, None, None, wait=True) for body in bodies), return_exceptions=True
    )
    await drain_until(producer, sends)
    results = await sends
    assert isinstance(results[5], MessageSizeTooLargeError)
    delivered = [result for result in results if not isinstance(result, Exception)]
    assert delivered == [body for body in bodies if body != b"too large"]


async def test_a_cancelled_sender_does_not_stop_the_others() -> None:
    producer = BatchingProducer()
    appender = Appender(producer)  # type: ignore[arg-type]
    bodies = [str(n).encode() for n in range(12)]
    tasks = [asyncio.ensure_future(appender.send("t", body, None, None, wait=True)) for body in bodies]
    await asyncio.sleep(0)  # the first BATCH are in; the next one waits inside send for the drain
    assert producer.inside == 1 and appender.waiting == len(bodies) - BATCH - 1
    tasks[BATCH].cancel()  # the one inside send, waiting for the drain
    tasks[BATCH + 2].cancel()  # one queued
    everything = asyncio.gather(*tasks, return_exceptions=True)
    await drain_until(producer, everything)
    results = await everything
    assert isinstance(results[BATCH], asyncio.CancelledError) and isinstance(results[BATCH + 2], asyncio.CancelledError)
    expected = [body for index, body in enumerate(bodies) if index not in (BATCH, BATCH + 2)]
    assert [result for result in results if isinstance(result, bytes)] == expected
    assert producer.sent == expected, "a cancelled sender's message is not sent"
    assert appender.waiting == 0
    assert await appender.send("t", b"later", None, None, wait=False) is not None, "the way is free again"


@pytest.mark.parametrize("wait", [True, False])
async def test_a_lone_sender_goes_straight_through(wait: bool) -> None:
    producer = BatchingProducer()
    appender = Appender(producer)  # type: ignore[arg-type]
    sending = asyncio.ensure_future(appender.send("t", b"x", None, None, wait=wait))
    await asyncio.sleep(0)
    assert producer.batch and appender.waiting == 0
    producer.drain()
    result = await sending
    assert (result if wait else await result) == b"x"


class Refused(Exception):
    """What a sender sees instead of the producer's error (``translate``)."""


async def test_submitted_messages_go_in_order_with_callers_interleaved_and_get_their_answers() -> None:
    producer = BatchingProducer()
    appender = Appender(producer)  # type: ignore[arg-type]
    published: list[int] = []
    bodies = [str(n).encode() for n in range(30)] + [b"too large"] + [str(n).encode() for n in range(30, 40)]
    futures: list[asyncio.Future[Any]] = []
    callers = []
    for index, body in enumerate(bodies):
        if index % 7 == 3:  # a caller of send() among the submitted ones
            callers.append(asyncio.ensure_future(appender.send("t", body, None, None, wait=True)))
            futures.append(callers[-1])
            await asyncio.sleep(0)  # the caller is in send (or queued) before the next message
        else:
            futures.append(
                appender.submit("t", body, None, None, lambda error, body: Refused(str(error)), published.append)
            )
    everything = asyncio.gather(*futures, return_exceptions=True)
    await drain_until(producer, everything)
    results = await everything
    expected = [body for body in bodies if body != b"too large"]
    assert producer.sent == expected, "in the order they were submitted or sent"
    assert producer.most_inside == 1, "never two senders inside send at once"
    assert isinstance(results[30], Refused), "a refused message fails its own future, translated"
    assert [result for index, result in enumerate(results) if index % 7 == 3] == [
        body for index, body in enumerate(bodies) if index % 7 == 3
    ]
    assert all(result is None for index, result in enumerate(results) if index % 7 != 3 and index != 30)
    assert sum(published) == len([index for index in range(len(bodies)) if index % 7 != 3]) - 1
    assert appender.waiting == 0
    assert await appender.send("t", b"later", None, None, wait=False) is not None, "the way is free again"


async def test_a_cancelled_submitted_message_is_not_sent() -> None:
    producer = BatchingProducer()
    appender = Appender(producer)  # type: ignore[arg-type]
    futures = [
        appender.submit("t", str(n).encode(), None, None, lambda error, body: RuntimeError(error)) for n in range(3)
    ]
    futures[1].cancel()
    rest = asyncio.gather(futures[0], futures[2])
    await drain_until(producer, rest)
    assert await rest == [None, None]
    assert producer.sent == [b"0", b"2"]


class AccumulatingProducer:
    """aiokafka's own accumulator and batches (the key names the partition); the test answers
    the batches, as aiokafka's sender does."""

    def __init__(self) -> None:
        self._message_accumulator = MessageAccumulator(None, 16384, 0, 30.0)

    async def send(self, topic: str, value: bytes, key: Any = None, headers: Any = None) -> asyncio.Future[Any]:
        partition = TopicPartition(topic, int(key))
        return await self._message_accumulator.add_message(partition, key, value, 30.0, headers=headers or [])

    def take(self, partition: int) -> MessageBatch:
        """The partition's batch, drained (as the sender takes it to the broker)."""
        return self._message_accumulator._pop_batch(TopicPartition("t", partition))


async def submit_all(
    appender: Appender, partitions: int, count: int, published: list[int]
) -> list[asyncio.Future[Any]]:
    """``count`` messages submitted, spread over ``partitions``, once all are in batches."""
    counted = published.append  # one counter (a lane's), so a batch's are counted in one call
    futures = [
        appender.submit(
            "t",
            str(n).encode(),
            str(n % partitions).encode(),
            None,
            lambda error, body: Refused(f"{body!r}: {type(error).__name__}"),
            counted,
        )
        for n in range(count)
    ]
    await appender._drainer  # the task that hands them over
    assert appender.waiting == 0
    return futures


async def test_answers_come_with_their_batch_and_a_partition_does_not_wait_for_another() -> None:
    producer = AccumulatingProducer()
    appender = Appender(producer)  # type: ignore[arg-type]
    published: list[int] = []
    futures = await submit_all(appender, 2, 10, published)
    even, odd = producer.take(0), producer.take(1)
    assert [len(messages) for messages in appender._waiting.values()] == [5, 5], "one callback per batch"
    futures[2].cancel()  # its caller gave up after the message went into the batch
    even.done(base_offset=0, timestamp=-1)
    await asyncio.wait(futures[0::2])
    assert [future.result() for future in futures[0::2] if not future.cancelled()] == [None] * 4
    assert not any(future.done() for future in futures[1::2]), "partition 1 is not answered yet"
    assert published == [4], "the batch's acknowledged messages counted in one call"
    odd.failure(KafkaTimeoutError())
    await asyncio.wait(futures[1::2])
    failures = [future.exception() for future in futures[1::2]]
    assert all(isinstance(failure, Refused) for failure in failures), failures
    assert str(failures[0]) == "b'1': KafkaTimeoutError", "each failure made from its own message"
    assert published == [4], "failures are not counted as published"
    assert not appender._waiting


async def test_with_more_open_batches_than_looked_through_each_message_is_answered_alone() -> None:
    producer = AccumulatingProducer()
    appender = Appender(producer)  # type: ignore[arg-type]
    published: list[int] = []
    partitions = _MOST_BATCHES + 2
    futures = await submit_all(appender, partitions, partitions * 3, published)
    batches = [producer.take(partition) for partition in range(partitions)]
    batches[1].done(base_offset=0, timestamp=-1)
    await asyncio.wait(futures[1::partitions])
    assert not any(future.done() for index, future in enumerate(futures) if index % partitions != 1)
    for batch in batches:
        batch.done(base_offset=0, timestamp=-1)
    await asyncio.wait(futures)
    assert [future.result() for future in futures] == [None] * len(futures)
    assert sum(published) == len(futures)


async def test_a_failure_that_cannot_be_translated_fails_its_message_only() -> None:
    producer = AccumulatingProducer()
    appender = Appender(producer)  # type: ignore[arg-type]

    def translate(error: Exception, body: bytes) -> Exception:
        if body == b"1":
            raise RuntimeError("translation broke")
        return Refused(body.decode())

    futures = [appender.submit("t", str(n).encode(), b"0", None, translate) for n in range(3)]
    await appender._drainer
    producer.take(0).failure(KafkaTimeoutError())
    done, _ = await asyncio.wait(futures, timeout=5.0)
    assert len(done) == len(futures), "every message of the batch is answered"
    failures = [future.exception() for future in futures]
    assert [type(failure) for failure in failures] == [Refused, RuntimeError, Refused], failures


async def test_a_cancelled_batch_cancels_its_messages_and_a_queued_send_caller_gets_its_metadata() -> None:
    producer = AccumulatingProducer()
    appender = Appender(producer)  # type: ignore[arg-type]
    published: list[int] = []
    futures = await submit_all(appender, 1, 3, published)
    producer.take(0).future.cancel()
    await asyncio.wait(futures)
    assert all(future.cancelled() for future in futures)
    assert published == [] and not appender._waiting
    # A caller of send(wait=True) queued behind submitted messages: its answer is its record's metadata.
    later = [appender.submit("t", b"s", b"0", None, lambda error, body: Refused(str(error))) for _ in range(2)]
    caller = asyncio.ensure_future(appender.send("t", b"w", b"0", None, wait=True))
    await appender._drainer
    await asyncio.sleep(0)
    producer.take(0).done(base_offset=7, timestamp=-1)
    assert await asyncio.gather(*later) == [None, None]
    metadata = await caller
    assert metadata.offset == 9, "the third record of a batch at offset 7"


async def test_a_failed_batch_leaves_no_message_future_whose_error_is_never_retrieved() -> None:
    """aiokafka fails each message of a batch with a copy of the error; the appender answers
    from the batch, and must still take each copy, or asyncio logs "Future exception was never
    retrieved" when the futures are collected."""
    loop = asyncio.get_running_loop()
    unretrieved: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: unretrieved.append(context))
    try:
        producer = AccumulatingProducer()
        appender = Appender(producer)  # type: ignore[arg-type]
        futures = await submit_all(appender, 1, 5, [])
        producer.take(0).failure(KafkaTimeoutError())
        await asyncio.wait(futures)
        assert all(isinstance(future.exception(), Refused) for future in futures)
        del futures, producer, appender
        gc.collect()  # a collected future's unretrieved error reaches the handler here
    finally:
        loop.set_exception_handler(previous)
    assert not [context for context in unretrieved if "never retrieved" in context.get("message", "")], unretrieved
