"""The public API: exports, the 0.1 module paths, the naming scheme, and a service's handlers
unit-tested on the in-memory transport."""

from __future__ import annotations

import asyncio
import importlib

import pytest
import tamarco.resources.io.amqp as amqp
from tamarco.codecs import BytesCodec, JsonCodec
from tamarco.core.messaging import InMemoryBroker, InMemoryTransport, MessagingSettingsError
from tamarco.core.messaging.testing import serving, use_in_memory
from tamarco.core.microservice import Microservice, MicroserviceContext, task
from tamarco.harness.messaging_suite import wait_until
from tamarco.resources.io.amqp import (
    AMQPGenericOutput,
    AMQPNames,
    AMQPOutput,
    AMQPPullInput,
    AMQPRequestInput,
    AMQPResource,
    AMQPSubscriptionInput,
)


def test_exports():
    assert all(hasattr(amqp, name) for name in amqp.__all__)
    for module, names in {
        "input": ["AMQPSubscriptionInput", "AMQPPullInput", "AMQPRequestInput"],
        "output": ["AMQPOutput", "AMQPGenericOutput"],
        "resource": ["AMQPResource"],
    }.items():
        loaded = importlib.import_module(f"tamarco.resources.io.amqp.{module}")
        for name in names:
            assert name in amqp.__all__
            assert getattr(loaded, name) is getattr(amqp, name)


def test_naming_scheme():
    names = AMQPNames("dev.")
    assert names.push_queue("cows") == "dev.cows"
    assert names.exchange("cows") == "dev.cows"
    assert names.request_queue("cows") == "dev.cows.request"
    assert names.dead_letter_queue("cows") == "dev.cows.dead"
    assert names.subscriber_queue("cows", "svc.1") == "dev.cows.subscriber.svc.1"
    with pytest.raises(ValueError, match="longer than 255 bytes"):
        names.push_queue("x" * 300)


def test_the_0_1_naming_scheme_is_the_0_1_plugins():
    """tamarco-amqp 0.1 (settings.py, connection.py, output.py): ``<prefix>.<pattern>.<queue>``,
    the prefix and its dot only when the prefix is not empty."""
    names = AMQPNames("dev", scheme="0.1")
    assert names.push_queue("cows") == "dev.push_pull.cows"
    assert names.exchange("cows") == "dev.publish_subscribe.cows"
    assert names.request_queue("cows") == "dev.request_response.cows"
    assert names.subscriber_queue("cows", "svc.1") is None  # named at random, exclusive
    assert names.dead_letter_queue("cows") == "dev.dead_letter.cows"
    assert (names.exchange_durable, names.request_queue_durable, names.content_type) == (False, False, "text/plain")
    bare = AMQPNames("", scheme="0.1")
    assert (bare.push_queue("cows"), bare.exchange("cows")) == ("push_pull.cows", "publish_subscribe.cows")
    default = AMQPNames("dev.")
    assert (default.exchange_durable, default.request_queue_durable, default.content_type) == (True, True, None)


def test_patterns_and_queue_names():
    assert AMQPSubscriptionInput("cows").pattern == "subscribe"
    assert AMQPPullInput("cows").pattern == "pull"
    assert AMQPRequestInput("cows", codec=JsonCodec).pattern == "request"
    assert AMQPPullInput(queue="cows").queue == "cows"
    assert AMQPOutput(queue="cows").queue == "cows"


def test_two_inputs_on_one_queue_are_an_error_at_bind():
    resource = AMQPResource(inputs=[AMQPPullInput("cows", name="first")])
    with pytest.raises(MessagingSettingsError, match="'first' and 'second' both consume 'cows'"):
        resource.add_input(AMQPPullInput("cows", name="second"))


class Herd(MicroserviceContext):
    name = "herd"
    amqp = AMQPResource(outputs=[AMQPOutput(queue="cows"), AMQPGenericOutput()])

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seen = []

    @AMQPPullInput(resource=amqp, queue="cows")
    async def on_cow(self, message):
        self.seen.append(message)

    @AMQPRequestInput(resource=amqp, queue="sounds")
    async def on_sound(self, message, response_handler):
        await response_handler.send_response({"sound": message["animal"].upper()})


async def test_handlers_run_on_the_in_memory_transport():
    service = Herd(environ={})
    service.amqp.use_transport(InMemoryTransport(InMemoryBroker()))
    async with service:
        await service.amqp.outputs["cows"].push({"cow": "MOOOO"})
        await service.amqp.outputs["generic"].push({"cow": "again"}, "cows")
        await wait_until(lambda: len(service.seen) == 2, what="two cows")
        answer = await service.amqp.outputs["generic"].request({"animal": "cat"}, "sounds", timeout=5)
        status = await service.amqp.status()
    assert service.seen == [{"cow": "MOOOO"}, {"cow": "again"}]
    assert answer == {"sound": "CAT"}
    assert status["transport"] == "memory"


# docs/lifecycle.md's snippet: an input declared once, given to the resource, used as a decorator.
events = AMQPSubscriptionInput(queue="events", codec=JsonCodec)
announcements = AMQPSubscriptionInput(queue="announcements", codec=JsonCodec)


class EventConsumer(MicroserviceContext):
    name = "consumer"
    amqp = AMQPResource(inputs=[events, announcements], outputs=[AMQPOutput(queue="events")])

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seen = []

    @events
    async def on_event(self, message):
        self.seen.append(message)


async def test_the_lifecycle_page_snippet_works():
    service = EventConsumer(environ={})
    broker = InMemoryBroker()
    service.amqp.use_transport(InMemoryTransport(broker))
    async with service:
        await service.amqp.outputs["events"].publish({"event": 1})
        await broker.publish("announcements", b'{"hello": "world"}', None, None)
        async for message in announcements:
            assert message == {"hello": "world"}
            break
        await wait_until(lambda: service.seen == [{"event": 1}], what="the event handled by the decorated method")


def test_unknown_keyword_arguments_are_refused_by_name():
    with pytest.raises(TypeError, match=r"AMQPResource\(\) got unexpected argument\(s\): queus_prefix"):
        AMQPResource(queus_prefix="dev")
    with pytest.raises(TypeError, match="unexpected keyword argument 'max_concurency'"):
        AMQPPullInput("cows", max_concurency=3)
    with pytest.raises(TypeError, match="unexpected keyword argument 'qeue'"):
        AMQPOutput(qeue="cows")


async def test_the_generic_output_takes_0_1_s_order_and_refuses_a_queue_that_is_not_a_string():
    service = Herd(environ={})
    service.amqp.use_transport(InMemoryTransport(InMemoryBroker()))
    generic = service.amqp.outputs["generic"]
    async with service:
        await generic.push({"cow": 1}, "cows")
        await generic.push({"cow": 2}, queue="cows")
        await generic.push(b'{"cow": 3}', "cows", BytesCodec)  # 0.1's per-call codec
        with pytest.raises(TypeError, match=r"the queue must be a string, got dict \(the order is \(message, queue\)"):
            await generic.push("cows", {"cow": 4})
        with pytest.raises(
            TypeError, match=r"the queue must be a string, got NoneType \(the order is \(message, queue\)"
        ):
            await generic.publish({"cow": 5})  # OutputBase's call shape: no queue
        await wait_until(lambda: len(service.seen) == 3, what="three cows")
    assert service.seen == [{"cow": 1}, {"cow": 2}, {"cow": 3}]


class IteratedRequests(Microservice):
    """0.1's request input as an async iterator: ``async for message, response_handler in ...``."""

    name = "iterated"
    use_default_resources = False
    sounds = AMQPRequestInput(queue="sounds")
    amqp = AMQPResource(inputs=[sounds], outputs=[AMQPOutput(queue="sounds")])

    @task
    async def answer(self):
        async for message, response_handler in self.sounds:
            await response_handler.send_response({"sound": message["animal"].upper()})


async def test_async_for_over_a_request_input_answers():
    service = IteratedRequests(environ={})
    use_in_memory(service)
    async with serving(service):
        output = service.amqp.outputs["sounds"]
        assert await output.request({"animal": "cow"}, timeout=5) == {"sound": "COW"}
        assert await output.request({"animal": "cat"}, timeout=5) == {"sound": "CAT"}


class Stalled(MicroserviceContext):
    name = "stalled"
    amqp = AMQPResource(outputs=[AMQPOutput(queue="hay")])

    @AMQPPullInput(resource=amqp, queue="hay", handler_timeout_seconds=0.05, retry={"attempts": 1})
    async def on_hay(self, message):
        await asyncio.Event().wait()


async def test_a_handler_past_the_timeout_given_in_code_is_cancelled_and_dead_lettered():
    service = Stalled(environ={})
    broker = InMemoryBroker()
    service.amqp.use_transport(InMemoryTransport(broker))
    async with service:
        await service.amqp.outputs["hay"].push({"bale": 1})
        [letter] = await broker.wait_dead_letters("hay", 1)
        timeout = service.amqp.consumers["hay"].policy.handler_timeout_seconds
    assert letter.headers["x-tamarco-error-type"] == "HandlerTimeoutError"
    assert timeout == 0.05
