"""Request/reply over RabbitMQ's direct reply-to.

The requests this resource sends go out on an *rpc* channel (no confirms) that consumes
``amq.rabbitmq.reply-to``: many requests at once, told apart by correlation id. Answers to the
requests this resource's inputs receive go out on the input's own channel (a channel writes one
message at a time: answers and requests would otherwise wait for each other), through the
:class:`Publisher`'s one publishing path.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection
from tamarco.core import tracing
from tamarco.core.deadlines import within
from tamarco.core.messaging import Delivery, PublishError, RequestTimeoutError
from tamarco.resources.io.amqp._naming import AMQPNames
from tamarco.resources.io.amqp._publisher import Publisher

__all__ = ["DIRECT_REPLY_TO", "Requests"]

DIRECT_REPLY_TO = "amq.rabbitmq.reply-to"


class Requests:
    """The requests in flight and the answers (see the module doc)."""

    def __init__(self, publisher: Publisher, names: AMQPNames) -> None:
        self.publisher = publisher
        self.names = names
        self.channel: AbstractChannel | None = None
        self._consumer: str | None = None
        self._lock = asyncio.Lock()
        self._replies: dict[str, asyncio.Future[AbstractIncomingMessage]] = {}
        self._queues: dict[str, str] = {}

    async def open(self, connection: AbstractRobustConnection) -> None:
        self.channel = await connection.channel(publisher_confirms=False)

    def clear(self) -> None:
        self.channel = None
        self._consumer = None

    def fail_all(self, error: Exception) -> None:
        """Fail the requests in flight (their answers would come on a lost channel)."""
        replies, self._replies = self._replies, {}
        for future in replies.values():
            if not future.done():
                future.set_exception(error)

    async def _ensure_consumer(self) -> AbstractChannel:
        channel = await self.publisher.wait_open(self.channel, "send a request")
        if self._consumer is None:
            async with self._lock:
                if self._consumer is None:
                    queue = await channel.declare_queue(DIRECT_REPLY_TO, passive=True)
                    self._consumer = await queue.consume(self._on_reply, no_ack=True)
        return channel

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        future = self._replies.pop(message.correlation_id or "", None)
        if future is not None and not future.done():
            future.set_result(message)

    async def request(
        self, destination: str, body: bytes, *, timeout: float, headers: Mapping[str, Any] | None
    ) -> bytes:
        """Send a request to ``destination``'s request queue and wait for the answer."""
        publisher = self.publisher
        if len(body) > publisher.max_message_size:
            publisher.check_size(body, f"send a request to {destination!r}")
        correlation_id = uuid.uuid4().hex
        future: asyncio.Future[AbstractIncomingMessage] = asyncio.get_running_loop().create_future()
        self._replies[correlation_id] = future
        queue = self._queues.get(destination)
        if queue is None:
            queue = self._queues[destination] = self.names.request_queue(destination)
        try:
            channel = self.channel
            if self._consumer is None or channel is None or not publisher.link.connected or channel.is_closed:
                channel = await self._ensure_consumer()
            message = aio_pika.Message(
                body,
                headers=dict(headers) if headers else None,
                correlation_id=correlation_id,
                reply_to=DIRECT_REPLY_TO,
                expiration=timeout,
                content_type=self.publisher.content_type,
            )
            await channel.default_exchange.publish(message, routing_key=queue, mandatory=False)
            answer = await within(future, timeout)  # a cancellation of the caller is never swallowed
            tracing.reply_received(answer.headers)
            return answer.body
        except TimeoutError:
            raise RequestTimeoutError(
                f"no answer to a request to {destination!r} (queue {queue!r}) within {timeout:g} s"
            ) from None
        except Exception as error:
            raise publisher.error(error, f"send a request to {destination!r}") from None
        finally:
            self._replies.pop(correlation_id, None)

    async def reply(
        self,
        delivery: Delivery,
        channel: AbstractChannel | None,
        body: bytes,
        headers: Mapping[str, Any] | None = None,
    ) -> None:
        """Answer the request ``delivery`` carried, on ``channel`` (its input's), with ``headers``
        (the responder's trace context) as the reply's message headers."""
        reply_to = delivery.reply_to
        what = f"answer a request from {delivery.source!r}"
        if not reply_to:
            raise PublishError(f"message from {delivery.source!r} is not a request: it has no reply_to")
        publisher = self.publisher
        if len(body) > publisher.max_message_size:
            publisher.check_size(body, what)
        message = aio_pika.Message(
            body,
            headers=dict(headers) if headers else None,
            correlation_id=delivery.correlation_id,
            content_type=self.publisher.content_type,
        )
        await publisher.publish(channel or self.channel, what, message, reply_to, mandatory=False)
