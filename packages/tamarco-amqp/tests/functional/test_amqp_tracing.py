"""Request/response traced both ways on the harness RabbitMQ and OTLP receiver: the responder's
CONSUMER span is a child of the request's PRODUCER span, the reply (by direct reply-to) carries the
responder's ``traceparent`` in its message headers, and the request's span links to the
responder's span."""

from __future__ import annotations

import asyncio

import aio_pika
import pytest
from tamarco.core.microservice import MicroserviceContext
from tamarco.resources.io.amqp import AMQPOutput, AMQPRequestInput, AMQPResource

pytestmark = pytest.mark.functional


async def test_request_and_reply_linked_both_ways(amqp_settings, unique_name, rabbitmq_service, otlp_collector):
    async def answer(message, response_handler):
        await response_handler.send_response({"answer": message["question"] * 2})

    output = AMQPOutput("questions")
    resource = AMQPResource(inputs=[AMQPRequestInput("questions", on_message=answer)], outputs=[output])
    service_class = type("TracedRPC", (MicroserviceContext,), {"name": "traced_rpc", "amqp": resource})
    service = service_class(environ={})
    prefix = f"{unique_name}."
    service.settings.update_internal(
        {
            "system": {
                "tracing": {"enabled": True, "endpoint": otlp_collector.url},
                "resources": {"amqp": amqp_settings(queues_prefix=prefix)},
            }
        }
    )
    async with service:
        assert await output.request({"question": 21}, timeout=10) == {"answer": 42}
        # On the wire: a request made by hand gets a reply whose headers carry the responder's span.
        async with await aio_pika.connect(rabbitmq_service.url) as connection:
            channel = await connection.channel()
            replies = await channel.declare_queue(exclusive=True)
            got: asyncio.Future[aio_pika.abc.AbstractIncomingMessage] = asyncio.get_running_loop().create_future()

            async def take(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                if not got.done():
                    got.set_result(message)

            await replies.consume(take, no_ack=True)
            await channel.default_exchange.publish(
                aio_pika.Message(b'{"question": 1}', reply_to=replies.name, correlation_id="by-hand"),
                routing_key=f"{prefix}questions.request",
            )
            by_hand = await asyncio.wait_for(got, 10)
    spans = otlp_collector.wait_for_spans(lambda span: span["resource"]["service.name"] == "traced_rpc", count=3)
    request = next(span for span in spans if span["name"] == f"request {output.destination}")
    answered = [span for span in spans if span["kind"] == "CONSUMER"]
    assert len(answered) == 2, spans
    responder = next(span for span in answered if span["parent_span_id"] == request["span_id"])
    assert request["links"] == [
        {"trace_id": responder["trace_id"], "span_id": responder["span_id"], "attributes": {"tamarco.link": "reply"}}
    ]
    other = next(span for span in answered if span is not responder)
    traceparent = by_hand.headers["traceparent"]
    traceparent = traceparent.decode() if isinstance(traceparent, bytes) else traceparent
    assert traceparent.startswith(f"00-{other['trace_id']}-{other['span_id']}-")  # then the flags
    assert by_hand.correlation_id == "by-hand"
