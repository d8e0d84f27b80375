"""The shared behavioural suite of messaging transports (FastStream's ``tests/brokers/base`` idea).

Every transport of :mod:`tamarco.core.messaging` — the in-memory one, AMQP, Kafka, and any a
downstream project writes — passes the same tests of the delivery contract. To run them for a
transport, subclass :class:`MessagingSuite` in a test module and provide a ``messaging_case``
fixture returning a :class:`MessagingCase` for that transport::

    class TestMyTransport(MessagingSuite):
        @pytest.fixture
        def messaging_case(self, my_broker_service):
            return MyCase(my_broker_service)

A case makes the transport's resources, inputs and outputs, names fresh queues/topics, and reads
back dead letters. Tests that a transport cannot pass by design are skipped by the case's
``supports_*`` flags, and the docs of that transport say why.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import pytest
from tamarco.codecs import DecodeError
from tamarco.core.messaging import (
    InMemoryBroker,
    InMemoryTransport,
    Message,
    MessageInput,
    MessageOutput,
    MessagingResource,
    NotConnectedError,
    PullInput,
    RequestInput,
    RequestTimeoutError,
    SubscriptionInput,
)
from tamarco.core.microservice import MicroserviceContext
from tamarco.core.testing import wait_until as _wait_until
from tamarco.resources.bases import StatusCodes

__all__ = [
    "InMemoryCase",
    "MessagingCase",
    "MessagingSuite",
    "ReversedCodec",
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


def _collector() -> tuple[list[Any], Callable[[Any], Awaitable[None]]]:
    received: list[Any] = []

    async def handler(message: Any) -> None:
        received.append(message)

    return received, handler


class MessagingSuite:
    """The delivery contract, as tests. Needs a ``messaging_case`` fixture (see the module doc)."""

    async def _names(self, case: MessagingCase, *labels: str) -> list[str]:
        names = [case.new_name(label) for label in labels]
        for name in names:
            await case.prepare(name)
        return names

    # -- delivery -------------------------------------------------------------------------------

    async def test_push_reaches_a_pull_handler_once_each(self, messaging_case: MessagingCase) -> None:
        case = messaging_case
        (queue,) = await self._names(case, "pull")
        received, handler = _collector()
        output = case.output(queue)
        resource = case.resource([case.pull_input(queue, on_message=handler)], [output])
        async with running(case, resource):
            for n in range(20):
                await output.push({"n": n})
            await wait_until(lambda: len(received) >= 20, what="20 messages handled")
        assert sorted(message["n"] for message in received) == list(range(20))

    async def test_the_input_codec_decodes_and_the_output_codec_encodes(self, messaging_case: MessagingCase) -> None:
        case = messaging_case
        (queue,) = await self._names(case, "codec")
        received, handler = _collector()
        output = case.output(queue, codec=ReversedCodec)
        resource = case.resource([case.pull_input(queue, codec=ReversedCodec, on_message=handler)], [output])
        async with running(case, resource):
            await output.push("moo")
            await case.push_raw(resource, queue, b"woem")
            await wait_until(lambda: len(received) >= 2, what="2 messages")
        assert sorted(received) == ["meow", "moo"]

    async def test_async_iterator_receives_and_acknowledges(self, messaging_case: MessagingCase) -> None:
        case = messaging_case
        (queue,) = await self._names(case, "iter")
        stream = case.pull_input(queue)
        output = case.output(queue)
        got: list[Any] = []

        async def consume() -> None:
            async for body in stream:
                got.append(body)
                if body == "marker":
                    await asyncio.Event().wait()  # stopped while handling it

        async with running(case, case.resource([stream], [output])):
            consumer = asyncio.create_task(consume())
            for n in range(5):
                await output.push(n)
            await wait_until(lambda: len(got) >= 5, what="5 messages through async for")
            await output.push("marker")
            await wait_until(lambda: "marker" in got, what="the marker")
            consumer.cancel()
            await asyncio.gather(consumer, return_exceptions=True)
        assert got == [0, 1, 2, 3, 4, "marker"]
        # The five were acknowledged when the loop asked for the next one; the marker was still
        # being handled when the consumer stopped, so it (and only it) comes again.
        again, handler = _collector()
        async with running(case, case.resource([case.pull_input(queue, on_message=handler)])):
            await wait_until(lambda: len(again) >= 1, what="the held message redelivered")
            await asyncio.sleep(0.3)  # a window for wrongly redelivered messages to show up
        assert again == ["marker"]

    async def test_publish_reaches_every_subscriber(self, messaging_case: MessagingCase) -> None:
        case = messaging_case
        if not case.supports_publish_subscribe:
            pytest.skip("transport has no publish/subscribe")
        (topic,) = await self._names(case, "pubsub")
        first, first_handler = _collector()
        second, second_handler = _collector()
        output = case.output(topic)
        one = case.resource([case.subscription_input(topic, on_message=first_handler)], [output])
        two = case.resource([case.subscription_input(topic, on_message=second_handler)])
        async with running(case, one), running(case, two):
            await asyncio.sleep(0)  # both subscribed at start
            for n in range(10):
                await output.publish(n)
            await wait_until(lambda: len(first) >= 10 and len(second) >= 10, what="both subscribers got 10")
        assert sorted(first) == list(range(10)) and sorted(second) == list(range(10))

    async def test_competing_consumers_share_the_queue(self, messaging_case: MessagingCase) -> None:
        case = messaging_case
        (queue,) = await self._names(case, "compete")
        first, first_handler = _collector()
        second, second_handler = _collector()
        output = case.output(queue)
        one = case.resource([case.pull_input(queue, on_message=first_handler)], [output])
        two = case.resource([case.pull_input(queue, on_message=second_handler)])
        async with running(case, one), running(case, two):
            for n in range(40):
                await output.push(n)
            await wait_until(lambda: len(first) + len(second) >= 40, what="40 messages handled")
            await asyncio.sleep(0.2)
        assert sorted(first + second) == list(range(40)), "each message handled exactly once"

    # -- failures -------------------------------------------------------------------------------

    async def test_failing_handler_is_retried_then_succeeds(self, messaging_case: MessagingCase) -> None:
        case = messaging_case
        (queue,) = await self._names(case, "retry")
        attempts: list[int] = []

        async def flaky(message: Message) -> None:
            attempts.append(message.attempt)
            if message.attempt < 3:
                raise RuntimeError("not yet")

        output = case.output(queue)
        resource = case.resource([case.pull_input(queue, on_message=flaky, retry=FAST_RETRY)], [output])
        async with running(case, resource):
            await output.push({"x": 1})
            await wait_until(lambda: len(attempts) >= 3, what="3 attempts")
            await wait_until(lambda: resource.consumers[queue].handled == 1, what="handled once")
            assert resource.consumers[queue].dead_lettered == 0
        assert attempts == [1, 2, 3]

    async def test_exhausted_retries_dead_letter_with_the_error(self, messaging_case: MessagingCase) -> None:
        case = messaging_case
        (queue,) = await self._names(case, "dead")
        calls: list[Any] = []

        async def broken(body: Any) -> None:
            calls.append(body)
            raise ValueError(f"cannot handle {body['id']}")

        received, handler = _collector()
        output = case.output(queue)
        resource = case.resource([case.pull_input(queue, on_message=broken, retry=FAST_RETRY)], [output])
        async with running(case, resource):
            await output.push({"id": 7})
            letters = await case.dead_letters(queue, 1)
        assert len(calls) == 3
        body, headers = letters[0]
        assert body == b'{"id":7}'
        assert headers["x-tamarco-error-type"] == "ValueError"
        assert "cannot handle 7" in headers["x-tamarco-error"]
        assert int(headers["x-tamarco-attempts"]) == 3
        # It was acknowledged after dead-lettering: not delivered again.
        async with running(case, case.resource([case.pull_input(queue, on_message=handler)])):
            await asyncio.sleep(0.3)
        assert received == []

    async def test_undecodable_payload_is_dead_lettered_at_once_and_the_next_is_handled(
        self, messaging_case: MessagingCase
    ) -> None:
        case = messaging_case
        (queue,) = await self._names(case, "undecodable")
        received, handler = _collector()
        output = case.output(queue)
        resource = case.resource([case.pull_input(queue, on_message=handler, retry=FAST_RETRY)], [output])
        async with running(case, resource):
            await case.push_raw(resource, queue, b"\xff not json")
            await output.push({"ok": True})
            letters = await case.dead_letters(queue, 1)
            await wait_until(lambda: received == [{"ok": True}], what="the next message handled")
        body, headers = letters[0]
        assert body == b"\xff not json"
        assert headers["x-tamarco-error-type"] == "DecodeError"
        assert int(headers["x-tamarco-attempts"]) == 1

    async def test_concurrency_is_bounded(self, messaging_case: MessagingCase) -> None:
        case = messaging_case
        keys: list[str | None] = [None]
        if case.ordered_streams:  # one handler at a time per stream: use three streams
            queue = case.new_name("bound")
            keys = list(await case.prepare_streams(queue, 3))
        else:
            (queue,) = await self._names(case, "bound")
        active = 0
        peak = 0
        done = 0
        three_running = asyncio.Event()
        gate = asyncio.Event()

        async def slow(body: Any) -> None:
            nonlocal active, peak, done
            active += 1
            peak = max(peak, active)
            if active == 3:
                three_running.set()
            await gate.wait()
            active -= 1
            done += 1

        output = case.output(queue)
        resource = case.resource([case.pull_input(queue, on_message=slow, max_concurrency=3)], [output])
        async with running(case, resource):
            for n in range(9):
                await output.push(n, key=keys[n % len(keys)])
            await asyncio.wait_for(three_running.wait(), TIMEOUT)
            await asyncio.sleep(0.2)  # would let a 4th start if the bound were broken
            assert active == 3
            gate.set()
            await wait_until(lambda: done == 9, what="all 9 handled")
        assert peak == 3

    # -- the envelope and acknowledgement ---------------------------------------------------------

    async def test_envelope_handler_gets_headers_and_raw_bytes(self, messaging_case: MessagingCase) -> None:
        case = messaging_case
        (queue,) = await self._names(case, "envelope")
        seen: list[Message] = []

        async def handler(message: Message) -> None:
            seen.append(message)

        output = case.output(queue)
        resource = case.resource([case.pull_input(queue, on_message=handler)], [output])
        async with running(case, resource):
            await output.push({"a": 1}, headers={"trace": "abc"})
            await wait_until(lambda: len(seen) == 1, what="one message")
        message = seen[0]
        assert message.body == {"a": 1}
        assert message.raw == b'{"a":1}'
        assert message.headers["trace"] == "abc"
        assert message.source == queue
        assert message.attempt == 1

    async def test_manual_ack_requeues_what_the_handler_nacked(self, messaging_case: MessagingCase) -> None:
        case = messaging_case
        (queue,) = await self._names(case, "manual")
        seen: list[bool] = []

        async def handler(message: Message) -> None:
            seen.append(message.redelivered)
            if len(seen) == 1:
                await message.nack(requeue=True)
            else:
                await message.ack()

        output = case.output(queue)
        resource = case.resource([case.pull_input(queue, on_message=handler, ack="manual")], [output])
        async with running(case, resource):
            await output.push("x")
            await wait_until(lambda: len(seen) >= 2, what="the nacked message again")
            await asyncio.sleep(0.2)
        assert len(seen) == 2
        if case.flags_redelivery:
            assert seen == [False, True]

    async def test_stop_lets_running_handlers_finish_and_acknowledges_them(self, messaging_case: MessagingCase) -> None:
        case = messaging_case
        (queue,) = await self._names(case, "drain")
        started = asyncio.Event()
        finished: list[Any] = []

        async def slow(body: Any) -> None:
            started.set()
            await asyncio.sleep(0.5)
            finished.append(body)

        output = case.output(queue)
        resource = case.resource([case.pull_input(queue, on_message=slow)], [output])
        async with running(case, resource, {"drain_timeout_seconds": 10}):
            await output.push("in flight")
            await asyncio.wait_for(started.wait(), TIMEOUT)
        assert finished == ["in flight"], "the stop waited for the handler"
        again, handler = _collector()
        async with running(case, case.resource([case.pull_input(queue, on_message=handler)])):
            await asyncio.sleep(0.3)
        assert again == [], "the drained message was acknowledged"

    async def test_handler_cut_by_the_drain_deadline_is_delivered_again(self, messaging_case: MessagingCase) -> None:
        case = messaging_case
        (queue,) = await self._names(case, "cut")
        started = asyncio.Event()

        async def stuck(body: Any) -> None:
            started.set()
            await asyncio.Event().wait()

        output = case.output(queue)
        resource = case.resource([case.pull_input(queue, on_message=stuck)], [output])
        async with running(case, resource, {"drain_timeout_seconds": 0.2}):
            await output.push("unfinished")
            await asyncio.wait_for(started.wait(), TIMEOUT)
        again, handler = _collector()
        async with running(case, case.resource([case.pull_input(queue, on_message=handler)])):
            await wait_until(lambda: again == ["unfinished"], what="the cut message delivered again")

    # -- request / response -----------------------------------------------------------------------

    async def test_request_gets_the_response(self, messaging_case: MessagingCase) -> None:
        case = messaging_case
        if not case.supports_request:
            pytest.skip("transport has no request/response")
        (queue,) = await self._names(case, "rpc")

        async def explicit(body: Any, response_handler: Any) -> None:
            await response_handler.send_response({"echo": body, "how": "send_response"})

        output = case.output(queue)
        resource = case.resource([case.request_input(queue, on_message=explicit)], [output])
        async with running(case, resource):
            answers = await asyncio.gather(*(output.request(n, timeout=TIMEOUT) for n in range(16)))
        assert answers == [{"echo": n, "how": "send_response"} for n in range(16)]

    async def test_request_handler_may_return_the_response(self, messaging_case: MessagingCase) -> None:
        case = messaging_case
        if not case.supports_request:
            pytest.skip("transport has no request/response")
        (queue,) = await self._names(case, "rpc-return")

        async def returning(body: Any, response_handler: Any) -> Any:
            return body * 2

        output = case.output(queue)
        async with running(case, case.resource([case.request_input(queue, on_message=returning)], [output])):
            assert await output.request(21, timeout=TIMEOUT) == 42

    async def test_unanswered_request_times_out(self, messaging_case: MessagingCase) -> None:
        case = messaging_case
        if not case.supports_request:
            pytest.skip("transport has no request/response")
        (queue,) = await self._names(case, "rpc-nobody")
        output = case.output(queue)
        async with running(case, case.resource([], [output])):
            with pytest.raises(RequestTimeoutError, match=r"0\.3"):
                await output.request("hello?", timeout=0.3)

    # -- state ----------------------------------------------------------------------------------

    async def test_output_of_a_stopped_resource_fails_clearly(self, messaging_case: MessagingCase) -> None:
        case = messaging_case
        (queue,) = await self._names(case, "stopped")
        output = case.output(queue)
        resource = case.resource([], [output])
        with pytest.raises(NotConnectedError, match="NOT_STARTED"):
            await output.push("too early")
        async with running(case, resource):
            assert resource.status_code == StatusCodes.STARTED
        with pytest.raises(NotConnectedError, match="STOPPED"):
            await output.push("too late")

    async def test_status_shows_inputs_outputs_and_counts(self, messaging_case: MessagingCase) -> None:
        case = messaging_case
        (queue,) = await self._names(case, "status")
        received, handler = _collector()
        output = case.output(queue)
        resource = case.resource([case.pull_input(queue, on_message=handler)], [output])
        async with running(case, resource):
            await output.push(1)
            await wait_until(lambda: received == [1], what="one message")
            status = await resource.status()
        assert status["status_name"] == "STARTED"
        assert status["inputs"][queue]["handled"] == 1
        assert status["inputs"][queue]["source"] == queue
        assert status["outputs"][queue]["destination"] == queue
        assert "address" in status["broker"]
