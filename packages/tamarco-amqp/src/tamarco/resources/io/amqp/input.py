"""AMQP inputs: subscription (every subscriber gets every message), pull (competing consumers),
request (pull, and the handler's answer goes back to the requester)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Unpack

from tamarco.codecs import Codec, JsonCodec
from tamarco.core.messaging import InputOptions, MessageInput, PayloadT

if TYPE_CHECKING:
    from tamarco.resources.io.amqp.resource import AMQPResource

__all__ = ["AMQPInput", "AMQPPullInput", "AMQPRequestInput", "AMQPSubscriptionInput"]


class AMQPInput(MessageInput[PayloadT]):
    """An input of an :class:`~tamarco.resources.io.amqp.AMQPResource` on the logical ``queue``.

    Use it as a decorator on a service method (``@AMQPPullInput(resource=amqp, queue="cows")``)
    or as an async iterator (``async for message in self.amqp.inputs["cows"]``). ``queue``
    names the input unless ``name`` is given; the broker names follow
    :class:`~tamarco.resources.io.amqp.AMQPNames`.
    """

    def __init__(
        self,
        queue: str,
        codec: Codec | None = JsonCodec,
        resource: AMQPResource | None = None,
        **options: Unpack[InputOptions],
    ) -> None:
        super().__init__(queue, codec=codec, resource=resource, **options)

    @property
    def queue(self) -> str:
        """The logical queue name (before ``queues_prefix``)."""
        return self.source


class AMQPSubscriptionInput(AMQPInput[PayloadT]):
    """Every subscribed resource gets every message published to ``queue`` (a fanout exchange;
    each subscriber has its own exclusive queue, so it misses what was published while it was
    not connected)."""

    pattern = "subscribe"


class AMQPPullInput(AMQPInput[PayloadT]):
    """Competing consumers on the durable queue ``queue``: each pushed message goes to one of
    them and is kept by the broker until one acknowledged it."""

    pattern = "pull"


class AMQPRequestInput(AMQPInput[PayloadT]):
    """Answers requests sent to ``queue``: the handler is ``async def handle(self, message,
    response_handler)`` and calls ``await response_handler.send_response(answer)``, or returns
    the answer."""

    pattern = "request"
