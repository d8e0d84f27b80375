"""``KafkaOutput``: produce to a topic, acknowledged (``push``) or fire-and-forget (``send``)."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any

from tamarco.codecs import JsonCodec
from tamarco.core.messaging import MessageOutput, PayloadT

if TYPE_CHECKING:
    from tamarco.core.messaging import MessagingResource

__all__ = ["KafkaOutput"]


class KafkaOutput(MessageOutput[PayloadT]):
    """Messages to ``topic``, encoded with ``codec``.

    ``await push(message, key=None, headers=None)`` returns once the broker acknowledged the
    message (per the producer's ``acks`` setting) and raises
    :class:`~tamarco.core.messaging.PublishError` if it did not (a message over
    ``producer.max_request_size``, an unknown topic...). ``publish`` is the same on Kafka: every
    consumer group reads the whole topic. ``await send(...)`` only waits for the producer's
    buffer (batched with ``linger_ms``), for throughput; its failures are logged and counted.
    Messages with one ``key`` go to one partition, so they are handled in order.
    """

    def __init__(
        self,
        topic: str,
        codec: Any = JsonCodec,
        resource: MessagingResource | None = None,
        *,
        name: str | None = None,
    ) -> None:
        super().__init__(topic, codec=codec, resource=resource, name=name)

    @property
    def topic(self) -> str:
        return self.destination

    def push(  # type: ignore[override]
        self, message: Any, key: str | None = None, headers: Mapping[str, Any] | None = None
    ) -> Awaitable[None]:
        """Produce ``message``; the awaitable returned completes once the broker acknowledged it.

        On a connected Kafka resource the message is queued at once and the awaitable is the
        future of the broker's answer — no coroutine per call, so ``asyncio.gather`` over many
        ``push`` calls creates no task per message; otherwise it is a coroutine, as usual."""
        push_future = getattr(self.resource, "push_future", None)
        if push_future is not None:
            future: Awaitable[None] | None = push_future(self, message, key, headers)
            if future is not None:
                return future
        return self._push(message, key, headers)

    async def _push(self, message: Any, key: str | None, headers: Mapping[str, Any] | None) -> None:
        await self._resource().send(self, "push", self.encode(message), key=key, headers=headers)

    async def publish(self, message: Any, key: str | None = None, headers: Mapping[str, Any] | None = None) -> None:  # type: ignore[override]
        """Same as :meth:`push`: on Kafka every consumer group reads every message."""
        await super().publish(message, key=key, headers=headers)

    async def send(self, message: Any, key: str | None = None, headers: Mapping[str, Any] | None = None) -> None:
        """Hand ``message`` to the producer's batch and return without waiting for the broker;
        a failure is logged and counted (``messages_publish_failed``)."""
        await self._resource().enqueue(self, self.encode(message), key=key, headers=headers)
