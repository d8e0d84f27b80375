"""What holds a consumer's slots: handlers past handler_timeout_seconds (cancelled, a failure;
stuck when they ignore it) and dead letters the broker refuses (tried again after a growing,
bounded delay, the message in hand; logged once per interval; nothing lost)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import pytest
from tamarco.core.logging.testing import capture_logs
from tamarco.core.messaging import (
    Delivery,
    InMemoryTransport,
    MessageInput,
    MessageOutput,
    MessagingSettingsError,
    PublishError,
    PullInput,
    _stalls,
    resolve_policy,
)
from tamarco.core.messaging.testing import serving, use_in_memory
from tamarco.core.microservice import Microservice
from tamarco.harness.messaging_suite import InMemoryCase, MemoryResource, running, wait_until

NO_RETRY_DELAY = {"delay_seconds": 0}


async def test_a_handler_past_its_timeout_is_cancelled_retried_and_dead_lettered_as_a_failure() -> None:
    case = InMemoryCase()
    calls: list[Any] = []
    cancelled: list[Any] = []

    async def hang(body: Any) -> None:
        calls.append(body)
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(body)
            raise

    output = MessageOutput("jobs")
    resource = case.resource([PullInput("jobs", on_message=hang)], [output])
    delivery = {"handler_timeout_seconds": 0.05, "retry": {"attempts": 2, **NO_RETRY_DELAY}}
    async with running(case, resource, {"delivery": delivery}):
        await output.push("x")
        letters = await case.dead_letters("jobs", 1)
        statistics = resource.consumers["jobs"].statistics()
    assert calls == ["x", "x"] and cancelled == ["x", "x"], "cancelled at each attempt"
    headers = letters[0][1]
    assert headers["x-tamarco-error-type"] == "HandlerTimeoutError"
    assert "did not finish within 0.05 s (handler_timeout_seconds)" in headers["x-tamarco-error"]
    assert headers["x-tamarco-attempts"] == 2
    assert statistics["timed_out"] == 2 and statistics["stuck"] == 0 and statistics["in_flight"] == 0


async def test_a_handler_ignoring_the_cancellation_is_stuck_until_it_returns() -> None:
    case = InMemoryCase()
    release = asyncio.Event()
    done: list[Any] = []

    async def stubborn(body: Any) -> None:
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                pass  # ignores the handler timeout
        done.append(body)

    output = MessageOutput("jobs")
    resource = case.resource([PullInput("jobs", on_message=stubborn)], [output])
    async with running(case, resource, {"delivery": {"handler_timeout_seconds": 0.05}}):
        await output.push("x")
        consumer = resource.consumers["jobs"]
        await wait_until(lambda: consumer.statistics()["stuck"] == 1, what="the handler seen stuck")
        [text] = resource.stuck_handlers()
        assert "input jobs: 1 handler(s) still running past handler_timeout_seconds (0.05 s" in text
        release.set()
        await wait_until(lambda: done == ["x"], what="the handler finished")
        await wait_until(lambda: consumer.statistics()["stuck"] == 0, what="no longer stuck")
        assert resource.stuck_handlers() == []
        assert consumer.handled == 1, "it returned: handled, not a failure"


async def test_no_handler_timeout_by_default() -> None:
    assert resolve_policy({}, None, "jobs").handler_timeout_seconds is None


@pytest.mark.parametrize("value", [-1, "1s", True])
def test_a_bad_handler_timeout_names_the_key(value: Any) -> None:
    with pytest.raises(MessagingSettingsError, match="argument handler_timeout_seconds must be a number >= 0"):
        resolve_policy({"handler_timeout_seconds": value}, None, "jobs")


class RefusingDeadLetters(InMemoryTransport):
    """The broker refuses the first ``refusals`` dead letters (a full dead-letter queue)."""

    def __init__(self, broker: Any, refusals: int) -> None:
        super().__init__(broker)
        self.refusals = refusals
        self.tries = 0

    async def dead_letter(self, input_: MessageInput, delivery: Delivery, headers: Mapping[str, Any]) -> None:
        self.tries += 1
        if self.tries <= self.refusals:
            raise PublishError("dead-letter queue 'jobs.dead' refused the message (reject-publish)")
        await super().dead_letter(input_, delivery, headers)


def failing_resource(case: InMemoryCase, refusals: int, calls: list[Any]) -> tuple[MemoryResource, Any]:
    async def fail(body: Any) -> None:
        calls.append(body)
        raise ValueError("always")

    transport = RefusingDeadLetters(case.broker, refusals)
    output = MessageOutput("jobs")
    resource = MemoryResource(inputs=[PullInput("jobs", on_message=fail)], outputs=[output], transport=transport)
    return resource, transport


async def test_refused_dead_letters_back_off_keep_their_attempts_and_log_once(monkeypatch: Any) -> None:
    monkeypatch.setattr(_stalls, "DEAD_LETTER_FIRST_DELAY", 0.01)
    case = InMemoryCase()
    calls: list[Any] = []
    resource, _transport = failing_resource(case, refusals=5, calls=calls)
    output = resource.outputs["jobs"]
    with capture_logs() as logs:
        async with running(case, resource, {"delivery": {"retry": {"attempts": 2, **NO_RETRY_DELAY}}}):
            await output.push("x")
            consumer = resource.consumers["jobs"]
            await wait_until(lambda: consumer.statistics()["dead_letter_refusals"] >= 2, what="refusals")
            waiting = consumer.statistics()
            letters = await case.dead_letters("jobs", 1)
            statistics = consumer.statistics()
    assert calls == ["x", "x"], "the handler is not called again while the dead letter waits"
    assert waiting["dead_letters_waiting"] == 1 and "reject-publish" in waiting["last_dead_letter_error"]
    headers = letters[0][1]
    assert headers["x-tamarco-attempts"] == 2 and headers["x-tamarco-dead-letter-attempts"] == 6
    assert statistics["dead_letter_refusals"] == 5 and statistics["dead_letters_waiting"] == 0
    assert statistics["dead_lettered"] == 1
    refused = logs.filter(contains="could not dead-letter a message")
    assert len(refused) == 1, "one line per interval, not per try"
    assert refused[0].level == "ERROR" and "tried again in 0.01 s" in refused[0].message
    assert logs.find(level="INFO", contains="dead letters are accepted again (the last one after 5 refusal(s))")


def test_the_delay_between_tries_grows_and_is_bounded() -> None:
    retries = _stalls.DeadLetterRetries("jobs", logging.getLogger("test"), max_delay=3)
    assert [retries.delay(n) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 3.0, 3.0]


async def test_a_dead_letter_still_refused_at_the_stop_goes_back_to_the_broker(monkeypatch: Any) -> None:
    monkeypatch.setattr(_stalls, "DEAD_LETTER_FIRST_DELAY", 0.01)
    case = InMemoryCase()
    calls: list[Any] = []
    resource, transport = failing_resource(case, refusals=10_000, calls=calls)
    async with running(case, resource, {"delivery": {"retry": {"attempts": 1}}}):
        await resource.outputs["jobs"].push("x")
        await wait_until(lambda: transport.tries >= 3, what="three refusals")
    assert case.broker.pending("jobs") == 1, "requeued, not lost"
    assert case.broker.dead_letters("jobs") == []


# -- handler_timeout_seconds given in code ------------------------------------------------------


async def _hang(body: Any) -> None:
    await asyncio.Event().wait()


async def test_a_handler_past_the_timeout_given_in_code_is_cancelled_and_dead_lettered() -> None:
    case = InMemoryCase()
    output = MessageOutput("jobs")
    jobs = PullInput("jobs", on_message=_hang, handler_timeout_seconds=0.05, retry={"attempts": 1})
    resource = case.resource([jobs], [output])
    async with running(case, resource):  # no settings: the timeout is the code's
        await output.push("x")
        [(_, headers)] = await case.dead_letters("jobs", 1)
        statistics = resource.consumers["jobs"].statistics()
    assert headers["x-tamarco-error-type"] == "HandlerTimeoutError"
    assert statistics["handler_timeout_seconds"] == 0.05 and statistics["timed_out"] == 1


class SlowService(Microservice):
    name = "slow_in_memory"
    use_default_resources = False

    bus = MemoryResource(outputs=[MessageOutput("slow")])

    @PullInput(resource=bus, source="slow", handler_timeout_seconds=0.05, retry={"attempts": 1})
    async def crawl(self, message: Any) -> None:
        await asyncio.Event().wait()


async def test_the_decorator_form_takes_the_handler_timeout() -> None:
    service = SlowService(environ={})
    broker = use_in_memory(service)
    async with serving(service):
        await service.bus.outputs["slow"].push("x")
        [letter] = await broker.wait_dead_letters("slow", 1)
    assert letter.headers["x-tamarco-error-type"] == "HandlerTimeoutError"


@pytest.mark.parametrize(
    ("settings", "code", "used"),
    [
        ({}, 2, 2.0),
        ({"delivery": {"handler_timeout_seconds": 9}}, None, 9.0),
        ({"delivery": {"handler_timeout_seconds": 9}}, 2, 2.0),  # the code beats the resource default
        ({"delivery": {"handler_timeout_seconds": 9}}, 0, None),  # 0 in code: none
        ({"inputs": {"jobs": {"handler_timeout_seconds": 3}}}, 2, 3.0),  # the input's setting wins
        ({"inputs": {"jobs": {"handler_timeout_seconds": 0}}}, 2, None),
    ],
)
async def test_the_handler_timeout_layers_defaults_delivery_code_input_settings(
    settings: dict[str, Any], code: float | None, used: float | None
) -> None:
    case = InMemoryCase()
    resource = case.resource([PullInput("jobs", on_message=_hang, handler_timeout_seconds=code)])
    async with running(case, resource, settings):
        consumer = resource.consumers["jobs"]
        assert consumer.policy.handler_timeout_seconds == used
        assert consumer.timer.timeout == used


@pytest.mark.parametrize("value", [-1, "1s", True, [1]])
async def test_a_bad_handler_timeout_in_code_fails_the_start_naming_the_input_and_argument(value: Any) -> None:
    case = InMemoryCase()
    resource = case.resource([PullInput("jobs", on_message=_hang, handler_timeout_seconds=value)])
    with pytest.raises(Exception, match="input 'jobs' argument handler_timeout_seconds must be a number >= 0"):
        async with running(case, resource):
            pass
