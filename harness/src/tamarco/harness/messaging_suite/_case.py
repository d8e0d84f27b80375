"""What every behaviour of the suite shares: the case a transport provides, helpers, ``SuiteBase``."""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from tamarco.codecs import DecodeError
from tamarco.core.messaging import (
    InMemoryBroker,
    InMemoryTransport,
    MessageInput,
    MessageOutput,
    MessagingResource,
    PullInput,
    RequestInput,
    SubscriptionInput,
)
from tamarco.core.microservice import MicroserviceContext
from tamarco.core.testing import wait_until as _wait_until

__all__ = [
    "FAST_RETRY",
    "TIMEOUT",
    "InMemoryCase",
    "MemoryResource",
    "MessagingCase",
    "ReversedCodec",
    "SuiteBase",
    "collector",
    "running",
    "wait_until",
]

_services = itertools.count(1)
#: Generous: brokers on a loaded 2-core CI machine.
TIMEOUT = 20.0
#: Retries in tests: fast.
FAST_RETRY = {"attempts": 3, "delay_seconds": 0.01, "backoff": 1.0}


class ReversedCodec:
    """A custom codec: UTF-8 text, bytes reversed on the wire (proves the input's codec is used)."""

    @staticmethod
    def encode(obj: Any) -> bytes:
        return str(obj).encode("utf-8")[::-1]

    @staticmethod
    def decode(data: bytes) -> Any:
        try:
            return bytes(data)[::-1].decode("utf-8")
        except UnicodeDecodeError as error:
            raise DecodeError("ReversedCodec", bytes(data), str(error)) from error


class MessagingCase:
    """What the suite needs from a transport. Subclass it for each transport."""

    supports_publish_subscribe = True
    supports_request = True
    #: Whether a message given back (nack/requeue) is flagged ``redelivered``.
    flags_redelivery = True
    #: Whether messages are handled one at a time per ordered stream (a Kafka partition): the
    #: concurrency test then spreads its messages over streams (:meth:`prepare_streams`).
    ordered_streams = False

    def new_name(self, label: str = "q") -> str:
        return f"suite-{label}-{uuid.uuid4().hex[:10]}"

    async def prepare(self, name: str) -> None:
        """Create what ``name`` needs before use (a topic), if the transport needs that."""

    async def prepare_streams(self, name: str, count: int) -> list[str]:
        """For ``ordered_streams`` transports: create ``name`` with ``count`` ordered streams and
        return one message key per stream."""
        raise NotImplementedError

    def resource(self, inputs: Sequence[MessageInput] = (), outputs: Sequence[MessageOutput] = ()) -> MessagingResource:
        raise NotImplementedError

    def pull_input(self, source: str, **kwargs: Any) -> MessageInput:
        raise NotImplementedError

    def subscription_input(self, source: str, **kwargs: Any) -> MessageInput:
        raise NotImplementedError

    def request_input(self, source: str, **kwargs: Any) -> MessageInput:
        raise NotImplementedError

    def output(self, destination: str, **kwargs: Any) -> MessageOutput:
        raise NotImplementedError

    def settings(self) -> dict[str, Any]:
        """``system.resources.<resource>`` of the services the suite starts."""
        return {}

    async def push_raw(self, resource: MessagingResource, destination: str, body: bytes) -> None:
        """Push bytes as they are (no codec) to ``destination``'s pull inputs."""
        raise NotImplementedError

    async def dead_letters(
        self, source: str, count: int, timeout: float = TIMEOUT
    ) -> list[tuple[bytes, dict[str, Any]]]:
        """At least ``count`` dead letters of ``source``: ``(body, headers)`` each."""
        raise NotImplementedError


class MemoryResource(MessagingResource):
    transport_kind = "memory"


class InMemoryCase(MessagingCase):
    """The suite's case for :class:`~tamarco.core.messaging.InMemoryTransport`."""

    def __init__(self) -> None:
        self.broker = InMemoryBroker()

    def resource(self, inputs: Sequence[MessageInput] = (), outputs: Sequence[MessageOutput] = ()) -> MessagingResource:
        return MemoryResource(inputs=list(inputs), outputs=list(outputs), transport=InMemoryTransport(self.broker))

    def pull_input(self, source: str, **kwargs: Any) -> MessageInput:
        return PullInput(source, **kwargs)

    def subscription_input(self, source: str, **kwargs: Any) -> MessageInput:
        return SubscriptionInput(source, **kwargs)

    def request_input(self, source: str, **kwargs: Any) -> MessageInput:
        return RequestInput(source, **kwargs)

    def output(self, destination: str, **kwargs: Any) -> MessageOutput:
        return MessageOutput(destination, **kwargs)

    async def push_raw(self, resource: MessagingResource, destination: str, body: bytes) -> None:
        await self.broker.push(destination, body, None, None)

    async def dead_letters(
        self, source: str, count: int, timeout: float = TIMEOUT
    ) -> list[tuple[bytes, dict[str, Any]]]:
        letters = await self.broker.wait_dead_letters(source, count, timeout)
        return [(letter.body, letter.headers) for letter in letters]


async def wait_until(predicate: Callable[[], object], timeout: float = TIMEOUT, what: str = "condition") -> None:
    """:func:`tamarco.core.testing.wait_until` with the suite's default timeout."""
    await _wait_until(predicate, timeout, what)


@contextlib.asynccontextmanager
async def running(
    case: MessagingCase, resource: MessagingResource, settings: dict[str, Any] | None = None
) -> AsyncIterator[MessagingResource]:
    """Run ``resource`` as the resource ``bus`` of a fresh service (a MicroserviceContext)."""
    service_class = type(
        "SuiteService", (MicroserviceContext,), {"name": f"suite_service_{next(_services)}", "bus": resource}
    )
    service = service_class(environ={})
    bus_settings = {**case.settings(), **(settings or {})}
    service.settings.update_internal({"system": {"resources": {"bus": bus_settings}}})
    async with service:
        yield resource


def collector() -> tuple[list[Any], Callable[[Any], Awaitable[None]]]:
    received: list[Any] = []

    async def handler(message: Any) -> None:
        received.append(message)

    return received, handler


class SuiteBase:
    """The base of the suite's behaviours: fresh queue/topic names, prepared by the case."""

    async def _names(self, case: MessagingCase, *labels: str) -> list[str]:
        names = [case.new_name(label) for label in labels]
        for name in names:
            await case.prepare(name)
        return names
