"""Publishing: codecs on both ends, publish reaches every subscriber, a stopped resource's output fails clearly."""

from __future__ import annotations

import asyncio

import pytest
from tamarco.core.messaging import (
    NotConnectedError,
)
from tamarco.resources.bases import StatusCodes

from ._case import MessagingCase, ReversedCodec, SuiteBase, collector, running, wait_until

__all__ = ["PublishTests"]


class PublishTests(SuiteBase):
    """Publishing: see the module doc."""

    async def test_the_input_codec_decodes_and_the_output_codec_encodes(self, messaging_case: MessagingCase) -> None:
        case = messaging_case
        (queue,) = await self._names(case, "codec")
        received, handler = collector()
        output = case.output(queue, codec=ReversedCodec)
        resource = case.resource([case.pull_input(queue, codec=ReversedCodec, on_message=handler)], [output])
        async with running(case, resource):
            await output.push("moo")
            await case.push_raw(resource, queue, b"woem")
            await wait_until(lambda: len(received) >= 2, what="2 messages")
        assert sorted(received) == ["meow", "moo"]

    async def test_publish_reaches_every_subscriber(self, messaging_case: MessagingCase) -> None:
        case = messaging_case
        if not case.supports_publish_subscribe:
            pytest.skip("transport has no publish/subscribe")
        (topic,) = await self._names(case, "pubsub")
        first, first_handler = collector()
        second, second_handler = collector()
        output = case.output(topic)
        one = case.resource([case.subscription_input(topic, on_message=first_handler)], [output])
        two = case.resource([case.subscription_input(topic, on_message=second_handler)])
        async with running(case, one), running(case, two):
            await asyncio.sleep(0)  # both subscribed at start
            for n in range(10):
                await output.publish(n)
            await wait_until(lambda: len(first) >= 10 and len(second) >= 10, what="both subscribers got 10")
        assert sorted(first) == list(range(10)) and sorted(second) == list(range(10))

    async def test_output_of_a_stopped_resource_fails_clearly(self, messaging_case: MessagingCase) -> None:
        case = messaging_case
        (queue,) = await self._names(case, "stopped")
        output = case.output(queue)
        resource = case.resource([], [output])
        with pytest.raises(NotConnectedError, match="NOT_STARTED"):
            await output.push("too early")
        async with running(case, resource):
            assert resource.status_code == StatusCodes.STARTED
        with pytest.raises(NotConnectedError, match="STOPPED"):
            await output.push("too late")
