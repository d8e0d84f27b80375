"""Consuming: each pushed message reaches one pull handler, competing consumers share a queue,
``async for``, the envelope, the concurrency bound."""

from __future__ import annotations

import asyncio
from typing import Any

from tamarco.core.messaging import (
    Message,
)

from ._case import TIMEOUT, MessagingCase, SuiteBase, collector, running, wait_until

__all__ = ["ConsumeTests"]


class ConsumeTests(SuiteBase):
    """Consuming: see the module doc."""

    async def test_push_reaches_a_pull_handler_once_each(self, messaging_case: MessagingCase) -> None:
        case = messaging_case
        (queue,) = await self._names(case, "pull")
        received, handler = collector()
        output = case.output(queue)
        resource = case.resource([case.pull_input(queue, on_message=handler)], [output])
        async with running(case, resource):
            for n in range(20):
                await output.push({"n": n})
            await wait_until(lambda: len(received) >= 20, what="20 messages handled")
        assert sorted(message["n"] for message in received) == list(range(20))

    async def test_async_iterator_receives_and_acknowledges(self, messaging_case: MessagingCase) -> None:
        case = messaging_case
        (queue,) = await self._names(case, "iter")
        stream = case.pull_input(queue)
        output = case.output(queue)
        got: list[Any] = []

        async def consume() -> None:
            async for body in stream:
                got.append(body)
                if body == "marker":
                    await asyncio.Event().wait()  # stopped while handling it

        async with running(case, case.resource([stream], [output])):
            consumer = asyncio.create_task(consume())
            for n in range(5):
                await output.push(n)
            await wait_until(lambda: len(got) >= 5, what="5 messages through async for")
            await output.push("marker")
            await wait_until(lambda: "marker" in got, what="the marker")
            consumer.cancel()
            await asyncio.gather(consumer, return_exceptions=True)
        assert got == [0, 1, 2, 3, 4, "marker"]
        # The five were acknowledged when the loop asked for the next one; the marker was still
        # being handled when the consumer stopped, so it (and only it) comes again.
        again, handler = collector()
        async with running(case, case.resource([case.pull_input(queue, on_message=handler)])):
            await wait_until(lambda: len(again) >= 1, what="the held message redelivered")
            await asyncio.sleep(0.3)  # a window for wrongly redelivered messages to show up
        assert again == ["marker"]

    async def test_competing_consumers_share_the_queue(self, messaging_case: MessagingCase) -> None:
        case = messaging_case
        (queue,) = await self._names(case, "compete")
        first, first_handler = collector()
        second, second_handler = collector()
        output = case.output(queue)
        one = case.resource([case.pull_input(queue, on_message=first_handler)], [output])
        two = case.resource([case.pull_input(queue, on_message=second_handler)])
        async with running(case, one), running(case, two):
            for n in range(40):
                await output.push(n)
            await wait_until(lambda: len(first) + len(second) >= 40, what="40 messages handled")
            await asyncio.sleep(0.2)
        assert sorted(first + second) == list(range(40)), "each message handled exactly once"

    async def test_concurrency_is_bounded(self, messaging_case: MessagingCase) -> None:
        case = messaging_case
        keys: list[str | None] = [None]
        if case.ordered_streams:  # one handler at a time per stream: use three streams
            queue = case.new_name("bound")
            keys = list(await case.prepare_streams(queue, 3))
        else:
            (queue,) = await self._names(case, "bound")
        active = 0
        peak = 0
        done = 0
        three_running = asyncio.Event()
        gate = asyncio.Event()

        async def slow(body: Any) -> None:
            nonlocal active, peak, done
            active += 1
            peak = max(peak, active)
            if active == 3:
                three_running.set()
            await gate.wait()
            active -= 1
            done += 1

        output = case.output(queue)
        resource = case.resource([case.pull_input(queue, on_message=slow, max_concurrency=3)], [output])
        async with running(case, resource):
            for n in range(9):
                await output.push(n, key=keys[n % len(keys)])
            await asyncio.wait_for(three_running.wait(), TIMEOUT)
            await asyncio.sleep(0.2)  # would let a 4th start if the bound were broken
            assert active == 3
            gate.set()
            await wait_until(lambda: done == 9, what="all 9 handled")
        assert peak == 3

    async def test_envelope_handler_gets_headers_and_raw_bytes(self, messaging_case: MessagingCase) -> None:
        case = messaging_case
        (queue,) = await self._names(case, "envelope")
        seen: list[Message] = []

        async def handler(message: Message) -> None:
            seen.append(message)

        output = case.output(queue)
        resource = case.resource([case.pull_input(queue, on_message=handler)], [output])
        async with running(case, resource):
            await output.push({"a": 1}, headers={"trace": "abc"})
            await wait_until(lambda: len(seen) == 1, what="one message")
        message = seen[0]
        assert message.body == {"a": 1}
        assert message.raw == b'{"a":1}'
        assert message.headers["trace"] == "abc"
        assert message.source == queue
        assert message.attempt == 1
