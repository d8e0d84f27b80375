"""The AMQP transport: the core's :class:`~tamarco.core.messaging.Transport` on aio-pika.

One robust connection (``aio_pika.RobustConnection``) per resource, with:

- a *confirm* channel (publisher confirms, returns raise) for ``push``, ``publish`` and
  dead letters: ``send`` returns once the broker confirmed the message;
- an *rpc* channel (no confirms) consuming ``amq.rabbitmq.reply-to`` for the requests this
  resource sends, many at once, told apart by correlation id;
- one channel per input, with ``basic.qos`` prefetch (the ``prefetch`` setting, or twice the
  input's ``max_concurrency``: the handlers' messages plus as many waiting), so the broker holds
  the rest (backpressure); a request input's answers go out on its channel. Each delivery is
  handled in the task aiormq gives it (``Consumer.handle``), at most ``max_concurrency`` at a
  time.

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
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import aio_pika
import aiormq
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
    DeliveryMode,
    ExchangeType,
)
from tamarco.core.deadlines import Backoff, within
from tamarco.core.messaging import (
    AuthenticationError,
    NotConnectedError,
    PublishError,
    RequestTimeoutError,
)
from tamarco.resources.io.amqp._config import AMQPConfig
from tamarco.resources.io.amqp._naming import AMQPNames

if TYPE_CHECKING:
    from tamarco.core.messaging import (
        ConnectionListener,
        Consumer,
        Delivery,
        MessageInput,
        MessageOutput,
        SendPattern,
        SendTracker,
    )

__all__ = ["DIRECT_REPLY_TO", "AMQPDelivery", "AMQPTransport"]

DIRECT_REPLY_TO = "amq.rabbitmq.reply-to"
#: RabbitMQ's default ``max_message_size`` (128 MiB): bigger messages are refused before sending.
DEFAULT_MAX_MESSAGE_SIZE = 134_217_728
#: Errors of a lost connection or channel while publishing or settling.
_CONNECTION_ERRORS = (
    aiormq.exceptions.AMQPConnectionError,
    aiormq.exceptions.ChannelInvalidStateError,
    ConnectionError,
    RuntimeError,  # aio-pika: "Channel is closed" / "connection closed" while reconnecting
)
#: How long a publish waits for a channel the broker closed to be reopened.
_CHANNEL_REOPEN_WAIT = 5.0


class AMQPDelivery:
    """One message as an input's queue delivered it (see :class:`~tamarco.core.messaging.Delivery`)."""

    __slots__ = ("_channel", "_logger", "_message", "_transport", "settled", "source")

    def __init__(
        self,
        message: AbstractIncomingMessage,
        source: str,
        transport: AMQPTransport,
        channel: AbstractChannel,
    ) -> None:
        self._message = message
        self.source = source
        self._transport = transport
        self._logger = transport.logger
        #: The input's channel: answers to requests go out on it.
        self._channel = channel
        self.settled = False

    @property
    def body(self) -> bytes:
        return self._message.body

    @property
    def headers(self) -> Mapping[str, Any]:
        return self._message.headers or {}

    @property
    def key(self) -> str | None:
        return self._message.routing_key

    @property
    def position(self) -> Any:
        return self._message.delivery_tag

    @property
    def redelivered(self) -> bool:
        return bool(self._message.redelivered)

    @property
    def reply_to(self) -> str | None:
        return self._message.reply_to

    @property
    def correlation_id(self) -> str | None:
        return self._message.correlation_id

    @property
    def message(self) -> AbstractIncomingMessage:
        """aio-pika's message (for AMQP-specific properties)."""
        return self._message

    async def ack(self) -> None:
        if self.settled:
            return
        self.settled = True
        try:
            await self._message.ack()
        except _CONNECTION_ERRORS as error:
            self._lost(error)

    async def nack(self, requeue: bool = True) -> None:
        if self.settled:
            return
        self.settled = True
        try:
            await self._message.nack(requeue=requeue)
        except _CONNECTION_ERRORS as error:
            self._lost(error)

    async def reply(self, body: bytes) -> None:
        await self._transport.reply(self, self._channel, body)

    def _lost(self, error: BaseException) -> None:
        self._logger.info(
            "message from %s could not be settled, its channel is gone (%s); the broker delivers it again",
            self.source,
            error,
        )


class _AMQPSubscription:
    """The consumption of one input: its channel, queue and consumer tag."""

    def __init__(self, transport: AMQPTransport, channel: AbstractChannel, queue: AbstractQueue, tag: str) -> None:
        self._transport = transport
        self.channel = channel
        self.queue = queue
        self.tag = tag

    async def cancel(self) -> None:
        """Stop the deliveries (``basic.cancel``). The channel stays open until the transport
        closes, so the running handlers can still acknowledge what they hold."""
        with contextlib.suppress(*_CONNECTION_ERRORS, aiormq.exceptions.AMQPError, asyncio.TimeoutError):
            await within(self.queue.cancel(self.tag), 5)


class AMQPTransport:
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
        self.names = AMQPNames(config.queues_prefix)
        #: Names the subscriber queues of this resource (unique per process and resource).
        self.instance = instance or uuid.uuid4().hex[:12]
        self.logger = logger or logging.getLogger("tamarco.amqp")
        self.connection_name = connection_name
        self.max_message_size = max_message_size
        self.connection: AbstractRobustConnection | None = None
        self._confirm_channel: AbstractChannel | None = None
        self._rpc_channel: AbstractChannel | None = None
        self._reply_consumer: str | None = None
        self._reply_lock = asyncio.Lock()
        self._replies: dict[str, asyncio.Future[bytes]] = {}
        self._exchanges: dict[str, AbstractExchange] = {}
        self._queues: set[str] = set()
        self._request_queues: dict[str, str] = {}
        #: (pattern, destination) -> (exchange, or None for the default one; routing key), once declared.
        self._routes: dict[tuple[str, str], tuple[AbstractExchange | None, str]] = {}
        self._subscriptions: list[_AMQPSubscription] = []
        self._listener: ConnectionListener | None = None
        self._connected = False
        self._closing = False
        self._backoff_task: asyncio.Task[None] | None = None
        self.reconnects = 0

    # -- connection ---------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        return {**self.config.describe(), "connected": self._connected, "reconnects": self.reconnects}

    def set_connection_listener(self, listener: ConnectionListener | None) -> None:
        self._listener = listener

    async def connect(self) -> None:
        config = self.config
        self._closing = False
        properties = {"connection_name": self.connection_name} if self.connection_name else None
        connection = aio_pika.RobustConnection(
            config.url(),
            ssl_context=config.ssl_context(),
            client_properties=properties,
            reconnect_interval=config.reconnect_interval_seconds,
        )
        self.connection = connection
        try:
            await connection.connect()
        except aiormq.exceptions.ProbableAuthenticationError as error:
            raise AuthenticationError(
                f"authentication failed for user {config.user!r} at {config.address} ({_reply_text(error)})"
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
            raise NotConnectedError(f"broker {config.address} closed the connection: {_reply_text(error)}") from None
        self._confirm_channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        self._rpc_channel = await connection.channel(publisher_confirms=False)
        connection.close_callbacks.add(self._on_close)
        connection.reconnect_callbacks.add(self._on_reconnect)
        self._connected = True

    def _on_close(self, _sender: Any, error: BaseException | None = None) -> None:
        if self._closing:
            return
        self._connected = False
        reason = f"{type(error).__name__}: {error}" if error is not None else "connection closed"
        # Answers to the requests in flight would come on the lost channel: fail them now.
        self._fail_replies(NotConnectedError(f"connection to {self.config.address} was lost before the answer came"))
        if self._listener is not None:
            self._listener(False, reason)
        if self._backoff_task is None or self._backoff_task.done():
            self._backoff_task = asyncio.get_running_loop().create_task(self._back_off(), name="tamarco:amqp:backoff")

    async def _back_off(self) -> None:
        """Double aio-pika's reconnect interval while the broker stays away."""
        connection = self.connection
        if connection is None:
            return
        backoff = Backoff(self.config.reconnect_interval_seconds, self.config.max_reconnect_interval_seconds)
        while not self._connected and not self._closing:
            await backoff.sleep()
            connection.reconnect_interval = backoff.delay  # type: ignore[attr-defined]

    def _on_reconnect(self, _sender: Any) -> None:
        self.reconnects += 1
        self._connected = True
        if self.connection is not None:
            self.connection.reconnect_interval = self.config.reconnect_interval_seconds  # type: ignore[attr-defined]
        if self._listener is not None:
            self._listener(True, None)

    async def close(self) -> None:
        self._closing = True
        self._connected = False
        if self._backoff_task is not None:
            self._backoff_task.cancel()
            await asyncio.gather(self._backoff_task, return_exceptions=True)
            self._backoff_task = None
        self._fail_replies(NotConnectedError(f"resource closed its connection to {self.config.address}"))
        connection, self.connection = self.connection, None
        self._confirm_channel = self._rpc_channel = None
        self._reply_consumer = None
        self._exchanges.clear()
        self._queues.clear()
        self._routes.clear()
        self._subscriptions.clear()
        if connection is not None:
            await connection.close()

    def _fail_replies(self, error: Exception) -> None:
        replies, self._replies = self._replies, {}
        for future in replies.values():
            if not future.done():
                future.set_exception(error)

    def _channel(self, channel: AbstractChannel | None, what: str) -> AbstractChannel:
        if channel is None or not self._connected:
            state = "reconnecting" if self.connection is not None and not self._closing else "not connected"
            raise NotConnectedError(f"cannot {what}: {state} to {self.config.address}")
        return channel

    async def _open(self, channel: AbstractChannel | None, what: str) -> AbstractChannel:
        """``channel``, waiting up to a few seconds if the broker closed it and aio-pika is
        reopening it (after a refused message, say): only a lost connection fails at once."""
        channel = self._channel(channel, what)
        if channel.is_closed:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + _CHANNEL_REOPEN_WAIT
            while channel.is_closed:  # aio-pika signals no event for a reopened channel
                if loop.time() > deadline or not self._connected:
                    raise NotConnectedError(
                        f"cannot {what}: the channel to {self.config.address} was not reopened within "
                        f"{_CHANNEL_REOPEN_WAIT:g} s"
                    )
                await asyncio.sleep(0.05)
        return channel

    async def _publish(
        self,
        channel: AbstractChannel | None,
        what: str,
        publish: Callable[[AbstractChannel], Awaitable[Any]],
    ) -> None:
        """Run ``publish`` on ``channel``; once more after the channel was reopened if the broker
        had closed it (the message was not sent then: the channel refused it before writing)."""
        for attempt in (1, 2):
            try:
                await publish(await self._open(channel, what))
                return
            except aiormq.exceptions.ChannelInvalidStateError as error:
                if attempt == 2 or not self._connected:
                    raise self._send_error(error, what) from None
                await asyncio.sleep(0.05)
            except Exception as error:
                raise self._send_error(error, what) from None

    # -- topology -----------------------------------------------------------------------------

    async def _declare_queue(self, channel: AbstractChannel, name: str, **arguments: Any) -> AbstractQueue:
        queue = await channel.declare_queue(name, **arguments)
        self._queues.add(name)
        return queue

    async def _exchange(self, channel: AbstractChannel, queue: str) -> AbstractExchange:
        name = self.names.exchange(queue)
        exchange = self._exchanges.get(name)
        if exchange is None:
            exchange = await channel.declare_exchange(name, ExchangeType.FANOUT, durable=True)
            self._exchanges[name] = exchange
        return exchange

    async def _push_queue(self, channel: AbstractChannel, queue: str) -> str:
        name = self.names.push_queue(queue)
        if name not in self._queues:
            await self._declare_queue(channel, name, durable=True)
        return name

    async def _dead_letter_queue(self, channel: AbstractChannel, queue: str) -> str:
        name = self.names.dead_letter_queue(queue)
        if name not in self._queues:
            await self._declare_queue(channel, name, durable=True)
        return name

    # -- consuming ----------------------------------------------------------------------------

    async def consume(self, input_: MessageInput, consumer: Consumer) -> _AMQPSubscription:
        connection = self.connection
        if connection is None or not self._connected:
            raise NotConnectedError(f"cannot consume {input_.source!r}: not connected to {self.config.address}")
        source = input_.source
        names = self.names
        channel = await connection.channel(publisher_confirms=False)
        prefetch = self.config.prefetch or consumer.policy.prefetch
        await channel.set_qos(prefetch_count=prefetch)
        queue: AbstractQueue
        if input_.pattern == "subscribe":
            exchange = await channel.declare_exchange(names.exchange(source), ExchangeType.FANOUT, durable=True)
            queue = await channel.declare_queue(
                names.subscriber_queue(source, self.instance), exclusive=True, auto_delete=True
            )
            await queue.bind(exchange)
        elif input_.pattern == "request":
            queue = await self._declare_queue(channel, names.request_queue(source), durable=True)
        else:
            queue = await self._declare_queue(channel, names.push_queue(source), durable=True)
        if consumer.policy.dead_letter:
            await self._dead_letter_queue(channel, source)
        handle = consumer.handle
        # aiormq runs each delivery in a task of its own, and the prefetch bounds how many there
        # are: the handler runs in that task (no hand-over to a worker), at most max_concurrency
        # at a time (Consumer.handle); the others wait, unacknowledged (backpressure).

        async def on_message(message: AbstractIncomingMessage) -> None:
            await handle((AMQPDelivery(message, source, self, channel),))

        tag = await queue.consume(on_message, no_ack=False)
        subscription = _AMQPSubscription(self, channel, queue, tag)
        self._subscriptions.append(subscription)
        return subscription

    # -- sending ------------------------------------------------------------------------------

    def _check_size(self, body: bytes, what: str) -> None:
        if len(body) > self.max_message_size:
            raise PublishError(
                f"cannot {what}: the message is {len(body)} bytes, over the broker's limit of "
                f"{self.max_message_size} bytes (setting max_message_size)"
            )

    async def send(
        self,
        output: MessageOutput,
        pattern: SendPattern,
        body: bytes,
        *,
        key: str | None,
        headers: Mapping[str, Any] | None,
    ) -> None:
        destination = output.destination
        if len(body) > self.max_message_size:
            self._check_size(body, f"{pattern} to {destination!r}")
        message = aio_pika.Message(body, headers=dict(headers) if headers else None)
        if pattern != "publish":
            message.delivery_mode = DeliveryMode.PERSISTENT
        # The common case, kept flat (every coroutine frame is resumed at each step of a confirmed
        # publish): the exchange or queue is declared and the channel open.
        route = self._routes.get((pattern, destination))
        channel = self._confirm_channel
        if route is not None and channel is not None and self._connected and not channel.is_closed:
            exchange, routing_key = route
            try:
                if exchange is None:
                    await channel.default_exchange.publish(message, routing_key=routing_key, mandatory=True)
                else:
                    await exchange.publish(message, routing_key=key or routing_key, mandatory=False)
                return
            except aiormq.exceptions.ChannelInvalidStateError:
                pass  # closed under us: the path below waits for it to reopen
            except Exception as error:
                raise self._send_error(error, f"{pattern} to {destination!r}") from None
        await self._send_declaring(pattern, destination, message, key)

    async def _send_declaring(
        self, pattern: SendPattern, destination: str, message: aio_pika.Message, key: str | None
    ) -> None:
        """Declare what ``pattern`` needs for ``destination`` (once), then publish."""
        if pattern == "publish":

            async def publish(channel: AbstractChannel) -> None:
                exchange = await self._exchange(channel, destination)
                self._routes[(pattern, destination)] = (exchange, "")
                await exchange.publish(message, routing_key=key or "", mandatory=False)

        else:

            async def publish(channel: AbstractChannel) -> None:
                name = await self._push_queue(channel, destination)
                self._routes[(pattern, destination)] = (None, name)
                await channel.default_exchange.publish(message, routing_key=name, mandatory=True)

        await self._publish(self._confirm_channel, f"{pattern} to {destination!r}", publish)

    def _send_error(self, error: Exception, what: str) -> Exception:
        if isinstance(error, (NotConnectedError, PublishError)):
            return error
        if isinstance(error, aiormq.exceptions.DeliveryError):
            frame = getattr(error, "frame", None)
            reason = getattr(frame, "reply_text", None) or type(frame).__name__
            return PublishError(f"{what}: the broker at {self.config.address} did not take the message ({reason})")
        if isinstance(error, aiormq.exceptions.ChannelClosed):
            return PublishError(f"{what}: the broker at {self.config.address} refused it: {_reply_text(error)}")
        if isinstance(error, _CONNECTION_ERRORS):
            return NotConnectedError(f"cannot {what}: connection to {self.config.address} lost ({error})")
        if isinstance(error, TypeError):
            return PublishError(f"{what}: headers can not be encoded for AMQP ({error})")
        return PublishError(f"{what} failed: {type(error).__name__}: {error}")

    async def _ensure_reply_consumer(self) -> AbstractChannel:
        channel = await self._open(self._rpc_channel, "send a request")
        if self._reply_consumer is None:
            async with self._reply_lock:
                if self._reply_consumer is None:
                    queue = await channel.declare_queue(DIRECT_REPLY_TO, passive=True)
                    self._reply_consumer = await queue.consume(self._on_reply, no_ack=True)
        return channel

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        future = self._replies.pop(message.correlation_id or "", None)
        if future is not None and not future.done():
            future.set_result(message.body)

    async def request(
        self, output: MessageOutput, body: bytes, *, timeout: float, headers: Mapping[str, Any] | None
    ) -> bytes:
        destination = output.destination
        if len(body) > self.max_message_size:
            self._check_size(body, f"send a request to {destination!r}")
        correlation_id = uuid.uuid4().hex
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._replies[correlation_id] = future
        queue = self._request_queues.get(destination)
        if queue is None:
            queue = self._request_queues[destination] = self.names.request_queue(destination)
        try:
            channel = self._rpc_channel
            if self._reply_consumer is None or channel is None or not self._connected or channel.is_closed:
                channel = await self._ensure_reply_consumer()
            message = aio_pika.Message(
                body,
                headers=dict(headers) if headers else None,
                correlation_id=correlation_id,
                reply_to=DIRECT_REPLY_TO,
                expiration=timeout,
            )
            await channel.default_exchange.publish(message, routing_key=queue, mandatory=False)
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise RequestTimeoutError(
                f"no answer to a request to {destination!r} (queue {queue!r}) within {timeout:g} s"
            ) from None
        except Exception as error:
            raise self._send_error(error, f"send a request to {destination!r}") from None
        finally:
            self._replies.pop(correlation_id, None)

    async def enqueue(
        self,
        output: MessageOutput,
        body: bytes,
        *,
        key: str | None,
        headers: Mapping[str, Any] | None,
        tracker: SendTracker,
    ) -> None:
        """No unconfirmed path on AMQP: a confirmed ``push``, reported at once."""
        await self.send(output, "push", body, key=key, headers=headers)
        tracker.published(1)

    async def reply(self, delivery: Delivery, channel: AbstractChannel | None, body: bytes) -> None:
        """Answer the request ``delivery`` carried (what :meth:`AMQPDelivery.reply` calls)."""
        reply_to = delivery.reply_to
        if not reply_to:
            raise PublishError(f"message from {delivery.source!r} is not a request: it has no reply_to")
        if len(body) > self.max_message_size:
            self._check_size(body, f"answer a request from {delivery.source!r}")
        message = aio_pika.Message(body, correlation_id=delivery.correlation_id)
        # On the request input's channel, not the one this resource's own requests use: a channel
        # writes one message at a time, so answers and requests would wait for each other.
        channel = channel or self._rpc_channel
        if channel is not None and self._connected and not channel.is_closed:
            try:
                await channel.default_exchange.publish(message, routing_key=reply_to, mandatory=False)
                return
            except aiormq.exceptions.ChannelInvalidStateError:
                pass  # closed under us: the path below waits for it to reopen
            except Exception as error:
                raise self._send_error(error, f"answer a request from {delivery.source!r}") from None

        async def publish(channel: AbstractChannel) -> None:
            await channel.default_exchange.publish(message, routing_key=reply_to, mandatory=False)

        await self._publish(channel, f"answer a request from {delivery.source!r}", publish)

    async def dead_letter(self, input_: MessageInput, delivery: Delivery, headers: Mapping[str, Any]) -> None:
        what = f"dead-letter a message of {input_.source!r}"
        message = aio_pika.Message(delivery.body, headers=_amqp_headers(headers), delivery_mode=DeliveryMode.PERSISTENT)

        async def publish(channel: AbstractChannel) -> None:
            name = await self._dead_letter_queue(channel, input_.source)
            await channel.default_exchange.publish(message, routing_key=name, mandatory=True)

        await self._publish(self._confirm_channel, what, publish)


def _amqp_headers(headers: Mapping[str, Any]) -> dict[str, Any]:
    """Headers AMQP can carry: bytes become text (or their repr), other odd values their str."""
    result: dict[str, Any] = {}
    for key, value in headers.items():
        if isinstance(value, (bytes, bytearray)):
            try:
                value = bytes(value).decode("utf-8")
            except UnicodeDecodeError:
                value = repr(bytes(value))
        elif value is not None and not isinstance(value, (str, int, float, bool, dict, list)):
            value = str(value)
        result[str(key)] = value
    return result


def _reply_text(error: BaseException) -> str:
    """The broker's reply text of an aiormq error (``args`` may be ``(code, text)``)."""
    texts = [str(arg) for arg in getattr(error, "args", ()) if isinstance(arg, str)]
    return texts[-1] if texts else type(error).__name__
