"""Stopping: running handlers finish and are acknowledged; one cut by the drain deadline is delivered again."""

from __future__ import annotations

import asyncio
from typing import Any

from ._case import TIMEOUT, MessagingCase, SuiteBase, collector, running, wait_until

__all__ = ["DrainTests"]


class DrainTests(SuiteBase):
    """Stopping: see the module doc."""

    async def test_stop_lets_running_handlers_finish_and_acknowledges_them(self, messaging_case: MessagingCase) -> None:
        case = messaging_case
        (queue,) = await self._names(case, "drain")
        started = asyncio.Event()
        finished: list[Any] = []

        async def slow(body: Any) -> None:
            started.set()
            await asyncio.sleep(0.5)
            finished.append(body)

        output = case.output(queue)
        resource = case.resource([case.pull_input(queue, on_message=slow)], [output])
        async with running(case, resource, {"drain_timeout_seconds": 10}):
            await output.push("in flight")
            await asyncio.wait_for(started.wait(), TIMEOUT)
        assert finished == ["in flight"], "the stop waited for the handler"
        again, handler = collector()
        async with running(case, case.resource([case.pull_input(queue, on_message=handler)])):
            await asyncio.sleep(0.3)
        assert again == [], "the drained message was acknowledged"

    async def test_handler_cut_by_the_drain_deadline_is_delivered_again(self, messaging_case: MessagingCase) -> None:
        case = messaging_case
        (queue,) = await self._names(case, "cut")
        started = asyncio.Event()

        async def stuck(body: Any) -> None:
            started.set()
            await asyncio.Event().wait()

        output = case.output(queue)
        resource = case.resource([case.pull_input(queue, on_message=stuck)], [output])
        async with running(case, resource, {"drain_timeout_seconds": 0.2}):
            await output.push("unfinished")
            await asyncio.wait_for(started.wait(), TIMEOUT)
        again, handler = collector()
        async with running(case, case.resource([case.pull_input(queue, on_message=handler)])):
            await wait_until(lambda: again == ["unfinished"], what="the cut message delivered again")
