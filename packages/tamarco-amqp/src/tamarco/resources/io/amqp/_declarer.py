"""Topology: the exchanges and queues of the naming scheme, each declared once per connection.

One cache for everything this resource declares — the outputs' exchanges and queues on the
confirm channel, the inputs' queues on their own channels, the dead-letter queues — cleared when
the connection closes. (aio-pika's robust channels declare again what they declared after a
reconnect.)
"""

from __future__ import annotations

from typing import Any

from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue, ExchangeType
from tamarco.core.messaging import MessageInput
from tamarco.resources.io.amqp._naming import AMQPNames

__all__ = ["Declarer"]


class Declarer:
    """Declares the broker names of :class:`AMQPNames` (see the module doc)."""

    def __init__(self, names: AMQPNames, instance: str) -> None:
        self.names = names
        #: Names the subscriber queues of this resource (unique per process and resource).
        self.instance = instance
        self._exchanges: dict[str, AbstractExchange] = {}
        self._queues: set[str] = set()

    def clear(self) -> None:
        self._exchanges.clear()
        self._queues.clear()

    async def exchange(self, channel: AbstractChannel, queue: str) -> AbstractExchange:
        """The fanout exchange of the logical ``queue`` for publishing on ``channel`` (the confirm
        channel: the object is kept, and publishes go through it)."""
        name = self.names.exchange(queue)
        exchange = self._exchanges.get(name)
        if exchange is None:
            exchange = self._exchanges[name] = await self._declare_exchange(channel, name)
        return exchange

    async def push_queue(self, channel: AbstractChannel, queue: str) -> str:
        """The durable queue of the logical ``queue``'s pull inputs (``push``)."""
        return await self._durable(channel, self.names.push_queue(queue))

    async def dead_letter_queue(self, channel: AbstractChannel, queue: str) -> str:
        """Where the failed messages of the logical ``queue`` go."""
        return await self._durable(channel, self.names.dead_letter_queue(queue))

    async def input_queue(self, channel: AbstractChannel, input_: MessageInput) -> AbstractQueue:
        """The queue ``input_`` consumes, declared (and bound) on its own ``channel``: an exclusive
        queue bound to the exchange for a subscription, else the durable request or push queue."""
        source = input_.source
        if input_.pattern == "subscribe":
            exchange = await self._declare_exchange(channel, self.names.exchange(source))
            queue = await channel.declare_queue(
                self.names.subscriber_queue(source, self.instance),
                exclusive=True,
                auto_delete=self.names.subscriber_queue_auto_delete,
            )
            await queue.bind(exchange, routing_key="")
            return queue
        if input_.pattern == "request":
            return await self._declare(
                channel, self.names.request_queue(source), durable=self.names.request_queue_durable
            )
        return await self._declare(channel, self.names.push_queue(source), durable=True)

    async def _declare_exchange(self, channel: AbstractChannel, name: str) -> AbstractExchange:
        return await channel.declare_exchange(name, ExchangeType.FANOUT, durable=self.names.exchange_durable)

    async def _durable(self, channel: AbstractChannel, name: str) -> str:
        if name not in self._queues:
            await self._declare(channel, name, durable=True)
        return name

    async def _declare(self, channel: AbstractChannel, name: str, **arguments: Any) -> AbstractQueue:
        queue = await channel.declare_queue(name, **arguments)
        self._queues.add(name)
        return queue
