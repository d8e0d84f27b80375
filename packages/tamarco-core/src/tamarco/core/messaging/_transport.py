"""The transport contract: what a broker client implements for :class:`MessagingResource`.

A transport knows its broker (connection, topology, naming, acknowledgements); everything about
*how* messages are handled — decoding, concurrency, retries, dead-lettering, draining, meters —
is the core's (:class:`~tamarco.core.messaging.Consumer`), so every transport behaves the same
and the in-memory transport can stand in for any of them in a unit test.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, cast

if TYPE_CHECKING:
    from tamarco.core.messaging._consumer import Consumer
    from tamarco.core.messaging._input import MessageInput, MessageOutput
    from tamarco.core.messaging._message import Delivery

__all__ = [
    "ConfirmedEnqueue",
    "ConnectionListener",
    "InputT",
    "SendPattern",
    "SendTracker",
    "Subscription",
    "Transport",
]

SendPattern = Literal["publish", "push"]
#: ``listener(connected, reason)``: the transport lost (``False``) or regained (``True``) its broker.
ConnectionListener = Callable[[bool, "str | None"], None]
#: The inputs a transport consumes: ``Transport[KafkaInput]`` reads what only a Kafka input has
#: (topics, a pattern, its dead-letter topic) with no check; its resource takes no other input.
#: Contravariant: a transport of every :class:`MessageInput` (in-memory, AMQP) stands in for any.
InputT = TypeVar("InputT", bound="MessageInput[Any]", contravariant=True)


class SendTracker:
    """Where the outcome of an output's fire-and-forget sends goes once the broker answered
    (:meth:`Transport.enqueue`): how many were published, and each failure."""

    __slots__ = ("destination", "on_failed", "on_published")

    def __init__(
        self, destination: str, on_published: Callable[[int], None] | None, on_failed: Callable[[], None] | None
    ) -> None:
        self.destination = destination
        self.on_published = on_published
        self.on_failed = on_failed

    def published(self, count: int) -> None:
        if self.on_published is not None:
            self.on_published(count)

    def failed(self) -> None:
        if self.on_failed is not None:
            self.on_failed()


class Subscription(Protocol):
    """A running consumption of one input."""

    async def cancel(self) -> None:
        """Stop receiving new deliveries; deliveries already handed over can still be settled."""
        ...


class Transport(Protocol[InputT]):
    """A broker connection as :class:`~tamarco.core.messaging.MessagingResource` uses it, consuming
    inputs of type ``InputT`` (:class:`MessageInput` or a transport's own subclass).

    Errors: ``connect`` raises :class:`~tamarco.core.messaging.errors.AuthenticationError` for
    refused credentials (not retried) and any other exception for an unreachable broker (retried
    until the resource's connection timeout). ``send`` raises
    :class:`~tamarco.core.messaging.errors.PublishError` when the broker refused the message
    and :class:`~tamarco.core.messaging.errors.NotConnectedError` while disconnected.
    """

    #: ``"amqp"``, ``"kafka"``, ``"memory"``: a label of meters and ``/status``.
    kind: str

    def describe(self) -> dict[str, object]:
        """For ``/status`` and error messages: the broker address and state, never credentials."""
        ...

    def set_connection_listener(self, listener: ConnectionListener | None) -> None:
        """Report connection losses and recoveries after :meth:`connect` succeeded."""
        ...

    async def connect(self) -> None: ...

    async def close(self) -> None: ...

    async def consume(self, input_: InputT, consumer: Consumer[Any]) -> Subscription:
        """Start handing ``input_``'s messages to :meth:`Consumer.handle
        <tamarco.core.messaging.Consumer.handle>`, the one way into the delivery contract: one
        delivery per call from a task per delivery (a queue: take at most
        ``consumer.policy.prefetch`` unsettled), or an ordered run of records per call where
        order matters (a Kafka partition's fetched batch). ``handle`` waits for a slot of the
        consumer's limiter (backpressure) and returns how many of the run were settled for good."""
        ...

    async def send(
        self,
        output: MessageOutput,
        pattern: SendPattern,
        body: bytes,
        *,
        key: str | None,
        headers: Mapping[str, object] | None,
    ) -> None: ...

    async def enqueue(
        self,
        output: MessageOutput,
        body: bytes,
        *,
        key: str | None,
        headers: Mapping[str, object] | None,
        tracker: SendTracker,
    ) -> None:
        """Fire-and-forget: hand ``body`` to the transport's send buffer and return without
        waiting for the broker; the outcome reaches ``tracker`` later (a transport without a
        buffer sends it confirmed and reports at once). Raises as :meth:`send` when the message
        cannot even be buffered."""
        ...

    async def request(
        self, output: MessageOutput, body: bytes, *, timeout: float, headers: Mapping[str, object] | None
    ) -> bytes:
        """Send a request and return the raw answer; ``RequestTimeoutError`` after ``timeout``.
        (The answer goes out through :meth:`Delivery.reply <tamarco.core.messaging.Delivery.reply>`.)"""
        ...

    async def dead_letter(self, input_: InputT, delivery: Delivery, headers: Mapping[str, object]) -> None:
        """Store ``delivery`` (with ``headers``: the error, attempts...) where failed messages go,
        before the core acknowledges it. Raising keeps the message unacknowledged (requeued)."""
        ...


class ConfirmedEnqueue:
    """The fire-and-forget send of a transport without a send buffer (AMQP, in-memory):
    :meth:`Transport.enqueue` as a confirmed ``push``, reported to the tracker at once."""

    async def enqueue(
        self,
        output: MessageOutput,
        body: bytes,
        *,
        key: str | None,
        headers: Mapping[str, object] | None,
        tracker: SendTracker,
    ) -> None:
        await cast("Transport[Any]", self).send(output, "push", body, key=key, headers=headers)
        tracker.published(1)
