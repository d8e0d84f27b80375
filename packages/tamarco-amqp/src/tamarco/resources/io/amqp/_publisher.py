"""Confirmed publishing: every message the resource sends goes through :meth:`Publisher.publish`.

``push``, ``publish`` and dead letters go out on the *confirm* channel (publisher confirms,
returns raise), so a send returns once the broker took the message; a request's answer goes out
on the request input's own channel. A channel the broker closed (after a refused message, say)
is waited for while aio-pika reopens it, and the publish is tried once more: the channel refused
the message before writing it, so it was not sent twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any

import aio_pika
import aiormq
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractRobustConnection, DeliveryMode
from tamarco.core.messaging import NotConnectedError, PublishError
from tamarco.resources.io.amqp._declarer import Declarer
from tamarco.resources.io.amqp._delivery import CONNECTION_ERRORS

if TYPE_CHECKING:
    from tamarco.core.messaging import SendPattern

__all__ = ["DEFAULT_MAX_MESSAGE_SIZE", "Publisher", "reply_text"]

#: RabbitMQ's default ``max_message_size`` (128 MiB): bigger messages are refused before sending.
DEFAULT_MAX_MESSAGE_SIZE = 134_217_728
#: How long a publish waits for a channel the broker closed to be reopened.
_CHANNEL_REOPEN_WAIT = 5.0
#: Where a send goes: exchange (None: the default one), routing key, what the send is called in errors.
_Route = tuple[AbstractExchange | None, str, str]


class Link:
    """The state of the connection the publisher and the requests share with the transport."""

    __slots__ = ("address", "closing", "connected", "connection")

    def __init__(self, address: str) -> None:
        self.address = address
        self.connection: AbstractRobustConnection | None = None
        self.connected = False
        self.closing = False


class Publisher:
    """The confirm channel and the one way to publish on a channel (see the module doc)."""

    def __init__(self, link: Link, declarer: Declarer, max_message_size: int) -> None:
        self.link = link
        self.declarer = declarer
        self.max_message_size = max_message_size
        self.channel: AbstractChannel | None = None
        #: The content type of every message sent (the naming scheme's, fixed).
        self.content_type = declarer.names.content_type
        #: (pattern, destination) -> the route once declared: exchange (None for the default
        #: one), routing key, and what a send there is called in errors.
        self._routes: dict[tuple[str, str], _Route] = {}

    async def open(self, connection: AbstractRobustConnection) -> None:
        self.channel = await connection.channel(publisher_confirms=True, on_return_raises=True)

    def clear(self) -> None:
        self.channel = None
        self._routes.clear()

    def check_size(self, body: bytes, what: str) -> None:
        if len(body) > self.max_message_size:
            raise PublishError(
                f"cannot {what}: the message is {len(body)} bytes, over the broker's limit of "
                f"{self.max_message_size} bytes (setting max_message_size)"
            )

    def send(
        self, pattern: SendPattern, destination: str, body: bytes, key: str | None, headers: Mapping[str, Any] | None
    ) -> Coroutine[Any, Any, None]:
        """``publish`` (to the exchange of ``destination``) or ``push`` (persistent, to its queue).

        Once the route is known, the coroutine of :meth:`publish` itself: one frame less for
        each of the several times a confirmed publish resumes."""
        route = self._routes.get((pattern, destination))
        if route is None or len(body) > self.max_message_size:
            return self._send_first(pattern, destination, body, key, headers)
        return self._publish_routed(route, body, key, headers)

    async def _send_first(
        self, pattern: SendPattern, destination: str, body: bytes, key: str | None, headers: Mapping[str, Any] | None
    ) -> None:
        what = f"{pattern} to {destination!r}"
        self.check_size(body, what)
        route = self._routes.get((pattern, destination))
        if route is None:
            route = await self._route(pattern, destination, what)
        await self._publish_routed(route, body, key, headers)

    def _publish_routed(
        self, route: _Route, body: bytes, key: str | None, headers: Mapping[str, Any] | None
    ) -> Coroutine[Any, Any, None]:
        exchange, routing_key, what = route
        amqp_headers = dict(headers) if headers else None
        if exchange is None:  # push: persistent (given to the constructor: aio-pika checks every later set)
            message = aio_pika.Message(
                body, headers=amqp_headers, content_type=self.content_type, delivery_mode=DeliveryMode.PERSISTENT
            )
            return self.publish(self.channel, what, message, routing_key, mandatory=True)
        message = aio_pika.Message(body, headers=amqp_headers, content_type=self.content_type)
        return self.publish(self.channel, what, message, key or routing_key, exchange, mandatory=False)

    async def _route(self, pattern: SendPattern, destination: str, what: str) -> _Route:
        """Declare what ``pattern`` needs for ``destination`` (once) and remember where it goes."""
        try:
            channel = await self.wait_open(self.channel, what)
            if pattern == "publish":
                route: _Route = (await self.declarer.exchange(channel, destination), "", what)
            else:
                route = (None, await self.declarer.push_queue(channel, destination), what)
        except Exception as error:
            raise self.error(error, what) from None
        self._routes[(pattern, destination)] = route
        return route

    async def dead_letter(self, source: str, body: bytes, headers: Mapping[str, Any]) -> None:
        """Store a failed message of ``source`` in its dead-letter queue (persistent, confirmed)."""
        what = f"dead-letter a message of {source!r}"
        message = aio_pika.Message(
            body,
            headers=_amqp_headers(headers),
            delivery_mode=DeliveryMode.PERSISTENT,
            content_type=self.content_type,
        )
        try:
            queue = await self.declarer.dead_letter_queue(await self.wait_open(self.channel, what), source)
        except Exception as error:
            raise self.error(error, what) from None
        await self.publish(self.channel, what, message, queue, mandatory=True)

    async def publish(
        self,
        channel: AbstractChannel | None,
        what: str,
        message: aio_pika.Message,
        routing_key: str,
        exchange: AbstractExchange | None = None,
        *,
        mandatory: bool,
    ) -> None:
        """Publish ``message`` on ``channel`` (to ``exchange``, default: the default exchange).

        A channel the broker closed is noticed by aio-pika's publish (``ChannelInvalidStateError``,
        raised before anything is written) rather than asked here first: the second attempt
        waits for it to be reopened."""
        for attempt in (1, 2):
            try:
                if channel is None or not self.link.connected or (attempt == 2 and channel.is_closed):
                    channel = await self.wait_open(channel, what)
                target = channel.default_exchange if exchange is None else exchange
                await target.publish(message, routing_key=routing_key, mandatory=mandatory)
                return
            except aiormq.exceptions.ChannelInvalidStateError as error:
                if attempt == 2 or not self.link.connected:
                    raise self.error(error, what) from None
                await asyncio.sleep(0.05)
            except Exception as error:
                raise self.error(error, what) from None

    async def wait_open(self, channel: AbstractChannel | None, what: str) -> AbstractChannel:
        """``channel``, waiting up to a few seconds if the broker closed it and aio-pika is
        reopening it: only a lost connection fails at once."""
        link = self.link
        if channel is None or not link.connected:
            state = "reconnecting" if link.connection is not None and not link.closing else "not connected"
            raise NotConnectedError(f"cannot {what}: {state} to {link.address}")
        if channel.is_closed:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + _CHANNEL_REOPEN_WAIT
            while channel.is_closed:  # aio-pika signals no event for a reopened channel
                if loop.time() > deadline or not link.connected:
                    raise NotConnectedError(
                        f"cannot {what}: the channel to {link.address} was not reopened within "
                        f"{_CHANNEL_REOPEN_WAIT:g} s"
                    )
                await asyncio.sleep(0.05)
        return channel

    def error(self, error: Exception, what: str) -> Exception:
        """``error`` as the seam's errors: refused messages a ``PublishError``, a lost
        connection ``NotConnectedError``."""
        address = self.link.address
        if isinstance(error, (NotConnectedError, PublishError)):
            return error
        if isinstance(error, aiormq.exceptions.DeliveryError):
            frame = getattr(error, "frame", None)
            reason = getattr(frame, "reply_text", None) or type(frame).__name__
            return PublishError(f"{what}: the broker at {address} did not take the message ({reason})")
        if isinstance(error, aiormq.exceptions.ChannelClosed):
            return PublishError(f"{what}: the broker at {address} refused it: {reply_text(error)}")
        if isinstance(error, CONNECTION_ERRORS):
            return NotConnectedError(f"cannot {what}: connection to {address} lost ({error})")
        if isinstance(error, TypeError):
            return PublishError(f"{what}: headers can not be encoded for AMQP ({error})")
        return PublishError(f"{what} failed: {type(error).__name__}: {error}")


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


def reply_text(error: BaseException) -> str:
    """The broker's reply text of an aiormq error (``args`` may be ``(code, text)``)."""
    texts = [str(arg) for arg in getattr(error, "args", ()) if isinstance(arg, str)]
    return texts[-1] if texts else type(error).__name__
