"""AMQP outputs: one bound to a queue (:class:`AMQPOutput`) and a generic one naming the queue
per call (:class:`AMQPGenericOutput`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tamarco.codecs import JsonCodec
from tamarco.core.messaging import MessageOutput, NotConnectedError, PayloadT
from tamarco.resources.bases import OutputBase

if TYPE_CHECKING:
    from tamarco.resources.io.amqp.resource import AMQPResource

__all__ = ["AMQPGenericOutput", "AMQPOutput"]


class AMQPOutput(MessageOutput[PayloadT]):
    """Sends to the logical ``queue``.

    - ``await publish(message)``: to every subscriber (fanout exchange; dropped when there is
      none);
    - ``await push(message)``: persistent, to the durable queue of the pull inputs; returns once
      the broker confirmed it;
    - ``await request(message, timeout=30)``: to the request input, returns the decoded answer
      (direct reply-to); :class:`~tamarco.core.messaging.RequestTimeoutError` after ``timeout``.
    """

    def __init__(
        self,
        queue: str,
        codec: Any = JsonCodec,
        resource: AMQPResource | None = None,
        *,
        name: str | None = None,
    ) -> None:
        super().__init__(queue, codec=codec, resource=resource, name=name)

    @property
    def queue(self) -> str:
        """The logical queue name (before ``queues_prefix``)."""
        return self.destination


class AMQPGenericOutput(OutputBase):
    """An output that names the queue on each call: ``await output.push("cows", message)``.

    Add it to a resource's outputs like any other (its default name is ``"generic"``). One
    :class:`AMQPOutput` per queue is created on first use and cached, so meters and ``/status``
    see each queue as it is used.
    """

    def __init__(self, codec: Any = JsonCodec, resource: AMQPResource | None = None, *, name: str = "generic") -> None:
        self._outputs: dict[str, AMQPOutput] = {}
        super().__init__(name=name, codec=codec, resource=resource)

    def output(self, queue: str) -> AMQPOutput:
        """The :class:`AMQPOutput` of ``queue`` on this output's resource."""
        if self.resource is None:
            raise NotConnectedError(f"output {self.name!r} belongs to no resource (add it to one's outputs)")
        output = self._outputs.get(queue)
        if output is None:
            output = AMQPOutput(queue, codec=self.codec, name=f"{self.name}:{queue}")
            output.resource = self.resource
            output.name = f"{self.name}:{queue}"
            self._outputs[queue] = output
        return output

    async def publish(
        self, queue: str, message: Any, *, key: str | None = None, headers: Mapping[str, Any] | None = None
    ) -> None:
        """Publish ``message`` to every subscriber of ``queue``."""
        await self.output(queue).publish(message, key=key, headers=headers)

    async def push(  # type: ignore[override]
        self, queue: str, message: Any, *, key: str | None = None, headers: Mapping[str, Any] | None = None
    ) -> None:
        """Push ``message`` (persistent, confirmed) to the durable queue ``queue``."""
        await self.output(queue).push(message, key=key, headers=headers)

    async def request(
        self, queue: str, message: Any, *, timeout: float = 30.0, headers: Mapping[str, Any] | None = None
    ) -> Any:
        """Send a request to ``queue``'s request input and return the decoded answer."""
        return await self.output(queue).request(message, timeout=timeout, headers=headers)

    def __repr__(self) -> str:
        return f"<AMQPGenericOutput {self.name!r}>"
