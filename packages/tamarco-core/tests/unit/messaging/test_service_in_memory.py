"""A Microservice's decorated handlers and async iterators, run on the in-memory transport."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tamarco.codecs import JsonCodec
from tamarco.core.logging.testing import capture_logs
from tamarco.core.messaging import (
    Message,
    MessageOutput,
    MessagingResource,
    MessagingSettingsError,
    PullInput,
    RequestInput,
)
from tamarco.core.messaging.testing import serving, use_in_memory
from tamarco.core.microservice import Microservice, task
from tamarco.harness.messaging_suite import InMemoryCase, running, wait_until


class Bus(MessagingResource):
    transport_kind = "memory"


class CowService(Microservice):
    name = "cows_in_memory"
    use_default_resources = False

    bus = Bus(outputs=[MessageOutput("cows", codec=JsonCodec), MessageOutput("questions")])
    herd: list[Any]
    envelopes: list[Message]

    def __init__(self) -> None:
        super().__init__(environ={})
        self.herd = []
        self.envelopes = []

    @PullInput(resource=bus, source="cows", codec=JsonCodec)
    async def count_cow(self, message: dict[str, Any]) -> None:
        self.herd.append(message)

    @RequestInput(resource=bus, source="questions")
    async def answer(self, message: Message, response_handler: Any) -> None:
        self.envelopes.append(message)
        await response_handler.send_response({"cat": "MEOW", "to": message.body})


async def test_decorated_methods_handle_messages_of_their_instance() -> None:
    service = CowService()
    broker = use_in_memory(service)
    async with serving(service):
        await service.bus.outputs["cows"].push({"cow": "MOO"})
        answer = await service.bus.outputs["questions"].request("who?", timeout=5)
        await wait_until(lambda: service.herd == [{"cow": "MOO"}], 5, "the cow counted")
    assert answer == {"cat": "MEOW", "to": "who?"}
    assert service.envelopes[0].source == "questions"
    assert broker.pending("cows") == 0


class StreamService(Microservice):
    name = "stream_in_memory"
    use_default_resources = False

    events = PullInput("events")
    bus = Bus(inputs=[events], outputs=[MessageOutput("events")])

    def __init__(self) -> None:
        super().__init__(environ={})
        self.seen: list[Any] = []

    @task
    async def consume(self) -> None:
        async for event in self.events:
            self.seen.append(event)


async def test_async_for_in_a_task_consumes_the_input() -> None:
    service = StreamService()
    use_in_memory(service)
    async with serving(service):
        for n in range(3):
            await service.bus.outputs["events"].push(n)
        await wait_until(lambda: service.seen == [0, 1, 2], 5, "three events")


async def test_policy_settings_are_checked_at_start_naming_the_key() -> None:
    service = CowService()
    use_in_memory(service)
    service.settings.update_internal(
        {"system": {"resources": {"bus": {"inputs": {"cows": {"retry": {"attempts": 0}}}}}}}
    )
    code = await asyncio.wait_for(service.run_until_stopped(), 10)
    assert code == 1
    assert "system.resources.bus.inputs.cows.retry.attempts" in str(service.bus.last_error)


def test_two_inputs_on_one_queue_of_one_pattern_are_refused() -> None:
    bus = Bus(inputs=[PullInput("jobs")])
    with pytest.raises(MessagingSettingsError, match="'jobs'"):
        bus.add_input(PullInput("jobs", name="jobs_again"))


def test_use_in_memory_needs_a_messaging_resource() -> None:
    class Plain(Microservice):
        name = "plain"
        use_default_resources = False

    with pytest.raises(ValueError, match="no messaging resource"):
        use_in_memory(Plain(environ={}))


async def test_retries_and_dead_letters_are_logged_naming_the_input_and_the_error() -> None:
    case = InMemoryCase()

    async def broken(body: Any) -> None:
        raise KeyError("no such cow")

    output = case.output("cows")
    resource = case.resource(
        [case.pull_input("cows", on_message=broken, retry={"attempts": 2, "delay_seconds": 0.01})], [output]
    )
    with capture_logs(level="WARNING") as logs:
        async with running(case, resource):
            await output.push({"cow": 1})
            await case.dead_letters("cows", 1)
    messages = logs.messages
    assert "input cows: handler failed on attempt 1 of 2 (KeyError: 'no such cow'); retrying in 0.01 s" in messages
    assert any(
        message.startswith("input cows: handler failed 2 time(s) on a message from cows, dead-lettering it: KeyError")
        for message in messages
    ), messages


class ReturningAnswerService(Microservice):
    name = "answers_in_memory"
    use_default_resources = False

    bus = Bus(outputs=[MessageOutput("questions")])

    def __init__(self) -> None:
        super().__init__(environ={})

    @RequestInput(resource=bus, source="questions")
    async def answer(self, message: Any) -> Any:
        return {"answer": message.upper()}


async def test_a_request_handler_without_a_response_handler_answers_with_what_it_returns() -> None:
    service = ReturningAnswerService()
    use_in_memory(service)
    async with serving(service):
        answer = await service.bus.outputs["questions"].request("who?", timeout=5)
    assert answer == {"answer": "WHO?"}


@pytest.mark.parametrize("pattern", [RequestInput, PullInput])
def test_a_handler_that_cannot_take_the_message_is_refused_when_decorated(pattern: Any) -> None:
    async def no_message(self: Any) -> None: ...

    async def three(self: Any, a: Any, b: Any, c: Any) -> None: ...

    for handler in (no_message, three):
        with pytest.raises(TypeError, match=rf"{pattern.__name__} 'q': handler .* must take \(self, message\)"):
            pattern("q")(handler)
