"""AMQP throughput: the AMQP resource vs raw aio-pika (and FastStream's RabbitBroker), one broker.

Workloads, each through three clients in the same run against the same RabbitMQ:

- ``push→pull``: N messages of ~100 B pushed with publisher confirms (persistent, durable queue),
  at most 100 unconfirmed at a time, while one consumer (prefetch 100) decodes and acknowledges
  them; messages per second from the first push to the last acknowledgement;
- ``publish→subscribe``: the same through a fanout exchange to one subscriber (transient);
- ``request/response``: R requests answered through direct reply-to, 1 and 16 in flight; round
  trips per second.

Clients:

- ``aio-pika``: the raw library as an application would use it (JSON encoded and decoded, ack
  after the handler, direct reply-to with correlation ids): the baseline;
- ``tamarco``: an :class:`AMQPResource` in a ``MicroserviceContext`` (``AMQPOutput`` →
  ``AMQPPullInput`` / ``AMQPSubscriptionInput`` / ``AMQPRequestInput``), setting ``prefetch: 100``;
- ``faststream``: FastStream's ``RabbitBroker`` (when installed: ``pip install 'faststream[rabbit]'``).

Variants are interleaved round by round (their order rotating) and medians compared (ratio = variant / aio-pika; the
targets are >= 0.90 for tamarco). The broker is the harness's (started here, local backend by
default) unless ``--url`` names one.

Usage::

    .venv/bin/python benchmarks/amqp_throughput.py                       # 5 rounds, ~6 min
    .venv/bin/python benchmarks/amqp_throughput.py --messages 2000 --requests 300 --rounds 1
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import itertools
import json
import logging
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import aio_pika
from aio_pika.abc import DeliveryMode, ExchangeType

WINDOW = 100
PREFETCH = 100
BODY = {"payload": "x" * 80, "n": 0}
_services = itertools.count(1)
#: One measurement: a coroutine returning messages (or round trips) per second.
Run = Callable[[], Coroutine[Any, Any, "Result"]]
#: (messages or round trips per second, CPU seconds of this process per message or round trip)
Result = tuple[float, float]


class Window:
    """The wall-clock and CPU time of one measured section (setup and teardown left out)."""

    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = time.process_time()

    def result(self, count: int) -> Result:
        return count / (time.perf_counter() - self.wall), (time.process_time() - self.cpu) / count


DEFAULT_RESOURCES = ("metrics", "status", "tamarco_http_report_server", "profiler", "memory_analyzer", "registry")


def body(n: int) -> dict[str, Any]:
    return {**BODY, "n": n}


async def pipelined(send: Callable[[int], Awaitable[None]], count: int) -> None:
    """``send(0..count-1)`` with at most WINDOW awaiting their confirmation."""
    window = asyncio.Semaphore(WINDOW)

    async def one(n: int) -> None:
        async with window:
            await send(n)

    await asyncio.gather(*(one(n) for n in range(count)))


async def requests(call: Callable[[int], Awaitable[Any]], count: int, in_flight: int) -> None:
    numbers = iter(range(count))

    async def worker() -> None:
        for n in numbers:
            answer = await call(n)
            if answer["n"] != n:
                raise AssertionError(f"answer {answer!r} to request {n}")

    await asyncio.gather(*(worker() for _ in range(in_flight)))


# -- raw aio-pika ---------------------------------------------------------------------------------


async def raw_stream(url: str, mode: str, count: int) -> Result:
    name = f"bench-raw-{uuid.uuid4().hex[:8]}"
    async with await aio_pika.connect_robust(url) as connection:
        publisher = await connection.channel(publisher_confirms=True)
        consumer = await connection.channel()
        await consumer.set_qos(prefetch_count=PREFETCH)
        if mode == "push":
            queue = await consumer.declare_queue(name, durable=True)
            exchange = publisher.default_exchange
            routing_key, delivery_mode, mandatory = name, DeliveryMode.PERSISTENT, True
        else:
            fanout = await publisher.declare_exchange(name, ExchangeType.FANOUT, durable=True)
            queue = await consumer.declare_queue(exclusive=True, auto_delete=True)
            await queue.bind(name)
            exchange = fanout
            routing_key, delivery_mode, mandatory = "", DeliveryMode.NOT_PERSISTENT, False
        received = 0
        done = asyncio.Event()

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal received
            json.loads(message.body)
            await message.ack()
            received += 1
            if received == count:
                done.set()

        tag = await queue.consume(on_message)

        async def send(n: int) -> None:
            message = aio_pika.Message(json.dumps(body(n)).encode(), delivery_mode=delivery_mode)
            await exchange.publish(message, routing_key=routing_key, mandatory=mandatory)

        window = Window()
        await pipelined(send, count)
        await done.wait()
        result = window.result(count)
        await queue.cancel(tag)
        await queue.delete(if_unused=False, if_empty=False)
        if mode != "push":
            await publisher.exchange_delete(name)
    return result


async def raw_rpc(url: str, count: int, in_flight: int) -> Result:
    name = f"bench-raw-rpc-{uuid.uuid4().hex[:8]}"
    async with await aio_pika.connect_robust(url) as connection:
        server = await connection.channel(publisher_confirms=False)
        await server.set_qos(prefetch_count=PREFETCH)
        queue = await server.declare_queue(name, durable=True)

        async def answer(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            reply = json.dumps(json.loads(message.body)).encode()
            await server.default_exchange.publish(
                aio_pika.Message(reply, correlation_id=message.correlation_id),
                routing_key=message.reply_to or "",
                mandatory=False,
            )
            await message.ack()

        tag = await queue.consume(answer)
        client = await connection.channel(publisher_confirms=False)
        replies = await client.declare_queue("amq.rabbitmq.reply-to", passive=True)
        futures: dict[str, asyncio.Future[bytes]] = {}

        async def on_reply(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            future = futures.pop(message.correlation_id or "", None)
            if future is not None:
                future.set_result(message.body)

        await replies.consume(on_reply, no_ack=True)
        loop = asyncio.get_running_loop()

        async def call(n: int) -> Any:
            correlation_id = uuid.uuid4().hex
            future = futures[correlation_id] = loop.create_future()
            message = aio_pika.Message(
                json.dumps(body(n)).encode(), correlation_id=correlation_id, reply_to="amq.rabbitmq.reply-to"
            )
            await client.default_exchange.publish(message, routing_key=name)
            return json.loads(await asyncio.wait_for(future, 30))

        window = Window()
        await requests(call, count, in_flight)
        result = window.result(count)
        await queue.cancel(tag)
        await queue.delete(if_unused=False, if_empty=False)
    return result


# -- tamarco --------------------------------------------------------------------------------------


def tamarco_settings(broker: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {**broker, "queues_prefix": prefix, "prefetch": PREFETCH, "connection_timeout": 10}


async def run_service(
    broker: dict[str, Any],
    resource: Any,
    work: Callable[[], Awaitable[Result]],
    *,
    prefix: str | None = None,
    system: dict[str, Any] | None = None,
) -> Result:
    """Run ``work`` in a service with ``resource`` as its ``amqp`` (``system``: more settings)."""
    from tamarco.core.microservice import MicroserviceContext

    # Only the AMQP resource: the default resources (report server, metrics...) removed.
    attributes = {name: None for name in DEFAULT_RESOURCES}
    service_class = type(
        "BenchService",
        (MicroserviceContext,),
        {**attributes, "name": f"amqp_bench_{next(_services)}", "amqp": resource},
    )
    service = service_class(environ={})
    prefix = prefix or f"bench-tamarco-{uuid.uuid4().hex[:8]}."
    service.settings.update_internal(
        {
            "system": {
                "logging": {"profile": "PRODUCTION", "stdout": False},
                "resources": {"amqp": tamarco_settings(broker, prefix)},
                **(system or {}),
            }
        }
    )
    async with service:
        return await work()


async def tamarco_stream(broker: dict[str, Any], mode: str, count: int, system: dict[str, Any] | None = None) -> Result:
    from tamarco.resources.io.amqp import AMQPOutput, AMQPPullInput, AMQPResource, AMQPSubscriptionInput

    received = 0
    done = asyncio.Event()

    async def handler(message: Any) -> None:
        nonlocal received
        received += 1
        if received == count:
            done.set()

    input_class = AMQPPullInput if mode == "push" else AMQPSubscriptionInput
    output = AMQPOutput("stream")
    resource = AMQPResource(inputs=[input_class("stream", on_message=handler)], outputs=[output])
    send_message = output.push if mode == "push" else output.publish

    async def work() -> Result:
        async def send(n: int) -> None:
            await send_message(body(n))

        window = Window()
        await pipelined(send, count)
        await done.wait()
        return window.result(count)

    return await run_service(broker, resource, work, system=system)


async def tamarco_rpc(broker: dict[str, Any], count: int, in_flight: int) -> Result:
    from tamarco.resources.io.amqp import AMQPOutput, AMQPRequestInput, AMQPResource

    async def answer(message: Any, response_handler: Any) -> Any:
        return message

    output = AMQPOutput("rpc")
    resource = AMQPResource(inputs=[AMQPRequestInput("rpc", on_message=answer)], outputs=[output])

    async def work() -> Result:
        window = Window()
        await requests(lambda n: output.request(body(n), timeout=30), count, in_flight)
        return window.result(count)

    return await run_service(broker, resource, work)


# -- FastStream -----------------------------------------------------------------------------------


def faststream_available() -> bool:
    try:
        import faststream.rabbit  # noqa: F401
    except ImportError:
        return False
    return True


async def faststream_stream(url: str, mode: str, count: int) -> Result:
    from faststream.rabbit import ExchangeType as FSExchangeType
    from faststream.rabbit import RabbitBroker, RabbitExchange, RabbitQueue
    from faststream.rabbit.schemas import Channel

    name = f"bench-fs-{uuid.uuid4().hex[:8]}"
    broker = RabbitBroker(url, default_channel=Channel(prefetch_count=PREFETCH), logger=None)
    received = 0
    done = asyncio.Event()
    if mode == "push":
        queue = RabbitQueue(name, durable=True)
        exchange = None
    else:
        queue = RabbitQueue(name, auto_delete=True, exclusive=True)
        exchange = RabbitExchange(name, type=FSExchangeType.FANOUT, durable=True)

    @broker.subscriber(queue, exchange)
    async def handler(message: dict) -> None:  # type: ignore[type-arg]
        nonlocal received
        received += 1
        if received == count:
            done.set()

    await broker.start()
    try:

        async def send(n: int) -> None:
            if mode == "push":
                await broker.publish(body(n), queue=queue, persist=True)
            else:
                await broker.publish(body(n), exchange=exchange, mandatory=False)

        window = Window()
        await pipelined(send, count)
        await done.wait()
        return window.result(count)
    finally:
        await broker.stop()


async def faststream_rpc(url: str, count: int, in_flight: int) -> Result:
    from faststream.rabbit import RabbitBroker
    from faststream.rabbit.schemas import Channel

    name = f"bench-fs-rpc-{uuid.uuid4().hex[:8]}"
    broker = RabbitBroker(url, default_channel=Channel(prefetch_count=PREFETCH), logger=None)

    @broker.subscriber(name)
    async def answer(message: dict) -> dict:  # type: ignore[type-arg]
        return message

    await broker.start()
    try:

        async def call(n: int) -> Any:
            reply = await broker.request(body(n), queue=name, timeout=30)
            return await reply.decode()

        window = Window()
        await requests(call, count, in_flight)
        return window.result(count)
    finally:
        await broker.stop()


# -- driver ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="an existing broker (amqp://user:password@host:port/vhost)")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=1_500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.url:
        from yarl import URL

        parsed = URL(args.url)
        broker = {
            "host": parsed.host,
            "port": parsed.port,
            "user": parsed.user,
            "password": parsed.password,
            "vhost": parsed.path[1:] or "/",
        }
        measure(args, args.url, broker)
        return
    from tamarco.harness import Harness

    with Harness() as harness:
        measure(args, harness.rabbitmq.url, harness_broker(harness.rabbitmq))


def harness_broker(rabbitmq: Any) -> dict[str, Any]:
    """The AMQP resource settings of the harness's RabbitMQ."""
    return {
        "host": rabbitmq.host,
        "port": rabbitmq.port,
        "user": rabbitmq.user,
        "password": rabbitmq.password,
        "vhost": "/",
    }


def measure(args: argparse.Namespace, url: str, broker: dict[str, Any]) -> None:
    has_faststream = faststream_available()
    if not has_faststream:
        print("FastStream not installed (pip install 'faststream[rabbit]'): its column is skipped")
    workloads: list[tuple[str, str, dict[str, Run]]] = []
    for mode, label in (("push", "push→pull"), ("publish", "publish→subscribe")):
        variants: dict[str, Run] = {
            "aio-pika": functools.partial(raw_stream, url, mode, args.messages),
            "tamarco": functools.partial(tamarco_stream, broker, mode, args.messages),
        }
        if has_faststream:
            variants["faststream"] = functools.partial(faststream_stream, url, mode, args.messages)
        workloads.append((label, "msg/s", variants))
    for in_flight in (1, 16):
        variants = {
            "aio-pika": functools.partial(raw_rpc, url, args.requests, in_flight),
            "tamarco": functools.partial(tamarco_rpc, broker, args.requests, in_flight),
        }
        if has_faststream:
            variants["faststream"] = functools.partial(faststream_rpc, url, args.requests, in_flight)
        workloads.append((f"request/response, {in_flight} in flight", "rt/s", variants))

    results: dict[tuple[str, str], list[float]] = {}
    #: This process's CPU time (client and consumer together) per message or round trip.
    cpu_results: dict[tuple[str, str], list[float]] = {}
    for round_number in range(1, args.rounds + 1):
        for label, unit, variants in workloads:
            # The variants' order rotates from round to round: none always runs first or last.
            names = list(variants)
            shift = (round_number - 1) % len(names)
            for name in names[shift:] + names[:shift]:
                run = variants[name]
                rate, cpu = asyncio.run(run())
                per_item = cpu * 1e6
                results.setdefault((label, name), []).append(rate)
                cpu_results.setdefault((label, name), []).append(per_item)
                print(
                    f"round {round_number}: {label:<34} {name:<10} {rate:>9,.0f} {unit}  "
                    f"CPU {per_item:>6,.0f} µs per {unit.split('/')[0]}",
                    flush=True,
                )

    print(f"\nmedians of {args.rounds} round(s); ratio = variant / aio-pika (target for tamarco: >= 0.90)")
    print(f"{'workload':<34} {'aio-pika':>10} {'tamarco':>10} {'ratio':>6} {'faststream':>11} {'ratio':>6}")
    for label, unit, variants in workloads:
        medians = {name: statistics.median(results[(label, name)]) for name in variants}
        raw = medians["aio-pika"]
        line = f"{label:<34} {raw:>10,.0f} {medians['tamarco']:>10,.0f} {medians['tamarco'] / raw:>5.2f}x"
        if "faststream" in medians:
            line += f" {medians['faststream']:>11,.0f} {medians['faststream'] / raw:>5.2f}x"
        print(f"{line}   ({unit})")
    print("\nCPU time of this process per message / round trip (µs, medians; ratio = aio-pika / variant)")
    for label, _unit, variants in workloads:
        medians = {name: statistics.median(cpu_results[(label, name)]) for name in variants}
        raw = medians["aio-pika"]
        line = f"{label:<34} {raw:>10,.0f} {medians['tamarco']:>10,.0f} {raw / medians['tamarco']:>5.2f}x"
        if "faststream" in medians:
            line += f" {medians['faststream']:>11,.0f} {raw / medians['faststream']:>5.2f}x"
        print(line)


if __name__ == "__main__":
    main()
