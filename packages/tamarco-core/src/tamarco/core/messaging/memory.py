"""An in-memory broker and transport: unit-test a service's handlers without a broker.

::

    broker = InMemoryBroker()
    service = MyService()
    service.amqp.use_transport(InMemoryTransport(broker))   # any MessagingResource

It keeps the delivery contract of the real transports — the consumer, retries, dead-lettering,
concurrency bound and drain are the core's, shared by all — and models their routing:

- ``publish`` reaches every ``subscribe`` input of the destination (each gets every message);
  with no subscriber, the message is dropped (like an AMQP fanout exchange with no queue);
- ``push`` reaches every consumer *group* of the destination — the ``pull``/``request`` inputs of
  one queue share one group and compete (an AMQP queue), Kafka inputs form one group per
  ``group_id`` — and is kept until a consumer takes it;
- ``request`` pushes to the destination's ``request`` inputs and waits for the reply.

Unsettled messages go back to their queue (flagged redelivered) when the transport that took
them closes, as a broker does when a connection drops. Dead-lettered and rejected messages are
kept on the broker for assertions (:meth:`InMemoryBroker.dead_letters`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tamarco.core import tracing
from tamarco.core.deadlines import within
from tamarco.core.messaging._transport import ConfirmedEnqueue
from tamarco.core.messaging.errors import NotConnectedError, RequestTimeoutError

if TYPE_CHECKING:
    from tamarco.core.messaging._consumer import Consumer
    from tamarco.core.messaging._input import MessageInput, MessageOutput
    from tamarco.core.messaging._message import Delivery
    from tamarco.core.messaging._transport import ConnectionListener, SendPattern

__all__ = ["DeadLetter", "InMemoryBroker", "InMemoryDelivery", "InMemoryTransport"]

_ids = itertools.count(1)


@dataclass
class DeadLetter:
    """A message the broker was given as failed (dead-lettered or rejected)."""

    source: str
    body: bytes
    headers: dict[str, Any]
    at: float = field(default_factory=time.time)


class _Group:
    """One queue: the messages of a destination for one consumer group, in order."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.messages: collections.deque[InMemoryDelivery] = collections.deque()
        self.available = asyncio.Condition()

    async def put(self, delivery: InMemoryDelivery, front: bool = False) -> None:
        async with self.available:
            if front:
                self.messages.appendleft(delivery)
            else:
                self.messages.append(delivery)
            self.available.notify()

    async def get(self) -> InMemoryDelivery:
        async with self.available:
            await self.available.wait_for(lambda: bool(self.messages))
            return self.messages.popleft()


class InMemoryDelivery:
    """A delivery of the in-memory broker (see :class:`~tamarco.core.messaging.Delivery`)."""

    __slots__ = (
        "_group",
        "_owner",
        "body",
        "correlation_id",
        "headers",
        "key",
        "position",
        "redelivered",
        "reply_to",
        "settled",
        "source",
    )

    def __init__(
        self,
        group: _Group,
        source: str,
        body: bytes,
        headers: Mapping[str, object] | None,
        key: str | None,
        *,
        reply_to: str | None = None,
        correlation_id: str | None = None,
    ) -> None:
        self._group = group
        self._owner: InMemoryTransport | None = None
        self.source = source
        self.body = body
        self.headers: dict[str, Any] = dict(headers or {})
        self.key = key
        self.position = next(_ids)
        self.redelivered = False
        self.reply_to = reply_to
        self.correlation_id = correlation_id
        self.settled = False

    def _copy_for_requeue(self) -> InMemoryDelivery:
        again = InMemoryDelivery(
            self._group,
            self.source,
            self.body,
            self.headers,
            self.key,
            reply_to=self.reply_to,
            correlation_id=self.correlation_id,
        )
        again.position = self.position
        again.redelivered = True
        return again

    async def ack(self) -> None:
        if not self.settled:
            self.settled = True
            self._release()

    async def nack(self, requeue: bool = True) -> None:
        if self.settled:
            return
        self.settled = True
        self._release()
        if requeue:
            await self._group.put(self._copy_for_requeue(), front=True)
        elif self._owner is not None:
            self._owner.broker.rejected.append(DeadLetter(self.source, self.body, dict(self.headers)))

    async def reply(self, body: bytes, *, headers: Mapping[str, object] | None = None) -> None:
        if self.reply_to is None or self._owner is None:
            raise NotConnectedError(f"message from {self.source!r} is not a request: nowhere to reply")
        self._owner.broker.reply(self.reply_to, body, headers)

    def _release(self) -> None:
        if self._owner is not None:
            self._owner._unsettled.discard(self)


class InMemoryBroker:
    """Queues, fan-out and dead letters in process memory; share one between the transports of
    the services a test runs together."""

    def __init__(self) -> None:
        #: destination -> subscription groups (one per ``subscribe`` input consuming).
        self._subscribers: dict[str, list[_Group]] = collections.defaultdict(list)
        #: destination -> group name -> group (``pull``, ``request`` and Kafka-style groups).
        self._groups: dict[str, dict[str, _Group]] = collections.defaultdict(dict)
        self._dead_letters: dict[str, list[DeadLetter]] = collections.defaultdict(list)
        self._dead_letter_added = asyncio.Event()
        self._replies: dict[str, asyncio.Future[tuple[bytes, Mapping[str, object] | None]]] = {}
        #: Messages rejected (``nack(requeue=False)``), which a real broker would drop.
        self.rejected: list[DeadLetter] = []

    # -- topology -----------------------------------------------------------------------------

    def group(self, destination: str, name: str) -> _Group:
        groups = self._groups[destination]
        if name not in groups:
            groups[name] = _Group(name)
        return groups[name]

    def subscribe(self, destination: str) -> _Group:
        group = _Group(f"subscription-{next(_ids)}")
        self._subscribers[destination].append(group)
        return group

    def unsubscribe(self, destination: str, group: _Group) -> None:
        with contextlib.suppress(ValueError):
            self._subscribers[destination].remove(group)

    # -- messages -----------------------------------------------------------------------------

    async def publish(
        self, destination: str, body: bytes, headers: Mapping[str, object] | None, key: str | None
    ) -> None:
        for group in list(self._subscribers.get(destination, ())):
            await group.put(InMemoryDelivery(group, destination, body, headers, key))

    async def push(self, destination: str, body: bytes, headers: Mapping[str, object] | None, key: str | None) -> None:
        groups = self._groups[destination]
        targets = [group for name, group in groups.items() if not name.startswith("request:")]
        if not targets:
            targets = [self.group(destination, destination)]
        for group in targets:
            await group.put(InMemoryDelivery(group, destination, body, headers, key))

    async def request(
        self, destination: str, body: bytes, headers: Mapping[str, object] | None, timeout: float
    ) -> bytes:
        correlation_id = f"request-{next(_ids)}"
        future: asyncio.Future[tuple[bytes, Mapping[str, object] | None]] = asyncio.get_running_loop().create_future()
        self._replies[correlation_id] = future
        group = self.group(destination, f"request:{destination}")
        await group.put(
            InMemoryDelivery(
                group, destination, body, headers, None, reply_to=correlation_id, correlation_id=correlation_id
            )
        )
        try:
            answer, reply_headers = await within(future, timeout)
        except TimeoutError:
            raise RequestTimeoutError(f"no answer to a request to {destination!r} within {timeout:g} s") from None
        finally:
            self._replies.pop(correlation_id, None)
        tracing.reply_received(reply_headers)
        return answer

    def reply(self, reply_to: str, body: bytes, headers: Mapping[str, object] | None = None) -> None:
        future = self._replies.get(reply_to)
        if future is not None and not future.done():
            future.set_result((body, dict(headers) if headers else None))

    def dead_letter(self, source: str, body: bytes, headers: Mapping[str, object]) -> None:
        self._dead_letters[source].append(DeadLetter(source, body, dict(headers)))
        self._dead_letter_added.set()

    # -- for assertions -----------------------------------------------------------------------

    def dead_letters(self, source: str) -> list[DeadLetter]:
        """The messages dead-lettered from ``source`` so far."""
        return list(self._dead_letters.get(source, ()))

    async def wait_dead_letters(self, source: str, count: int, timeout: float = 5.0) -> list[DeadLetter]:
        """Wait until ``source`` has at least ``count`` dead letters (``TimeoutError`` after ``timeout``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self._dead_letters.get(source, ())) < count:
            self._dead_letter_added.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(
                    f"{len(self._dead_letters.get(source, ()))} dead letters from {source!r}, expected {count}"
                )
            with contextlib.suppress(TimeoutError):
                await within(self._dead_letter_added.wait(), remaining)
        return self.dead_letters(source)

    def pending(self, destination: str) -> int:
        """Messages waiting in the destination's groups, not yet taken by a consumer."""
        groups = [*self._groups.get(destination, {}).values(), *self._subscribers.get(destination, ())]
        return sum(len(group.messages) for group in groups)


class _MemorySubscription:
    """The consumption of one input: a pump taking messages from the group, at most the policy's
    ``prefetch`` at a time, each handled in a task of its own (as aiormq does for aio-pika)."""

    def __init__(
        self, transport: InMemoryTransport, group: _Group, consumer: Consumer, unsubscribe: Callable[[], None] | None
    ) -> None:
        self._transport = transport
        self._group = group
        self._consumer = consumer
        self._unsubscribe = unsubscribe
        self._prefetch = asyncio.Semaphore(consumer.policy.prefetch)
        self._handlers: set[asyncio.Task[None]] = set()
        self._pump = asyncio.get_running_loop().create_task(self._run(), name=f"tamarco:memory:{consumer.input.name}")

    async def _run(self) -> None:
        group, transport, prefetch = self._group, self._transport, self._prefetch
        loop = asyncio.get_running_loop()
        handlers = self._handlers
        while True:
            await prefetch.acquire()
            try:
                delivery = await group.get()
            except BaseException:
                prefetch.release()
                raise
            delivery._owner = transport
            transport._unsettled.add(delivery)
            task = loop.create_task(self._deliver(delivery))
            handlers.add(task)
            task.add_done_callback(handlers.discard)

    async def _deliver(self, delivery: InMemoryDelivery) -> None:
        try:
            await self._consumer.handle((delivery,))
        except asyncio.CancelledError:  # the connection closed under it: the broker requeues
            await delivery.nack(True)
            raise
        finally:
            self._prefetch.release()

    async def cancel(self) -> None:
        """Stop taking messages; the ones taken are still handled (the consumer drains them)."""
        self._pump.cancel()
        await asyncio.gather(self._pump, return_exceptions=True)
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()

    async def abort(self) -> None:
        """The connection closed: what is still being handled is cancelled (and requeued)."""
        await self.cancel()
        handlers = list(self._handlers)
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)


class InMemoryTransport(ConfirmedEnqueue):
    """A :class:`~tamarco.core.messaging.Transport` over an :class:`InMemoryBroker`."""

    kind = "memory"

    def __init__(self, broker: InMemoryBroker | None = None) -> None:
        self.broker = broker or InMemoryBroker()
        self.connected = False
        self._listener: ConnectionListener | None = None
        self._unsettled: set[InMemoryDelivery] = set()
        self._subscriptions: set[_MemorySubscription] = set()

    def describe(self) -> dict[str, object]:
        return {"address": "memory", "connected": self.connected}

    def set_connection_listener(self, listener: ConnectionListener | None) -> None:
        self._listener = listener

    async def connect(self) -> None:
        self.connected = True

    async def close(self) -> None:
        subscriptions, self._subscriptions = self._subscriptions, set()
        for subscription in subscriptions:
            await subscription.abort()
        self.connected = False
        for delivery in list(self._unsettled):  # a dropped connection: the broker requeues
            await delivery.nack(True)

    def simulate_connection_loss(self, reason: str = "simulated") -> None:
        """Tell the resource the connection dropped (status CONNECTING); for tests."""
        self.connected = False
        if self._listener is not None:
            self._listener(False, reason)

    def simulate_connection_restored(self) -> None:
        self.connected = True
        if self._listener is not None:
            self._listener(True, None)

    def _check(self) -> None:
        if not self.connected:
            raise NotConnectedError("in-memory transport is not connected")

    async def consume(self, input_: MessageInput, consumer: Consumer) -> _MemorySubscription:
        self._check()
        source = input_.source
        unsubscribe = None
        if input_.pattern == "subscribe":
            group = self.broker.subscribe(source)

            def unsubscribe() -> None:
                self.broker.unsubscribe(source, group)

        elif input_.pattern == "request":
            group = self.broker.group(source, f"request:{source}")
        else:
            group = self.broker.group(source, input_.group_id or source)
        subscription = _MemorySubscription(self, group, consumer, unsubscribe)
        self._subscriptions.add(subscription)
        return subscription

    async def send(
        self,
        output: MessageOutput,
        pattern: SendPattern,
        body: bytes,
        *,
        key: str | None,
        headers: Mapping[str, object] | None,
    ) -> None:
        self._check()
        if pattern == "publish":
            await self.broker.publish(output.destination, body, headers, key)
        else:
            await self.broker.push(output.destination, body, headers, key)

    async def request(
        self, output: MessageOutput, body: bytes, *, timeout: float, headers: Mapping[str, object] | None
    ) -> bytes:
        self._check()
        return await self.broker.request(output.destination, body, headers, timeout)

    async def dead_letter(self, input_: MessageInput, delivery: Delivery, headers: Mapping[str, object]) -> None:
        self._check()
        self.broker.dead_letter(input_.source, delivery.body, headers)
