"""The AMQP case of ``tracing_overhead.py``: push→pull through the harness's RabbitMQ (or ``--url``),
CPU time of this process per message (publisher and consumer together), four variants interleaved
round by round, medians compared in the same run:

- ``aio-pika``: raw aio-pika (``amqp_throughput.raw_stream``), the baseline;
- ``aio-pika-otel``: the same instrumented by hand with the OpenTelemetry SDK as its documentation
  shows: a PRODUCER span per publish whose ``traceparent`` goes in the message headers, a CONSUMER
  span per message (extracted context, current while the handler runs), ``BatchSpanProcessor`` +
  OTLP/HTTP exporter to the local sink;
- ``tamarco``: ``AMQPOutput`` → ``AMQPPullInput`` in a service, tracing off;
- ``tamarco-traced``: the same with ``system.tracing.enabled`` (ratio 1.0), to the same sink.

Ratios: ``tamarco-traced / aio-pika-otel`` in CPU per message (target: no costlier than by hand)
and ``tamarco / aio-pika`` (off). The batch export thread runs in this process, so its CPU counts
for both traced variants alike; the final flush at shutdown is outside the measured window of both.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import uuid
from typing import Any

import aio_pika
from aio_pika.abc import DeliveryMode
from amqp_throughput import PREFETCH, Result, Window, body, pipelined, raw_stream, tamarco_stream

VARIANTS = ("aio-pika", "aio-pika-otel", "tamarco", "tamarco-traced")


async def raw_stream_traced(url: str, count: int, endpoint: str) -> Result:
    """``raw_stream``'s push→pull with spans written by hand."""
    from opentelemetry import context, propagate, trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace import SpanKind

    provider = TracerProvider(resource=Resource.create({"service.name": "bare_aio_pika"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")))
    tracer = provider.get_tracer("by-hand")
    name = f"bench-otel-{uuid.uuid4().hex[:8]}"
    try:
        async with await aio_pika.connect_robust(url) as connection:
            publisher = await connection.channel(publisher_confirms=True)
            consumer = await connection.channel()
            await consumer.set_qos(prefetch_count=PREFETCH)
            queue = await consumer.declare_queue(name, durable=True)
            received = 0
            done = asyncio.Event()

            async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                nonlocal received
                attributes = {
                    "messaging.system": "rabbitmq",
                    "messaging.operation.type": "process",
                    "messaging.destination.name": name,
                    "messaging.message.body.size": len(message.body),
                }
                parent = propagate.extract(message.headers)
                span = tracer.start_span(
                    f"process {name}", context=parent, kind=SpanKind.CONSUMER, attributes=attributes
                )
                token = context.attach(trace.set_span_in_context(span))
                try:
                    json.loads(message.body)
                    await message.ack()
                finally:
                    context.detach(token)
                    span.end()
                received += 1
                if received == count:
                    done.set()

            tag = await queue.consume(on_message)

            async def send(n: int) -> None:
                payload = json.dumps(body(n)).encode()
                attributes = {
                    "messaging.system": "rabbitmq",
                    "messaging.operation.type": "send",
                    "messaging.destination.name": name,
                    "messaging.message.body.size": len(payload),
                }
                with tracer.start_as_current_span(f"push {name}", kind=SpanKind.PRODUCER, attributes=attributes):
                    headers: dict[str, Any] = {}
                    propagate.inject(headers)
                    message = aio_pika.Message(payload, headers=headers, delivery_mode=DeliveryMode.PERSISTENT)
                    await publisher.default_exchange.publish(message, routing_key=name, mandatory=True)

            window = Window()
            await pipelined(send, count)
            await done.wait()
            result = window.result(count)
            await queue.cancel(tag)
            await queue.delete(if_unused=False, if_empty=False)
        return result
    finally:
        provider.shutdown()


def run_variant(variant: str, url: str, broker: dict[str, Any], count: int, endpoint: str) -> Result:
    if variant == "aio-pika":
        return asyncio.run(raw_stream(url, "push", count))
    if variant == "aio-pika-otel":
        return asyncio.run(raw_stream_traced(url, count, endpoint))
    tracing = {"enabled": variant == "tamarco-traced", "endpoint": endpoint, "sample_ratio": 1.0}
    return asyncio.run(tamarco_stream(broker, "push", count, system={"tracing": tracing}))


def measure_amqp(url: str, broker: dict[str, Any], count: int, rounds: int, endpoint: str) -> None:
    cpu: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    print(f"AMQP push→pull, {count} messages x {rounds} rounds, CPU µs of this process per message", flush=True)
    for round_number in range(1, rounds + 1):
        shift = (round_number - 1) % len(VARIANTS)
        for variant in VARIANTS[shift:] + VARIANTS[:shift]:
            rate, seconds = run_variant(variant, url, broker, count, endpoint)
            cpu[variant].append(seconds * 1e6)
            print(
                f"  round {round_number}  {variant:<16}{rate:>10,.0f} msg/s {seconds * 1e6:>8.1f} µs CPU/message",
                flush=True,
            )
    median = {variant: statistics.median(values) for variant, values in cpu.items()}
    print()
    for variant in VARIANTS:
        print(f"{variant:<18}{median[variant]:>10.1f} µs CPU/message")
    print(
        "tracing on:  tamarco-traced / aio-pika-otel = "
        f"{median['tamarco-traced'] / median['aio-pika-otel']:.2f} (CPU; <= 1: no costlier than by hand)"
    )
    print(f"             aio-pika-otel / aio-pika       = {median['aio-pika-otel'] / median['aio-pika']:.2f}")
    print(f"tracing off: tamarco / aio-pika             = {median['tamarco'] / median['aio-pika']:.2f}")
    print(f"             tamarco-traced / tamarco       = {median['tamarco-traced'] / median['tamarco']:.2f}")
    by_hand, tamarco = median["aio-pika-otel"] - median["aio-pika"], median["tamarco-traced"] - median["tamarco"]
    print(f"CPU added per message by the spans: by hand {by_hand:+.1f} µs, Tamarco {tamarco:+.1f} µs")
