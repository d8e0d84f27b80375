"""The patterns beyond the shared suite, on the harness RabbitMQ: a custom codec on publish/subscribe
and request/response, the generic output, an over-the-wire look at the naming scheme, and a
restart of the resource by the service (what restart policies do)."""

from __future__ import annotations

import aio_pika
import pytest
from tamarco.core.microservice import MicroserviceContext
from tamarco.harness.messaging_suite import ReversedCodec, wait_until
from tamarco.resources.bases import StatusCodes
from tamarco.resources.io.amqp import (
    AMQPGenericOutput,
    AMQPOutput,
    AMQPPullInput,
    AMQPRequestInput,
    AMQPResource,
    AMQPSubscriptionInput,
)

pytestmark = pytest.mark.functional


def service_with(resource, amqp):
    service_class = type("PatternService", (MicroserviceContext,), {"name": "amqp_patterns", "amqp": resource})
    service = service_class(environ={})
    service.settings.update_internal({"system": {"resources": {"amqp": amqp}}})
    return service


async def test_a_custom_codec_on_publish_subscribe_and_request_response(amqp_settings, unique_name, rabbitmq_service):
    heard = []

    async def listen(message):
        heard.append(message)

    async def shout(message, response_handler):
        await response_handler.send_response(message.upper())

    output = AMQPOutput("talk", codec=ReversedCodec)
    resource = AMQPResource(
        inputs=[
            AMQPSubscriptionInput("talk", codec=ReversedCodec, on_message=listen),
            AMQPRequestInput("talk", codec=ReversedCodec, on_message=shout, name="talk-requests"),
        ],
        outputs=[output],
    )
    prefix = f"{unique_name}."
    async with service_with(resource, amqp_settings(queues_prefix=prefix)):
        await output.publish("moo")
        await wait_until(lambda: heard == ["moo"], what="the published message")
        assert await output.request("meow", timeout=10) == "MEOW"
        # On the wire: the fanout exchange and the request queue of the naming scheme, the
        # bodies encoded by the codec.
        async with await aio_pika.connect(rabbitmq_service.url) as connection:
            channel = await connection.channel()
            await channel.declare_exchange(f"{prefix}talk", aio_pika.ExchangeType.FANOUT, passive=True)
            await channel.declare_queue(f"{prefix}talk.request", passive=True)
            spy = await channel.declare_queue(exclusive=True)
            await spy.bind(f"{prefix}talk")
            await output.publish("oink")
            message = await spy.get(timeout=10)
            assert message.body == b"knio"


async def test_the_generic_output_names_the_queue_per_call(amqp_settings, unique_name):
    got = []

    async def collect(message):
        got.append(message)

    async def double(message, response_handler):
        return message * 2

    generic = AMQPGenericOutput()
    resource = AMQPResource(
        inputs=[AMQPPullInput("a", on_message=collect), AMQPRequestInput("b", on_message=double)],
        outputs=[generic],
    )
    async with service_with(resource, amqp_settings(queues_prefix=f"{unique_name}.")):
        await generic.push({"to": "a"}, "a")
        assert await generic.request(21, "b", timeout=10) == 42
        await wait_until(lambda: got == [{"to": "a"}], what="the pushed message")


async def test_the_service_restarts_the_resource_and_it_works_again(amqp_settings, unique_name):
    got = []

    async def collect(message):
        got.append(message)

    output = AMQPOutput("restart")
    resource = AMQPResource(inputs=[AMQPPullInput("restart", on_message=collect)], outputs=[output])
    service = service_with(resource, amqp_settings(queues_prefix=f"{unique_name}."))
    async with service:
        await output.push(1)
        await wait_until(lambda: got == [1], what="the first message")
        first_transport = resource.transport
        await service.restart_resource("amqp", timeout=20)
        assert resource.status_code == StatusCodes.STARTED
        assert resource.transport is not first_transport, "a new connection"
        await output.push(2)
        await wait_until(lambda: got == [1, 2], what="a message after the restart")
