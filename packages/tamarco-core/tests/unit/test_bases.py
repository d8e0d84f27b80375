import asyncio

import pytest
from tamarco.codecs import JsonCodec
from tamarco.core.microservice import Microservice, MicroserviceContext
from tamarco.resources.bases import BaseResource, InputBase, IOResource, OutputBase, StatusCodes


def test_status_codes_values():
    assert [(s.name, int(s)) for s in StatusCodes] == [
        ("NOT_STARTED", 0),
        ("CONNECTING", 1),
        ("STARTED", 2),
        ("STOPPING", 3),
        ("STOPPED", 4),
        ("FAILED", 5),
    ]


async def test_status_dict_and_listeners():
    resource = BaseResource()
    changes = []
    resource.add_status_listener(lambda r, old, new: changes.append((old, new)))
    assert await resource.status() == {"status": 0, "status_name": "NOT_STARTED"}
    await resource.start()
    resource.set_status(StatusCodes.FAILED, RuntimeError("lost connection"))
    assert changes == [(StatusCodes.NOT_STARTED, StatusCodes.STARTED), (StatusCodes.STARTED, StatusCodes.FAILED)]
    status = await resource.status()
    assert status["status"] == 5 and status["status_name"] == "FAILED"
    assert status["last_error"] == "RuntimeError: lost connection"


class MemoryIO(IOResource):
    """An in-memory transport: what a broker resource does, without the broker."""

    async def publish(self, payload: bytes, input_name: str):
        input_ = self.inputs[input_name]
        await input_.deliver(input_.decode(payload))


class MemoryOutput(OutputBase):
    async def push(self, message):
        await self.resource.publish(self.encode(message), "events")


async def test_input_as_decorator_on_service_method():
    io = MemoryIO()
    events = InputBase(name="events", codec=JsonCodec, resource=io)
    MemoryOutput(name="out", resource=io)

    class Ctx(MicroserviceContext):
        bus = io
        received: list = []

        @events
        async def on_event(self, message):
            self.received.append((self.name, message))

    async with Ctx(environ={}) as ctx:
        await ctx.bus.outputs["out"].push({"n": 1})
        assert ctx.received == [("microservice_context", {"n": 1})]
        assert (await ctx.bus.status())["inputs"] == ["events"]


async def test_input_as_async_iterator():
    io = MemoryIO()
    stream = InputBase(name="events", resource=io)
    await io.publish(b'{"n": 1}', "events")
    await io.publish(b'{"n": 2}', "events")
    received = []
    async for message in stream:
        received.append(message)
        if len(received) == 2:
            break
    assert received == [{"n": 1}, {"n": 2}]


def test_input_handler_must_be_async_and_names_unique():
    stream = InputBase(name="x")
    with pytest.raises(TypeError, match="async"):
        stream(lambda self, m: None)
    io = IOResource()
    io.add_input(InputBase(name="a"))
    with pytest.raises(ValueError, match="duplicate input name 'a'"):
        io.add_input(InputBase(name="a"))


def test_resource_constructor_needs_no_arguments():
    for cls in (BaseResource, IOResource):
        assert cls().status_code == StatusCodes.NOT_STARTED
    assert asyncio.iscoroutinefunction(BaseResource.status)


def test_a_synchronous_handler_is_refused_where_the_class_is_defined():
    """0.1's Kafka input ran plain functions; here the class body fails, naming the handler."""
    with pytest.raises(TypeError, match=r"input metrics: the handler .*pull must be an async function"):

        class Service(Microservice):
            @InputBase(name="metrics")
            def pull(self, message):
                pass

    def plain(message):
        pass

    with pytest.raises(TypeError, match="handler plain must be an async function"):
        InputBase(name="metrics", on_message=plain)
