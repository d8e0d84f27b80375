"""Failures: retries, dead letters with the error, undecodable payloads, manual acknowledgement."""

from __future__ import annotations

import asyncio
from typing import Any

from tamarco.core.messaging import (
    Message,
)

from ._case import FAST_RETRY, MessagingCase, SuiteBase, collector, running, wait_until

__all__ = ["RetryTests"]


class RetryTests(SuiteBase):
    """Failures: see the module doc."""

    async def test_failing_handler_is_retried_then_succeeds(self, messaging_case: MessagingCase) -> None:
        case = messaging_case
        (queue,) = await self._names(case, "retry")
        attempts: list[int] = []

        async def flaky(message: Message) -> None:
            attempts.append(message.attempt)
            if message.attempt < 3:
                raise RuntimeError("not yet")

        output = case.output(queue)
        resource = case.resource([case.pull_input(queue, on_message=flaky, retry=FAST_RETRY)], [output])
        async with running(case, resource):
            await output.push({"x": 1})
            await wait_until(lambda: len(attempts) >= 3, what="3 attempts")
            await wait_until(lambda: resource.consumers[queue].handled == 1, what="handled once")
            assert resource.consumers[queue].dead_lettered == 0
        assert attempts == [1, 2, 3]

    async def test_exhausted_retries_dead_letter_with_the_error(self, messaging_case: MessagingCase) -> None:
        case = messaging_case
        (queue,) = await self._names(case, "dead")
        calls: list[Any] = []

        async def broken(body: Any) -> None:
            calls.append(body)
            raise ValueError(f"cannot handle {body['id']}")

        received, handler = collector()
        output = case.output(queue)
        resource = case.resource([case.pull_input(queue, on_message=broken, retry=FAST_RETRY)], [output])
        async with running(case, resource):
            await output.push({"id": 7})
            letters = await case.dead_letters(queue, 1)
        assert len(calls) == 3
        body, headers = letters[0]
        assert body == b'{"id":7}'
        assert headers["x-tamarco-error-type"] == "ValueError"
        assert "cannot handle 7" in headers["x-tamarco-error"]
        assert int(headers["x-tamarco-attempts"]) == 3
        # It was acknowledged after dead-lettering: not delivered again.
        async with running(case, case.resource([case.pull_input(queue, on_message=handler)])):
            await asyncio.sleep(0.3)
        assert received == []

    async def test_undecodable_payload_is_dead_lettered_at_once_and_the_next_is_handled(
        self, messaging_case: MessagingCase
    ) -> None:
        case = messaging_case
        (queue,) = await self._names(case, "undecodable")
        received, handler = collector()
        output = case.output(queue)
        resource = case.resource([case.pull_input(queue, on_message=handler, retry=FAST_RETRY)], [output])
        async with running(case, resource):
            await case.push_raw(resource, queue, b"\xff not json")
            await output.push({"ok": True})
            letters = await case.dead_letters(queue, 1)
            await wait_until(lambda: received == [{"ok": True}], what="the next message handled")
        body, headers = letters[0]
        assert body == b"\xff not json"
        assert headers["x-tamarco-error-type"] == "DecodeError"
        assert int(headers["x-tamarco-attempts"]) == 1

    async def test_manual_ack_requeues_what_the_handler_nacked(self, messaging_case: MessagingCase) -> None:
        case = messaging_case
        (queue,) = await self._names(case, "manual")
        seen: list[bool] = []

        async def handler(message: Message) -> None:
            seen.append(message.redelivered)
            if len(seen) == 1:
                await message.nack(requeue=True)
            else:
                await message.ack()

        output = case.output(queue)
        resource = case.resource([case.pull_input(queue, on_message=handler, ack="manual")], [output])
        async with running(case, resource):
            await output.push("x")
            await wait_until(lambda: len(seen) >= 2, what="the nacked message again")
            await asyncio.sleep(0.2)
        assert len(seen) == 2
        if case.flags_redelivery:
            assert seen == [False, True]
