"""The message envelope handed to handlers, and the delivery contract transports implement."""

from __future__ import annotations

import abc
import asyncio
import enum
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from tamarco.core.messaging._input import MessageInput

__all__ = ["Delivery", "Message", "PositionalRun", "Settlement"]


class Delivery(Protocol):
    """One message as a transport received it, before decoding.

    ``ack`` and ``nack`` settle it with the broker (a transport makes a second settlement a
    no-op); ``nack(requeue=False)`` lets the broker drop it or apply its own dead-letter rules.
    """

    @property
    def body(self) -> bytes: ...

    @property
    def headers(self) -> Mapping[str, object]: ...

    @property
    def key(self) -> str | None:
        """AMQP routing key or Kafka message key (``None`` where there is none)."""
        ...

    @property
    def source(self) -> str:
        """The queue or topic the message came from."""
        ...

    @property
    def position(self) -> object:
        """Transport-specific position (Kafka ``(partition, offset)``, AMQP delivery tag), or None:
        opaque to the core (a transport narrows its own)."""
        ...

    @property
    def redelivered(self) -> bool: ...

    @property
    def reply_to(self) -> str | None:
        """Where a reply goes (request/response), or None."""
        ...

    @property
    def correlation_id(self) -> str | None: ...

    async def ack(self) -> None: ...

    async def nack(self, requeue: bool = True) -> None: ...

    async def reply(self, body: bytes, *, headers: Mapping[str, object] | None = None) -> None:
        """Answer the request this delivery carried (to ``reply_to``), with ``headers`` (the
        responder's trace context); a transport without request/response raises
        :class:`~tamarco.core.messaging.errors.MessagingError`. A transport's ``request`` hands
        the answer's headers to :func:`tamarco.core.tracing.reply_received`."""
        ...


class PositionalRun(abc.ABC):
    """An ordered run of deliveries whose transport settles them *by position* (Kafka: a
    partition's records, committed up to an offset), handed to :meth:`Consumer.handle
    <tamarco.core.messaging.Consumer.handle>` in one call.

    Iterating it yields the deliveries in order; asking for the next one means the previous one
    is done, so the consumer does not call ``ack()`` on each delivery it handled (failures,
    nacks, dead letters and rejects are settled on the delivery as usual). A queue's deliveries,
    settled one by one with the broker, are handed over as a plain sequence instead."""

    __slots__ = ()

    @abc.abstractmethod
    def __iter__(self) -> Iterator[Delivery]: ...


class Settlement(enum.Enum):
    """How a message was settled with the broker."""

    ACKED = "acked"
    REQUEUED = "requeued"
    REJECTED = "rejected"
    DEAD_LETTERED = "dead_lettered"


class Message:
    """What a handler that asks for the envelope receives.

    ``body`` is decoded by the input's codec; ``raw`` is the bytes as they arrived. In the
    default (``ack="auto"``) mode Tamarco settles the message after the handler returned; with
    ``ack="manual"`` the handler calls :meth:`ack`, :meth:`nack` or :meth:`reject` itself.
    """

    __slots__ = ("_delivery", "attempt", "body", "input", "released", "settlement")

    def __init__(self, delivery: Delivery, body: Any, input_: MessageInput, attempt: int) -> None:
        self._delivery = delivery
        self.body = body
        self.input = input_
        self.attempt = attempt
        self.settlement: Settlement | None = None
        #: For ``async for`` consumers: True once the consumer asked for the next message, False if
        #: the message goes back to the queue (the service stopped first).
        self.released: asyncio.Future[bool] | None = None

    @property
    def raw(self) -> bytes:
        return self._delivery.body

    @property
    def headers(self) -> Mapping[str, Any]:
        return self._delivery.headers

    @property
    def key(self) -> str | None:
        """The routing key (AMQP) or message key (Kafka)."""
        return self._delivery.key

    @property
    def source(self) -> str:
        """The queue or topic the message came from."""
        return self._delivery.source

    @property
    def position(self) -> Any:
        """Transport-specific position: Kafka ``(partition, offset)``, AMQP delivery tag."""
        return self._delivery.position

    @property
    def redelivered(self) -> bool:
        return self._delivery.redelivered

    @property
    def delivery(self) -> Delivery:
        """The transport's own delivery object (for transport-specific needs)."""
        return self._delivery

    @property
    def settled(self) -> bool:
        return self.settlement is not None

    async def ack(self) -> None:
        """Tell the broker the message is handled (it will not be delivered again)."""
        if self.settlement is None:
            self.settlement = Settlement.ACKED
            await self._delivery.ack()

    async def nack(self, requeue: bool = True) -> None:
        """Give the message back: delivered again (``requeue``), or dropped by the broker."""
        if self.settlement is None:
            self.settlement = Settlement.REQUEUED if requeue else Settlement.REJECTED
            await self._delivery.nack(requeue)

    async def reject(self) -> None:
        """Refuse the message for good (``nack(requeue=False)``): the broker drops it or
        dead-letters it by its own rules. Use :meth:`dead_letter`-like retries through raising."""
        await self.nack(requeue=False)

    def __repr__(self) -> str:
        state = self.settlement.value if self.settlement else "unsettled"
        return f"<Message from {self.source!r} attempt {self.attempt} {state}>"
