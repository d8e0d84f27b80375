"""AMQP outputs: one bound to a queue (:class:`AMQPOutput`) and a generic one naming the queue
per call (:class:`AMQPGenericOutput`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from tamarco.codecs import JsonCodec
from tamarco.core.messaging import MessageOutput, NotConnectedError, PayloadT
from tamarco.resources.bases import OutputBase

if TYPE_CHECKING:
    from tamarco.resources.io.amqp.resource import AMQPResource

__all__ = ["AMQPGenericOutput", "AMQPOutput"]


class _SendOptions(TypedDict, total=False):
    """The keywords of :meth:`AMQPGenericOutput.publish` and ``push``, passed on to
    :class:`AMQPOutput`'s (``MessageOutput``'s hot path keeps them as plain keywords)."""

    key: str | None
    headers: Mapping[str, Any] | None


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
    """An output that names the queue on each call, in 0.1's order: ``await output.push(message,
    "cows")`` (``queue=`` as a keyword works too). A queue that is not a string is a
    :class:`TypeError`, so a call in the other order fails instead of sending elsewhere.

    Add it to a resource's outputs like any other (its default name is ``"generic"``). One
    :class:`AMQPOutput` per queue (and codec) is created on first use and cached, so meters and
    ``/status`` see each queue as it is used. ``codec`` on a call overrides the output's, as in 0.1.
    """

    def __init__(self, codec: Any = JsonCodec, resource: AMQPResource | None = None, *, name: str = "generic") -> None:
        self._outputs: dict[tuple[str, Any], AMQPOutput] = {}
        super().__init__(name=name, codec=codec, resource=resource)

    def output(self, queue: str | None, codec: Any = None) -> AMQPOutput:
        """The :class:`AMQPOutput` of ``queue`` (encoding with ``codec``, or this output's codec)
        on this output's resource."""
        if not isinstance(queue, str):
            raise TypeError(
                f"AMQPGenericOutput {self.name!r}: the queue must be a string, got {type(queue).__name__} "
                "(the order is (message, queue), as in 0.1)"
            )
        if self.resource is None:
            raise NotConnectedError(f"output {self.name!r} belongs to no resource (add it to one's outputs)")
        codec = self.codec if codec is None else codec
        output = self._outputs.get((queue, codec))
        if output is None:
            name = (
                f"{self.name}:{queue}"
                if codec is self.codec
                else f"{self.name}:{queue}:{getattr(codec, '__name__', codec)}"
            )
            output = AMQPOutput(queue, codec=codec, name=name)
            output.resource = self.resource
            self._outputs[(queue, codec)] = output
        return output

    # The generic output names the queue on each call (0.1's order: message, queue). The queue
    # is optional only in the signature, so that the sends still take OutputBase's calls (a
    # typed ``outputs[...]``); a call without one is a TypeError naming the order.
    async def publish(
        self, message: Any, queue: str | None = None, codec: Any = None, **options: Unpack[_SendOptions]
    ) -> None:
        """Publish ``message`` to every subscriber of ``queue``."""
        await self.output(queue, codec).publish(message, **options)

    async def push(
        self, message: Any, queue: str | None = None, codec: Any = None, **options: Unpack[_SendOptions]
    ) -> None:
        """Push ``message`` (persistent, confirmed) to the durable queue ``queue``."""
        await self.output(queue, codec).push(message, **options)

    async def request(
        self,
        message: Any,
        queue: str | None = None,
        codec: Any = None,
        *,
        timeout: float = 30.0,
        headers: Mapping[str, Any] | None = None,
    ) -> Any:
        """Send a request to ``queue``'s request input and return the decoded answer (0.1's generic
        output had no request)."""
        return await self.output(queue, codec).request(message, timeout=timeout, headers=headers)

    def __repr__(self) -> str:
        return f"<AMQPGenericOutput {self.name!r}>"
