"""The consumption of one input by one consumer-group member: fetch, order, commit, rebalance.

- One aiokafka consumer per input, auto-commit off. A fetch task reads batches and appends
  each partition's records to that partition's buffer; a partition whose buffer is full is
  paused (backpressure) and resumed once its worker caught up.
- One worker task per partition hands its records, in order, to :meth:`Consumer.handle
  <tamarco.core.messaging.Consumer.handle>` (decode, handler, retries, dead-letter), a run of
  up to ``_BURST`` buffered records per call: a partition keeps its order; the consumer's
  limiter lets at most ``max_concurrency`` partitions be handled at once (a run holds one slot,
  then waiting partitions take their turn), and the done offset moves once per run.
- A record acknowledged (or dead-lettered, or rejected) moves the partition's *done* offset
  past it. A record given back (``nack(requeue=True)``) is handed over again at once, flagged
  redelivered, before anything after it; when the consumer is stopping or the partition was
  revoked, the worker stops there instead. Offsets are committed every
  ``commit_interval_seconds``, on revocation and on stop — only the done offsets, so every
  committed message was handled, and nothing after a message that was not is committed.
- On revocation, the workers of the revoked partitions finish the record in hand (for at
  most ``revocation_timeout_seconds``; then they are cancelled and that record is not
  committed), the done offsets are committed, and the buffered records are dropped: the new
  owner reads them again from the committed offset.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from tamarco.core import instrumentation
from tamarco.core.deadlines import close_within, within
from tamarco.core.messaging import Consumer, PositionalRun
from tamarco.resources.io.kafka._delivery import KafkaDelivery
from tamarco.resources.io.kafka.input import KafkaInput

if TYPE_CHECKING:
    from tamarco.resources.io.kafka._config import KafkaConfig

__all__ = ["GroupConsumer"]

_FETCH_TIMEOUT_MS = 200
#: Records buffered per partition before it is paused.
_BUFFER_HIGH = 2000
_BUFFER_LOW = 500
_COMMIT_TIMEOUT = 5.0
#: Seconds leaving the group and closing the consumer may take on stop.
_STOP_TIMEOUT = 5.0
#: Records a partition's worker handles before giving its slot to a waiting partition.
_BURST = 64


class _Partition:
    __slots__ = ("committed", "done", "lag", "paused", "records", "redeliver", "stopping", "task", "tp")

    def __init__(self, tp: TopicPartition, lag: Any) -> None:
        self.tp = tp
        self.records: collections.deque[Any] = collections.deque()
        self.done: int | None = None
        self.committed: int | None = None
        self.task: asyncio.Task[None] | None = None
        self.stopping = False
        self.paused = False
        self.redeliver = False
        self.lag = lag


class _Run(PositionalRun):
    """The records at the head of a partition's buffer as the consumer takes them, one at a
    time: it stops at ``_BURST`` records, or as soon as the partition is revoked or the input
    stops (the record in hand is finished, the rest stay buffered). A record the consumer asked
    past is done (its offset may be committed): the consumer need not call ``ack()``."""

    __slots__ = ("group", "handed", "partition")

    def __init__(self, group: GroupConsumer, partition: _Partition) -> None:
        self.group = group
        self.partition = partition
        self.handed = 0

    def __iter__(self) -> Iterator[KafkaDelivery]:
        partition, group = self.partition, self.group
        records = list(itertools.islice(partition.records, _BURST))
        if not records or partition.stopping or group.closing:
            return
        self.handed = 1
        yield KafkaDelivery(records[0], partition.redeliver)
        previous = records[0]
        for record in itertools.islice(records, 1, None):
            # The consumer asks for the next record once the last one is done.
            partition.done = previous.offset + 1
            if partition.stopping or group.closing:
                return
            self.handed += 1
            yield KafkaDelivery(record)
            previous = record


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: GroupConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self.owner._revoke(list(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.owner._assign(list(assigned))


class GroupConsumer:
    """One input's consumer-group member (the :class:`~tamarco.core.messaging.Subscription`)."""

    def __init__(
        self,
        input_: KafkaInput[Any],
        consumer: Consumer[Any],
        config: KafkaConfig,
        *,
        group_id: str,
        resource_name: str,
        logger: logging.Logger,
    ) -> None:
        self.input = input_
        self.consumer = consumer
        self.config = config
        self.group_id = group_id
        self.resource_name = resource_name
        self.logger = logger
        self.topics: tuple[str, ...] = input_.topics
        self.topic_pattern = input_.topic_pattern
        self.closing = False
        self.joined = asyncio.Event()
        self._kafka: AIOKafkaConsumer | None = None
        self._partitions: dict[TopicPartition, _Partition] = {}
        self._fetcher: asyncio.Task[None] | None = None
        self._lag = instrumentation.gauge(
            "kafka_consumer_lag", "messages", labels=("resource", "input", "topic", "partition")
        )
        self._fetch_errors = 0

    # -- running ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the consumer and subscribe: the group is joined in the background
        (:meth:`wait_joined`)."""
        kafka = AIOKafkaConsumer(**self.config.consumer_kwargs(self.group_id))
        self._kafka = kafka
        try:
            await kafka.start()
            listener = _Listener(self)
            if self.topic_pattern is not None:
                kafka.subscribe(pattern=self.topic_pattern, listener=listener)
            else:
                kafka.subscribe(topics=list(self.topics), listener=listener)
        except BaseException:
            await kafka.stop()
            raise
        loop = asyncio.get_running_loop()
        self._fetcher = loop.create_task(self._fetch(), name=f"tamarco:kafka:{self.resource_name}:{self.input.name}")

    async def wait_joined(self, timeout: float) -> None:
        """Wait until partitions were assigned (maybe none: more members than partitions), for
        up to ``timeout`` seconds; past that, a warning (the join goes on in the background)."""
        try:
            await asyncio.wait_for(self.joined.wait(), timeout)
        except TimeoutError:
            self.logger.warning(
                "resource %s: input %s has not joined consumer group %r within %g s; it keeps trying",
                self.resource_name,
                self.input.name,
                self.group_id,
                timeout,
            )

    async def _fetch(self) -> None:
        kafka = self._kafka
        assert kafka is not None
        loop = asyncio.get_running_loop()
        next_commit = loop.time() + self.config.commit_interval
        while True:
            try:
                batch = await kafka.getmany(timeout_ms=_FETCH_TIMEOUT_MS)
            except Exception as error:  # the loop must outlive any fetch failure: it is the input
                self._fetch_errors += 1
                if self._fetch_errors == 1:
                    self.logger.warning(
                        "resource %s: input %s cannot fetch from %s (%s: %s); retrying",
                        self.resource_name,
                        self.input.name,
                        self.config.address,
                        type(error).__name__,
                        error,
                        exc_info=not isinstance(error, KafkaError),
                    )
                await asyncio.sleep(0.5)
                continue
            self._fetch_errors = 0
            for tp, records in batch.items():
                partition = self._partitions.get(tp)
                if partition is None:  # assigned, the listener not called yet: never drop records
                    partition = self._partitions[tp] = self._new_partition(tp)
                if partition.stopping or not records:
                    continue  # revoked: the next owner reads them from the committed offset
                partition.records.extend(records)
                if len(partition.records) >= _BUFFER_HIGH and not partition.paused:
                    kafka.pause(tp)
                    partition.paused = True
                if partition.task is None or partition.task.done():
                    partition.task = loop.create_task(self._work(partition))
            if loop.time() >= next_commit:
                await self.commit()
                self._update_lag()
                next_commit = loop.time() + self.config.commit_interval

    async def _work(self, partition: _Partition) -> None:
        """Hand the partition's records to the core's consumer in order, a run of up to
        ``_BURST`` records per call (one slot of its limiter, one offset update per run), so
        that waiting partitions take their turn between runs."""
        handle = self.consumer.handle
        records = partition.records
        while records and not partition.stopping and not self.closing:
            run = _Run(self, partition)
            done = await handle(run)
            if done:
                partition.done = records[done - 1].offset + 1
                for _ in range(done):
                    records.popleft()
            # Given back (or the run stopped): handled again before anything after it.
            partition.redeliver = done < run.handed
            if partition.paused and len(records) <= _BUFFER_LOW and not partition.stopping:
                partition.paused = False
                if self._kafka is not None:
                    with contextlib.suppress(KafkaError):
                        self._kafka.resume(partition.tp)

    # -- rebalancing --------------------------------------------------------------------------

    def _new_partition(self, tp: TopicPartition) -> _Partition:
        lag = self._lag.labels(
            resource=self.resource_name, input=str(self.input.name), topic=tp.topic, partition=tp.partition
        )
        return _Partition(tp, lag)

    def _assign(self, assigned: list[TopicPartition]) -> None:
        for tp in assigned:
            if tp not in self._partitions:
                self._partitions[tp] = self._new_partition(tp)
        self.logger.info(
            "resource %s: input %s (group %r) assigned %s",
            self.resource_name,
            self.input.name,
            self.group_id,
            ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(assigned)) or "no partitions",
        )
        self.joined.set()

    async def _revoke(self, revoked: list[TopicPartition]) -> None:
        partitions = [self._partitions[tp] for tp in revoked if tp in self._partitions]
        await self._stop_partitions(partitions, self.config.revocation_timeout)
        await self.commit(partitions)
        for partition in partitions:
            self._partitions.pop(partition.tp, None)

    async def _stop_partitions(self, partitions: list[_Partition], timeout: float) -> None:
        """Let the workers finish the record in hand (up to ``timeout``), then cancel them."""
        for partition in partitions:
            partition.stopping = True
        tasks = [partition.task for partition in partitions if partition.task is not None and not partition.task.done()]
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=timeout) if timeout > 0 else (set(), set(tasks))
        if pending:
            self.logger.warning(
                "resource %s: input %s: %d handler(s) still running after %g s; cancelling them, "
                "their messages are not committed and will be delivered again",
                self.resource_name,
                self.input.name,
                len(pending),
                timeout,
            )
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def commit(self, partitions: list[_Partition] | None = None) -> None:
        """Commit the done offsets that moved (of ``partitions``, default all assigned)."""
        kafka = self._kafka
        if kafka is None:
            return
        chosen = [
            partition
            for partition in (partitions if partitions is not None else list(self._partitions.values()))
            if partition.done is not None and partition.done != partition.committed
        ]
        if not chosen:
            return
        offsets = {partition.tp: partition.done for partition in chosen}
        try:
            # aiokafka retries a commit for as long as the error is retriable: bounded here, so
            # a broker outage does not stall fetching (or the stop) behind it.
            await within(kafka.commit(offsets), _COMMIT_TIMEOUT)
        except (TimeoutError, KafkaError) as error:
            self.logger.warning(
                "resource %s: input %s: committing offsets of group %r failed (%s: %s); "
                "the messages after the last commit will be delivered again",
                self.resource_name,
                self.input.name,
                self.group_id,
                type(error).__name__,
                error,
            )
            return
        for partition in chosen:
            partition.committed = offsets[partition.tp]

    def _update_lag(self) -> None:
        kafka = self._kafka
        if kafka is None:
            return
        for partition in self._partitions.values():
            lag = self._partition_lag(kafka, partition)
            if lag is not None:
                partition.lag.set(lag)

    @staticmethod
    def _partition_lag(kafka: AIOKafkaConsumer, partition: _Partition) -> int | None:
        try:
            highwater = kafka.highwater(partition.tp)
        except (KafkaError, AssertionError):
            return None
        if highwater is None:
            return None
        if partition.done is not None:
            return max(0, highwater - partition.done)
        if partition.records:
            return max(0, highwater - partition.records[0].offset)
        return None

    # -- stopping -----------------------------------------------------------------------------

    async def cancel(self) -> None:
        """Stop fetching; the workers finish the record in hand (the core's drain waits for it)."""
        self.closing = True
        fetcher, self._fetcher = self._fetcher, None
        if fetcher is not None:
            fetcher.cancel()
            await asyncio.gather(fetcher, return_exceptions=True)

    async def close(self) -> None:
        """After the drain: cancel what still runs (not committed), commit what finished, leave
        the group."""
        await self.cancel()
        await self._stop_partitions(list(self._partitions.values()), 0)
        await self.commit()
        kafka, self._kafka = self._kafka, None
        if kafka is not None:
            await self._stop_consumer(kafka)

    async def _stop_consumer(self, kafka: AIOKafkaConsumer) -> None:
        """Leave the group and close the consumer, in bounded time (see ``_closing``)."""
        failure = await close_within(kafka.stop(), _STOP_TIMEOUT)
        if failure is not None:
            self.logger.warning(
                "resource %s: input %s did not leave group %r cleanly (%s; broker %s)",
                self.resource_name,
                self.input.name,
                self.group_id,
                failure,
                self.config.address,
            )

    # -- status -------------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        kafka = self._kafka
        partitions: dict[str, Any] = {}
        for tp, partition in sorted(self._partitions.items()):
            partitions[f"{tp.topic}[{tp.partition}]"] = {
                "committed": partition.committed,
                "done": partition.done,
                "buffered": len(partition.records),
                "paused": partition.paused,
                "lag": self._partition_lag(kafka, partition) if kafka is not None else None,
            }
        return {
            "group": self.group_id,
            "topics": list(self.topics) if self.topic_pattern is None else None,
            "pattern": self.topic_pattern,
            "partitions": partitions,
        }
