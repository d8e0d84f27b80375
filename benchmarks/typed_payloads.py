"""Typed payloads on the AMQP consume path: a handler annotated with a pydantic model vs raw
aio-pika calling the same ``Order.model_validate_json`` (target >= 0.95x, PERFORMANCE.md).

N persistent messages of an order (~150 B of JSON, a nested list) are put in a durable queue
first; then the consumer starts (prefetch 100) and validates each body into ``Order`` and
acknowledges it. The rate is measured from the first handled message to the last, so connection
and start-up are left out and only the consume path is compared:

- ``aio-pika``: ``queue.consume`` with a callback doing ``Order.model_validate_json(body)``
  and ``ack``: the baseline;
- ``tamarco``: an ``AMQPPullInput`` whose handler is ``async def on_order(order: Order)`` in a
  ``MicroserviceContext`` (``prefetch: 100``), the default resources removed.

Variants alternate round by round; medians are compared (ratio = tamarco / aio-pika).

Usage::

    .venv/bin/python benchmarks/typed_payloads.py                 # 5 rounds of 10,000 messages
    .venv/bin/python benchmarks/typed_payloads.py --messages 2000 --rounds 1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

import aio_pika
from aio_pika.abc import DeliveryMode
from amqp_throughput import PREFETCH, harness_broker, pipelined, run_service
from pydantic import BaseModel


class Item(BaseModel):
    sku: str
    quantity: int


class Order(BaseModel):
    id: int
    customer: str
    items: list[Item]


def order(n: int) -> bytes:
    return json.dumps(
        {"id": n, "customer": "alice", "items": [{"sku": "apple", "quantity": 2}, {"sku": "pear", "quantity": 1}]}
    ).encode()


class Clock:
    """When the first and the last of ``count`` messages were handled."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.handled = 0
        self.first = 0.0
        self.done = asyncio.Event()

    def tick(self) -> None:
        self.handled += 1
        if self.handled == 1:
            self.first = time.perf_counter()
        elif self.handled == self.count:
            self.last = time.perf_counter()
            self.done.set()

    def rate(self) -> float:
        return (self.count - 1) / (self.last - self.first)


async def fill(url: str, queue: str, count: int) -> None:
    async with await aio_pika.connect_robust(url) as connection:
        channel = await connection.channel(publisher_confirms=True)
        await channel.declare_queue(queue, durable=True)

        async def send(n: int) -> None:
            message = aio_pika.Message(order(n), delivery_mode=DeliveryMode.PERSISTENT)
            await channel.default_exchange.publish(message, routing_key=queue)

        await pipelined(send, count)


async def raw(url: str, count: int) -> float:
    name = f"bench-typed-raw-{uuid.uuid4().hex[:8]}"
    await fill(url, name, count)
    clock = Clock(count)
    async with await aio_pika.connect_robust(url) as connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=PREFETCH)
        queue = await channel.declare_queue(name, durable=True)

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            Order.model_validate_json(message.body)
            await message.ack()
            clock.tick()

        tag = await queue.consume(on_message)
        await clock.done.wait()
        await queue.cancel(tag)
        await queue.delete(if_unused=False, if_empty=False)
    return clock.rate()


async def tamarco(url: str, broker: dict[str, Any], count: int) -> float:
    from tamarco.resources.io.amqp import AMQPPullInput, AMQPResource

    clock = Clock(count)

    async def on_order(order: Order) -> None:
        clock.tick()

    prefix = f"bench-typed-{uuid.uuid4().hex[:8]}."
    await fill(url, f"{prefix}orders", count)
    resource = AMQPResource(inputs=[AMQPPullInput("orders", on_message=on_order)])

    async def work() -> tuple[float, float]:
        await clock.done.wait()
        return clock.rate(), 0.0

    rate, _ = await run_service(broker, resource, work, prefix=prefix)
    async with await aio_pika.connect_robust(url) as connection:
        channel = await connection.channel()
        await channel.queue_delete(f"{prefix}orders")
    return rate


def measure(url: str, broker: dict[str, Any], messages: int, rounds: int) -> None:
    variants: dict[str, Callable[[], Any]] = {
        "aio-pika": lambda: raw(url, messages),
        "tamarco": lambda: tamarco(url, broker, messages),
    }
    results: dict[str, list[float]] = {name: [] for name in variants}
    for round_number in range(1, rounds + 1):
        names = list(variants) if round_number % 2 else list(reversed(variants))
        for name in names:
            rate = asyncio.run(variants[name]())
            results[name].append(rate)
            print(f"round {round_number}: {name:<9} {rate:>9,.0f} msg/s")
    baseline = statistics.median(results["aio-pika"])
    ours = statistics.median(results["tamarco"])
    print(f"\nmedian aio-pika + model_validate_json {baseline:,.0f} msg/s")
    print(f"median tamarco typed handler          {ours:,.0f} msg/s  ratio {ours / baseline:.2f} (target >= 0.95)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from tamarco.harness import Harness

    with Harness() as harness:
        measure(harness.rabbitmq.url, harness_broker(harness.rabbitmq), args.messages, args.rounds)


if __name__ == "__main__":
    main()
