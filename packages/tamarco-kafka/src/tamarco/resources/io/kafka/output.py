"""``KafkaOutput``: produce to a topic, acknowledged (``push``) or fire-and-forget (``send``)."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any

from aiokafka.errors import KafkaError
from tamarco.codecs import JsonCodec
from tamarco.core.messaging import MessageOutput, PayloadT
from tamarco.resources.io.kafka._delivery import encode_headers
from tamarco.resources.io.kafka.resource import KafkaResource

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
        resource = self.resource
        lane = resource.lane(self) if isinstance(resource, KafkaResource) else None
        if lane is None:  # not connected, another transport, tracing: the resource's send
            return self._push(message, key, headers)
        try:
            body = self.encoder()(message)
        except Exception:
            return self._push(message, key, headers)  # raises it when awaited, as usual
        return lane.appender.submit(
            lane.topic,
            body,
            key.encode("utf-8") if isinstance(key, str) else key,
            encode_headers(headers) if headers else None,
            lane.push_failed,
            lane.published,
        )

    async def _push(self, message: Any, key: str | None, headers: Mapping[str, Any] | None) -> None:
        await self._resource().send(self, "push", self.encode(message), key=key, headers=headers)

    async def publish(self, message: Any, key: str | None = None, headers: Mapping[str, Any] | None = None) -> None:  # type: ignore[override]
        """Same as :meth:`push`: on Kafka every consumer group reads every message."""
        await super().publish(message, key=key, headers=headers)

    async def send(self, message: Any, key: str | None = None, headers: Mapping[str, Any] | None = None) -> None:
        """Hand ``message`` to the producer's batch and return without waiting for the broker;
        a failure is logged and counted (``messages_publish_failed``)."""
        body = self.encoder()(message)
        resource = self.resource
        lane = resource.lane(self) if isinstance(resource, KafkaResource) else None
        if lane is None:
            await self._resource().enqueue(self, body, key=key, headers=headers)
            return
        try:  # the resource's enqueue and the transport's, in one frame (see ``_lane``)
            future = await lane.appender.send(
                lane.topic,
                body,
                key.encode("utf-8") if isinstance(key, str) else key,
                encode_headers(headers) if headers else None,
                wait=False,
            )
        except Exception as error:
            failure = lane.send_failed(error, body)
            if failure is error:
                raise
            raise failure from None if isinstance(error, KafkaError) else error
        lane.sent(future, lane.tracker)
