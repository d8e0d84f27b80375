"""``naming: "0.1"`` on the harness RabbitMQ: a ported service and the 0.1 plugin share a broker.

The 0.1 side is played with raw aio-pika, doing on the wire what tamarco-amqp 0.1 did
(``connection.py``, ``input.py``, ``output.py``): its declarations (so a ported service declaring
anything else makes the broker refuse them: PRECONDITION_FAILED), its routing keys, its message
properties. Every pattern is checked in both directions, every message counted.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from tamarco.core.microservice import MicroserviceContext
from tamarco.harness.messaging_suite import wait_until
from tamarco.resources.io.amqp import (
    AMQPOutput,
    AMQPPullInput,
    AMQPRequestInput,
    AMQPResource,
    AMQPSubscriptionInput,
)

pytestmark = pytest.mark.functional

N = 20  # messages per pattern and direction


class Legacy:
    """What a 0.1 service put on the wire (routing keys ``<prefix>.<pattern>.<queue>``, content
    type text/plain, consumers with ``no_ack``)."""

    def __init__(self, channel: AbstractChannel, prefix: str) -> None:
        self.channel = channel
        self.prefix = prefix

    def name(self, pattern: str, queue: str) -> str:
        return f"{self.prefix}.{pattern}.{queue}"

    # -- 0.1 inputs: declarations as AMQPConnection._declare_* made them -------------------------

    async def pull(self, queue: str, sink: list[AbstractIncomingMessage]) -> None:
        declared = await self.channel.declare_queue(
            self.name("push_pull", queue), durable=True, exclusive=False, auto_delete=False
        )
        await declared.consume(_appending(sink), no_ack=True)

    async def subscribe(self, queue: str, sink: list[AbstractIncomingMessage]) -> None:
        exchange = await self.channel.declare_exchange(
            self.name("publish_subscribe", queue), aio_pika.ExchangeType.FANOUT, durable=False
        )
        own = await self.channel.declare_queue(exclusive=True)  # server-named in 0.1
        await own.bind(exchange, routing_key="")
        await own.consume(_appending(sink), no_ack=True)

    async def serve(self, queue: str, answer: Any) -> None:
        declared = await self.channel.declare_queue(self.name("request_response", queue))  # defaults
        await self.channel.set_qos(prefetch_count=1)

        async def respond(message: AbstractIncomingMessage) -> None:
            body = json.dumps(answer(json.loads(message.body))).encode()
            reply = aio_pika.Message(body, correlation_id=message.correlation_id, content_type="text/plain")
            await self.channel.default_exchange.publish(reply, routing_key=message.reply_to or "")

        await declared.consume(respond, no_ack=True)

    # -- 0.1 outputs ----------------------------------------------------------------------------

    async def push(self, queue: str, body: bytes) -> None:
        message = aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT, content_type="text/plain")
        await self.channel.default_exchange.publish(message, routing_key=self.name("push_pull", queue))

    async def publish(self, queue: str, body: bytes) -> None:
        exchange = await self.channel.get_exchange(self.name("publish_subscribe", queue), ensure=False)
        message = aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.NOT_PERSISTENT, content_type="text/plain")
        await exchange.publish(message, routing_key="")

    async def requests(self, queue: str, bodies: list[bytes], timeout: float = 20) -> dict[str, bytes]:
        """0.1's request: an exclusive server-named callback queue, ``reply_to`` and a uuid4
        correlation id per request; the answers by correlation id."""
        callback = await self.channel.declare_queue(exclusive=True)
        answers: dict[str, bytes] = {}
        every = asyncio.Event()

        async def on_response(message: AbstractIncomingMessage) -> None:
            answers[message.correlation_id or ""] = message.body
            if len(answers) == len(bodies):
                every.set()

        await callback.consume(on_response, no_ack=True)
        for body in bodies:
            message = aio_pika.Message(
                body, reply_to=callback.name, correlation_id=str(uuid.uuid4()), content_type="text/plain"
            )
            await self.channel.default_exchange.publish(message, routing_key=self.name("request_response", queue))
        await asyncio.wait_for(every.wait(), timeout)
        return answers


def _appending(sink: list[AbstractIncomingMessage]) -> Any:
    async def append(message: AbstractIncomingMessage) -> None:
        sink.append(message)

    return append


class Ported(MicroserviceContext):
    """A service ported from 0.1, run with ``naming: "0.1"``."""

    name = "ported"
    to_legacy_cows = AMQPOutput("legacy_cows")
    to_legacy_news = AMQPOutput("legacy_news")
    to_legacy_sounds = AMQPOutput("legacy_sounds")
    amqp = AMQPResource(outputs=[to_legacy_cows, to_legacy_news, to_legacy_sounds])

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cows: list[Any] = []
        self.news: list[bytes] = []

    @AMQPPullInput(resource=amqp, queue="cows")
    async def on_cow(self, message: Any) -> None:
        self.cows.append(message)

    @AMQPSubscriptionInput(resource=amqp, queue="news", codec=None)
    async def on_news(self, message: bytes) -> None:
        self.news.append(message)

    @AMQPRequestInput(resource=amqp, queue="sounds")
    async def on_sound(self, message: Any, response_handler: Any) -> None:
        await response_handler.send_response({"sound": message["animal"].upper()})


async def test_a_ported_service_and_a_0_1_service_answer_each_other_on_every_pattern(
    amqp_settings: Any, unique_name: str, rabbitmq_service: Any
) -> None:
    prefix = unique_name  # a 0.1 prefix: without its dot
    service = Ported(environ={})
    service.settings.update_internal(
        {"system": {"resources": {"amqp": amqp_settings(queues_prefix=prefix, naming="0.1")}}}
    )
    async with await aio_pika.connect(rabbitmq_service.url) as connection, service:
        assert (await service.amqp.status())["broker"]["naming"] == "0.1"
        channel = await connection.channel()
        legacy = Legacy(channel, prefix)
        # The 0.1 inputs declare what 0.1 declared: the broker refuses a declaration that differs
        # from the ported service's (PRECONDITION_FAILED closes the channel and fails the test).
        legacy_cows: list[AbstractIncomingMessage] = []
        legacy_news: list[AbstractIncomingMessage] = []
        await legacy.pull("legacy_cows", legacy_cows)
        await legacy.subscribe("legacy_news", legacy_news)
        await legacy.serve("legacy_sounds", lambda request: {"echo": request["n"] * 2})
        # ... and as the ported service's inputs: 0.1's arguments for the same queues and exchange.
        await channel.declare_queue(legacy.name("push_pull", "cows"), durable=True, exclusive=False, auto_delete=False)
        await channel.declare_queue(legacy.name("request_response", "sounds"))
        news_beside: list[AbstractIncomingMessage] = []
        await legacy.subscribe("news", news_beside)  # a 0.1 subscriber beside the ported one

        # 0.1 -> ported: push, publish (raw bytes: codec=None), request.
        for n in range(N):
            await legacy.push("cows", json.dumps({"cow": n}).encode())
            await legacy.publish("news", b"\x00news %d" % n)
        answers = await legacy.requests("sounds", [json.dumps({"animal": f"cat{n}"}).encode() for n in range(N)])
        await wait_until(
            lambda: len(service.cows) == N and len(service.news) == N == len(news_beside),
            what=f"{N} cows, {N} news to the ported service and {N} to the 0.1 subscriber",
        )
        assert sorted(message["cow"] for message in service.cows) == list(range(N))
        assert sorted(service.news) == sorted(b"\x00news %d" % n for n in range(N))
        assert sorted(json.loads(body)["sound"] for body in answers.values()) == sorted(f"CAT{n}" for n in range(N))

        # ported -> 0.1: push, publish, request.
        for n in range(N):
            await service.to_legacy_cows.push({"cow": n})
            await service.to_legacy_news.publish({"news": n})
        echoes = await asyncio.gather(*(service.to_legacy_sounds.request({"n": n}, timeout=20) for n in range(N)))
        await wait_until(lambda: len(legacy_cows) == N and len(legacy_news) == N, what="the 0.1 side's messages")
        assert sorted(json.loads(message.body)["cow"] for message in legacy_cows) == list(range(N))
        assert sorted(json.loads(message.body)["news"] for message in legacy_news) == list(range(N))
        assert echoes == [{"echo": n * 2} for n in range(N)]
        # 0.1's message properties: text/plain; pushes persistent, publishes not.
        assert {message.content_type for message in legacy_cows + legacy_news} == {"text/plain"}
        assert {message.delivery_mode for message in legacy_cows} == {aio_pika.DeliveryMode.PERSISTENT}
        assert {message.delivery_mode for message in legacy_news} == {aio_pika.DeliveryMode.NOT_PERSISTENT}
        await _delete(channel, legacy, queues=["cows", "legacy_cows"], requests=["sounds", "legacy_sounds"])


async def test_retries_and_dead_letters_work_in_the_0_1_scheme(
    amqp_settings: Any, unique_name: str, rabbitmq_service: Any
) -> None:
    attempts: list[Any] = []

    async def refuse(message: Any) -> None:
        attempts.append(message)
        raise ValueError("not a cow")

    prefix = unique_name
    resource = AMQPResource(
        inputs=[AMQPPullInput("cows", on_message=refuse, retry={"attempts": 3, "delay_seconds": 0.01})]
    )
    service = type("Refusing", (MicroserviceContext,), {"name": "refusing", "amqp": resource})(environ={})
    service.settings.update_internal(
        {"system": {"resources": {"amqp": amqp_settings(queues_prefix=prefix, naming="0.1")}}}
    )
    async with await aio_pika.connect(rabbitmq_service.url) as connection, service:
        channel = await connection.channel()
        legacy = Legacy(channel, prefix)
        await legacy.push("cows", b'{"cow": "sick"}')
        await wait_until(lambda: service.amqp.consumers["cows"].dead_lettered == 1, what="the dead letter")
        assert len(attempts) == 3
        dead = await channel.declare_queue(f"{prefix}.dead_letter.cows", durable=True)
        message = await dead.get(timeout=10)
        assert message.body == b'{"cow": "sick"}'
        assert message.headers["x-tamarco-attempts"] == 3
        assert message.headers["x-tamarco-error"] == "ValueError: not a cow"
        await message.ack()
        await _delete(channel, legacy, queues=["cows"], requests=[])


async def _delete(channel: AbstractChannel, legacy: Legacy, *, queues: list[str], requests: list[str]) -> None:
    """Remove the durable queues this test left (the exchanges are not durable in 0.1)."""
    for queue in queues:
        await channel.queue_delete(legacy.name("push_pull", queue))
    for queue in requests:
        await channel.queue_delete(legacy.name("request_response", queue))
    for queue in [*queues, *requests, "news"]:  # the inputs' dead-letter queues
        await channel.queue_delete(legacy.name("dead_letter", queue))


class Moving(MicroserviceContext):
    """docs/porting-from-0.1.md, moving a queue to the default scheme: the consumers of ``cows``
    on both schemes (two resources), the producers already on the default one."""

    name = "moving"
    amqp_01 = AMQPResource()
    amqp = AMQPResource(outputs=[AMQPOutput("cows")])

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cows: list[Any] = []

    async def handle(self, message: Any) -> None:
        self.cows.append(message)

    @AMQPPullInput(resource=amqp_01, queue="cows")
    async def on_old_cow(self, message: Any) -> None:
        await self.handle(message)

    @AMQPPullInput(resource=amqp, queue="cows")
    async def on_new_cow(self, message: Any) -> None:
        await self.handle(message)


async def test_a_queue_moves_to_the_default_scheme_without_losing_a_message(
    amqp_settings: Any, unique_name: str, rabbitmq_service: Any
) -> None:
    prefix = unique_name
    async with await aio_pika.connect(rabbitmq_service.url) as connection:
        channel = await connection.channel()
        legacy = Legacy(channel, prefix)
        # Messages waiting in the 0.1 queue, produced while no consumer ran.
        old_queue = await channel.declare_queue(
            legacy.name("push_pull", "cows"), durable=True, exclusive=False, auto_delete=False
        )
        for n in range(N):
            await legacy.push("cows", json.dumps({"cow": n}).encode())
        service = Moving(environ={})
        service.settings.update_internal(
            {
                "system": {
                    "resources": {
                        "amqp_01": amqp_settings(queues_prefix=prefix, naming="0.1"),
                        "amqp": amqp_settings(queues_prefix=f"{prefix}."),
                    }
                }
            }
        )
        async with service:
            for n in range(N, 2 * N):  # the producers, moved to the default scheme
                await service.amqp.outputs["cows"].push({"cow": n})
            await wait_until(lambda: len(service.cows) == 2 * N, what=f"the {2 * N} cows of both schemes")
            drained = await channel.declare_queue(old_queue.name, passive=True)
            assert drained.declaration_result.message_count == 0
        assert sorted(message["cow"] for message in service.cows) == list(range(2 * N))
        for name in (old_queue.name, f"{prefix}.cows", f"{prefix}.dead_letter.cows", f"{prefix}.cows.dead"):
            await channel.queue_delete(name)
