"""The AMQP transport: the core's :class:`~tamarco.core.messaging.Transport` on aio-pika.

One robust connection (``aio_pika.RobustConnection``) per resource, split the way FastStream
splits a broker:

- topology (:class:`~tamarco.resources.io.amqp._declarer.Declarer`): the exchanges and queues
  of the naming scheme, declared once, for outputs and inputs alike;
- confirmed publishing (:class:`~tamarco.resources.io.amqp._publisher.Publisher`): ``push``,
  ``publish`` and dead letters on a *confirm* channel (``send`` returns once the broker
  confirmed the message), one publishing path for them and for answers;
- request/reply (:class:`~tamarco.resources.io.amqp._rpc.Requests`): an *rpc* channel
  consuming ``amq.rabbitmq.reply-to`` for the requests this resource sends;
- consuming (here): one channel per input, with ``basic.qos`` prefetch (the ``prefetch``
  setting, or the policy's: twice the input's ``max_concurrency``), so the broker holds the
  rest (backpressure). Each delivery is handled in the task aiormq gives it
  (``Consumer.handle``), at most ``max_concurrency`` at a time.

When the connection drops, aio-pika reconnects and restores the channels, their topology
(queues, exchanges, bindings) and consumers; the resource hears of it through the connection
listener (CONNECTING, then STARTED). Messages delivered before the loss and not yet acknowledged
are delivered again by the broker (at-least-once); acknowledging them on the dead channel is
skipped. The reconnect interval doubles from ``reconnect_interval_seconds`` up to
``max_reconnect_interval_seconds`` while the broker stays away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any

import aio_pika
import aiormq
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue
from tamarco.core.deadlines import Backoff, within
from tamarco.core.messaging import AuthenticationError, ConfirmedEnqueue, NotConnectedError
from tamarco.resources.io.amqp._config import AMQPConfig
from tamarco.resources.io.amqp._declarer import Declarer
from tamarco.resources.io.amqp._delivery import CONNECTION_ERRORS, AMQPDelivery
from tamarco.resources.io.amqp._naming import AMQPNames
from tamarco.resources.io.amqp._publisher import DEFAULT_MAX_MESSAGE_SIZE, Link, Publisher, reply_text
from tamarco.resources.io.amqp._rpc import Requests

if TYPE_CHECKING:
    from tamarco.core.messaging import (
        ConnectionListener,
        Consumer,
        Delivery,
        MessageInput,
        MessageOutput,
        SendPattern,
    )

__all__ = ["DEFAULT_MAX_MESSAGE_SIZE", "AMQPTransport"]


class _AMQPSubscription:
    """The consumption of one input: its channel, queue and consumer tag."""

    def __init__(self, channel: AbstractChannel, queue: AbstractQueue, tag: str) -> None:
        self.channel = channel
        self.queue = queue
        self.tag = tag

    async def cancel(self) -> None:
        """Stop the deliveries (``basic.cancel``). The channel stays open until the transport
        closes, so the running handlers can still acknowledge what they hold."""
        with contextlib.suppress(*CONNECTION_ERRORS, aiormq.exceptions.AMQPError, TimeoutError):
            await within(self.queue.cancel(self.tag), 5)


class AMQPTransport(ConfirmedEnqueue):
    """A :class:`~tamarco.core.messaging.Transport` over one RabbitMQ connection (see the module doc)."""

    kind = "amqp"

    def __init__(
        self,
        config: AMQPConfig,
        *,
        instance: str | None = None,
        logger: logging.Logger | None = None,
        connection_name: str | None = None,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    ) -> None:
        self.config = config
        self.names = AMQPNames(config.queues_prefix, config.naming)
        self.logger = logger or logging.getLogger("tamarco.amqp")
        self.connection_name = connection_name
        self.link = Link(config.address)
        self.declarer = Declarer(self.names, instance or uuid.uuid4().hex[:12])
        self.publisher = Publisher(self.link, self.declarer, max_message_size)
        self.requests = Requests(self.publisher, self.names)
        self._listener: ConnectionListener | None = None
        self._backoff_task: asyncio.Task[None] | None = None
        self.reconnects = 0

    # -- connection ---------------------------------------------------------------------------

    @property
    def instance(self) -> str:
        """Names the subscriber queues of this resource (unique per process and resource)."""
        return self.declarer.instance

    @property
    def max_message_size(self) -> int:
        return self.publisher.max_message_size

    def describe(self) -> dict[str, object]:
        return {**self.config.describe(), "connected": self.link.connected, "reconnects": self.reconnects}

    def set_connection_listener(self, listener: ConnectionListener | None) -> None:
        self._listener = listener

    async def connect(self) -> None:
        config = self.config
        link = self.link
        link.closing = False
        properties = {"connection_name": self.connection_name} if self.connection_name else None
        connection = aio_pika.RobustConnection(
            config.url(),
            ssl_context=config.ssl_context(),
            client_properties=properties,
            reconnect_interval=config.reconnect_interval_seconds,
        )
        link.connection = connection
        try:
            await connection.connect()
        except aiormq.exceptions.ProbableAuthenticationError as error:
            raise AuthenticationError(
                f"authentication failed for user {config.user!r} at {config.address} ({reply_text(error)})"
            ) from None
        except aiormq.exceptions.AuthenticationError:
            raise AuthenticationError(
                f"authentication failed for user {config.user!r} at {config.address} (no common mechanism)"
            ) from None
        except aiormq.exceptions.InvalidFrameError as error:
            if "Connection.Close" not in str(error):
                raise
            # The broker closed the connection instead of opening the vhost (aiormq loses its text).
            raise NotConnectedError(
                f"broker {config.address} refused to open vhost {config.vhost!r} for user {config.user!r} "
                "(it does not exist, or the user has no permission on it)"
            ) from None
        except aiormq.exceptions.ConnectionClosed as error:
            # The broker's reply text names no credentials.
            raise NotConnectedError(f"broker {config.address} closed the connection: {reply_text(error)}") from None
        await self.publisher.open(connection)
        await self.requests.open(connection)
        connection.close_callbacks.add(self._on_close)
        connection.reconnect_callbacks.add(self._on_reconnect)
        link.connected = True

    def _on_close(self, _sender: Any, error: BaseException | None = None) -> None:
        link = self.link
        if link.closing:
            return
        link.connected = False
        reason = f"{type(error).__name__}: {error}" if error is not None else "connection closed"
        # Answers to the requests in flight would come on the lost channel: fail them now.
        self.requests.fail_all(NotConnectedError(f"connection to {link.address} was lost before the answer came"))
        if self._listener is not None:
            self._listener(False, reason)
        if self._backoff_task is None or self._backoff_task.done():
            self._backoff_task = asyncio.get_running_loop().create_task(self._back_off(), name="tamarco:amqp:backoff")

    async def _back_off(self) -> None:
        """Double aio-pika's reconnect interval while the broker stays away."""
        link = self.link
        connection = link.connection
        if connection is None:
            return
        backoff = Backoff(self.config.reconnect_interval_seconds, self.config.max_reconnect_interval_seconds)
        while not link.connected and not link.closing:
            await backoff.sleep()
            connection.reconnect_interval = backoff.delay  # type: ignore[attr-defined]

    def _on_reconnect(self, _sender: Any) -> None:
        self.reconnects += 1
        self.link.connected = True
        if self.link.connection is not None:
            self.link.connection.reconnect_interval = self.config.reconnect_interval_seconds  # type: ignore[attr-defined]
        if self._listener is not None:
            self._listener(True, None)

    async def close(self) -> None:
        link = self.link
        link.closing = True
        link.connected = False
        if self._backoff_task is not None:
            self._backoff_task.cancel()
            await asyncio.gather(self._backoff_task, return_exceptions=True)
            self._backoff_task = None
        self.requests.fail_all(NotConnectedError(f"resource closed its connection to {link.address}"))
        connection, link.connection = link.connection, None
        self.publisher.clear()
        self.requests.clear()
        self.declarer.clear()
        if connection is not None:
            await connection.close()

    # -- consuming ----------------------------------------------------------------------------

    async def consume(self, input_: MessageInput, consumer: Consumer) -> _AMQPSubscription:
        connection = self.link.connection
        if connection is None or not self.link.connected:
            raise NotConnectedError(f"cannot consume {input_.source!r}: not connected to {self.config.address}")
        source = input_.source
        channel = await connection.channel(publisher_confirms=False)
        await channel.set_qos(prefetch_count=self.config.prefetch or consumer.policy.prefetch)
        queue = await self.declarer.input_queue(channel, input_)
        if consumer.policy.dead_letter:
            await self.declarer.dead_letter_queue(channel, source)
        handle, requests, logger = consumer.handle, self.requests, self.logger
        # aiormq runs each delivery in a task of its own, and the prefetch bounds how many there
        # are: the handler runs in that task (no hand-over to a worker), at most max_concurrency
        # at a time (Consumer.handle); the others wait, unacknowledged (backpressure).

        async def on_message(message: AbstractIncomingMessage) -> None:
            await handle((AMQPDelivery(message, source, channel, requests, logger),))

        tag = await queue.consume(on_message, no_ack=False)
        return _AMQPSubscription(channel, queue, tag)

    # -- sending ------------------------------------------------------------------------------

    def send(
        self,
        output: MessageOutput,
        pattern: SendPattern,
        body: bytes,
        *,
        key: str | None,
        headers: Mapping[str, object] | None,
    ) -> Coroutine[Any, Any, None]:
        # The publisher's coroutine itself: one frame less on every send.
        return self.publisher.send(pattern, output.destination, body, key, headers)

    async def request(
        self, output: MessageOutput, body: bytes, *, timeout: float, headers: Mapping[str, object] | None
    ) -> bytes:
        return await self.requests.request(output.destination, body, timeout=timeout, headers=headers)

    async def dead_letter(self, input_: MessageInput, delivery: Delivery, headers: Mapping[str, object]) -> None:
        await self.publisher.dead_letter(input_.source, delivery.body, headers)
