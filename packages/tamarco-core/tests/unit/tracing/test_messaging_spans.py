"""Messaging spans on the in-memory transport: PRODUCER → CONSUMER in one trace, the handler's
logs inside, retries and dead-lettering as events, request and reply in one trace."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tamarco.codecs import JsonCodec
from tamarco.core import tracing
from tamarco.core.logging.testing import capture_logs
from tamarco.core.messaging import Message, MessageOutput, MessagingResource, PullInput, RequestInput
from tamarco.core.messaging.testing import serving, use_in_memory
from tamarco.core.microservice import Microservice


class Bus(MessagingResource):
    transport_kind = "memory"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Traced(Microservice):
    name = "traced_bus"
    use_default_resources = False

    bus = Bus(outputs=[MessageOutput("cows", codec=JsonCodec), MessageOutput("flaky"), MessageOutput("questions")])

    def __init__(self) -> None:
        super().__init__(environ={})
        self.seen: list[tuple[str, str] | None] = []
        self.flaky_calls = 0
        self.done = asyncio.Event()
        endpoint = f"http://127.0.0.1:{closed_port()}"
        self.settings.update_internal(
            {
                "system": {
                    "tracing": {"enabled": True, "endpoint": endpoint, "timeout": 1},
                    "resources": {"bus": {"delivery": {"retry": {"attempts": 2, "delay_seconds": 0}}}},
                }
            }
        )

    @PullInput(resource=bus, source="cows", codec=JsonCodec)
    async def count_cow(self, message: dict[str, Any]) -> None:
        self.logger.info("cow counted")
        self.seen.append(tracing.current_log_ids())
        self.done.set()

    @PullInput(resource=bus, source="flaky")
    async def fail(self, message: Any) -> None:
        self.flaky_calls += 1
        raise RuntimeError("flaky handler")

    @RequestInput(resource=bus, source="questions")
    async def answer(self, message: Message, response_handler: Any) -> None:
        await response_handler.send_response({"answer": 42})


async def test_producer_consumer_retry_dead_letter_request():
    service = Traced()
    use_in_memory(service)
    spans = InMemorySpanExporter()
    with capture_logs() as logs:
        async with serving(service):
            service.tracing._exporting.provider.add_span_processor(SimpleSpanProcessor(spans))  # type: ignore[union-attr]
            with service.tracing.span("incoming request") as root:
                await service.bus.outputs["cows"].push({"cow": "MOO"})
                await service.bus.outputs["flaky"].push("boom")
                assert await service.bus.outputs["questions"].request("?", timeout=5) == {"answer": 42}
            await asyncio.wait_for(service.done.wait(), 5)
            await logs.wait_for(contains="dead-lettering it", timeout=5)
    finished = {span.name: span for span in spans.get_finished_spans()}
    trace_id = root.get_span_context().trace_id
    assert all(span.context.trace_id == trace_id for span in finished.values()), finished.keys()
    push = finished["push cows"]
    assert push.kind.name == "PRODUCER" and push.parent.span_id == root.get_span_context().span_id
    assert push.attributes["messaging.destination.name"] == "cows"
    assert push.attributes["messaging.operation.type"] == "send"
    process = finished["process cows"]
    assert process.kind.name == "CONSUMER" and process.parent.span_id == push.context.span_id
    assert process.attributes["messaging.operation.type"] == "process"
    assert process.attributes["tamarco.messaging.settlement"] == "acked"
    # The handler ran inside the CONSUMER span: its log line and its current span say so.
    expected = (format(trace_id, "032x"), format(process.context.span_id, "016x"))
    assert service.seen == [expected]
    record = logs.find(message="cow counted")
    assert (record.extra["trace_id"], record.extra["span_id"]) == expected
    flaky = finished["process flaky"]
    assert [event.name for event in flaky.events] == ["tamarco.retry", "tamarco.dead_letter"]
    assert flaky.status.status_code.name == "ERROR"
    assert flaky.attributes["tamarco.messaging.settlement"] == "dead_lettered"
    request = finished["request questions"]
    answered = finished["process questions"]
    assert request.kind.name == "PRODUCER" and answered.parent.span_id == request.context.span_id


async def test_tracing_off_wraps_nothing():
    service = Traced()
    service.settings.update_internal({"system": {"tracing": {"enabled": False}}})
    use_in_memory(service)
    async with serving(service):
        consumer = (
            service.bus.consumers["count_cow"]
            if "count_cow" in service.bus.consumers
            else next(iter(service.bus.consumers.values()))
        )
        assert getattr(consumer._handle_one, "__func__", None) is type(consumer)._handle_one
        assert "send" not in vars(service.bus) and "request" not in vars(service.bus)


def spy_replies(service: Traced) -> list[Any]:
    """Put ``service`` in memory; the headers of each reply its responders send, in a list."""
    broker = use_in_memory(service)
    replies: list[Any] = []
    original_reply = broker.reply

    def spy(reply_to: str, body: bytes, headers: Any = None) -> None:
        replies.append(headers)
        original_reply(reply_to, body, headers)

    broker.reply = spy  # type: ignore[method-assign]
    return replies


async def test_request_and_reply_linked_both_ways():
    """The reply carries the responder's span context back; the request's span links to it."""
    service = Traced()
    replies = spy_replies(service)
    spans = InMemorySpanExporter()
    async with serving(service):
        service.tracing._exporting.provider.add_span_processor(SimpleSpanProcessor(spans))  # type: ignore[union-attr]
        assert await service.bus.outputs["questions"].request("?", timeout=5) == {"answer": 42}
    finished = {span.name: span for span in spans.get_finished_spans()}
    request, answered = finished["request questions"], finished["process questions"]
    assert answered.parent.span_id == request.context.span_id
    trace_id, span_id = format(answered.context.trace_id, "032x"), format(answered.context.span_id, "016x")
    assert [list(headers) for headers in replies] == [["traceparent"]]
    assert replies[0]["traceparent"].startswith(f"00-{trace_id}-{span_id}-")  # then the flags
    assert [(link.context.span_id, dict(link.attributes or {})) for link in request.links] == [
        (answered.context.span_id, {"tamarco.link": "reply"})
    ]


async def test_reply_without_tracing_carries_no_headers():
    service = Traced()
    service.settings.update_internal({"system": {"tracing": {"enabled": False}}})
    replies = spy_replies(service)
    async with serving(service):
        assert await service.bus.outputs["questions"].request("?", timeout=5) == {"answer": 42}
    assert replies == [None]
