"""Request/response (skipped where the case has ``supports_request = False``)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tamarco.core.messaging import (
    RequestTimeoutError,
)

from ._case import TIMEOUT, MessagingCase, SuiteBase, running

__all__ = ["RequestTests"]


class RequestTests(SuiteBase):
    """Request/response (skipped where the case has ``supports_request = False``).: see the module doc."""

    async def test_request_gets_the_response(self, messaging_case: MessagingCase) -> None:
        case = messaging_case
        if not case.supports_request:
            pytest.skip("transport has no request/response")
        (queue,) = await self._names(case, "rpc")

        async def explicit(body: Any, response_handler: Any) -> None:
            await response_handler.send_response({"echo": body, "how": "send_response"})

        output = case.output(queue)
        resource = case.resource([case.request_input(queue, on_message=explicit)], [output])
        async with running(case, resource):
            answers = await asyncio.gather(*(output.request(n, timeout=TIMEOUT) for n in range(16)))
        assert answers == [{"echo": n, "how": "send_response"} for n in range(16)]

    async def test_request_handler_may_return_the_response(self, messaging_case: MessagingCase) -> None:
        case = messaging_case
        if not case.supports_request:
            pytest.skip("transport has no request/response")
        (queue,) = await self._names(case, "rpc-return")

        async def returning(body: Any, response_handler: Any) -> Any:
            return body * 2

        output = case.output(queue)
        async with running(case, case.resource([case.request_input(queue, on_message=returning)], [output])):
            assert await output.request(21, timeout=TIMEOUT) == 42

    async def test_unanswered_request_times_out(self, messaging_case: MessagingCase) -> None:
        case = messaging_case
        if not case.supports_request:
            pytest.skip("transport has no request/response")
        (queue,) = await self._names(case, "rpc-nobody")
        output = case.output(queue)
        async with running(case, case.resource([], [output])):
            with pytest.raises(RequestTimeoutError, match=r"0\.3"):
                await output.request("hello?", timeout=0.3)
