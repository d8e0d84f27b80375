"""One message of an input's queue as the core's :class:`~tamarco.core.messaging.Delivery`."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

import aiormq
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

if TYPE_CHECKING:
    from tamarco.resources.io.amqp._rpc import Requests

__all__ = ["CONNECTION_ERRORS", "AMQPDelivery"]

#: Errors of a lost connection or channel while publishing or settling.
CONNECTION_ERRORS = (
    aiormq.exceptions.AMQPConnectionError,
    aiormq.exceptions.ChannelInvalidStateError,
    ConnectionError,
    RuntimeError,  # aio-pika: "Channel is closed" / "connection closed" while reconnecting
)


class AMQPDelivery:
    """One message as an input's queue delivered it (see :class:`~tamarco.core.messaging.Delivery`).

    Settling it on a channel that is gone is skipped (logged): the broker delivers the message
    again. A request's answer goes out on the input's own channel (:meth:`reply`)."""

    __slots__ = ("_channel", "_logger", "_message", "_requests", "settled", "source")

    def __init__(
        self,
        message: AbstractIncomingMessage,
        source: str,
        channel: AbstractChannel,
        requests: Requests,
        logger: logging.Logger,
    ) -> None:
        self._message = message
        self.source = source
        self._channel = channel
        self._requests = requests
        self._logger = logger
        self.settled = False

    @property
    def body(self) -> bytes:
        return self._message.body

    @property
    def headers(self) -> Mapping[str, object]:
        return self._message.headers or {}

    @property
    def key(self) -> str | None:
        return self._message.routing_key

    @property
    def position(self) -> int | None:
        """The delivery tag."""
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
        except CONNECTION_ERRORS as error:
            self._lost(error)

    async def nack(self, requeue: bool = True) -> None:
        if self.settled:
            return
        self.settled = True
        try:
            await self._message.nack(requeue=requeue)
        except CONNECTION_ERRORS as error:
            self._lost(error)

    async def reply(self, body: bytes, *, headers: Mapping[str, object] | None = None) -> None:
        await self._requests.reply(self, self._channel, body, headers)

    def _lost(self, error: BaseException) -> None:
        self._logger.info(
            "message from %s could not be settled, its channel is gone (%s); the broker delivers it again",
            self.source,
            error,
        )
