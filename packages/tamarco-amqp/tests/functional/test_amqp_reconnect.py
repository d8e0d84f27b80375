"""A broker restart during steady confirmed publishing: the resource goes CONNECTING, then
STARTED, and every message the broker confirmed is consumed at least once; a request waiting for
its answer fails at once; requests work again afterwards."""

from __future__ import annotations

import asyncio
import collections

import pytest
from tamarco.core.messaging import MessagingError, NotConnectedError
from tamarco.harness.messaging_suite import running, wait_until
from tamarco.resources.io.amqp import AMQPOutput, AMQPPullInput, AMQPRequestInput, AMQPResource

pytestmark = pytest.mark.functional


class Settings:
    def __init__(self, settings):
        self._settings = settings

    def settings(self):
        return self._settings


async def test_broker_restart_during_confirmed_publishing_loses_no_confirmed_message(
    amqp_settings, rabbitmq_service, unique_name
):
    handled: collections.Counter[int] = collections.Counter()

    async def handler(body):
        handled[body["id"]] += 1

    async def echo(body, response_handler):
        return body

    arrived = asyncio.Event()
    release = asyncio.Event()

    async def hold(body, response_handler):  # answers only after the restart: its caller waits across it
        arrived.set()
        await release.wait()
        return body

    output = AMQPOutput("steady")
    rpc = AMQPOutput("echo")
    held = AMQPOutput("nobody")
    resource = AMQPResource(
        inputs=[
            AMQPPullInput("steady", on_message=handler),
            AMQPRequestInput("echo", on_message=echo),
            AMQPRequestInput("nobody", on_message=hold),
        ],
        outputs=[output, rpc, held],
    )
    statuses: list[str] = []
    resource.add_status_listener(lambda _resource, _old, new: statuses.append(new.name))
    sent = 0
    confirmed: set[int] = set()
    failures: collections.Counter[str] = collections.Counter()
    restarted = asyncio.Event()

    async def publish_steadily() -> None:
        nonlocal sent
        after_restart = 0
        while after_restart < 100:
            message_id = sent
            sent += 1
            try:
                await output.push({"id": message_id})
            except MessagingError as error:
                failures[type(error).__name__] += 1
                await asyncio.sleep(0.05)
                continue
            confirmed.add(message_id)
            if restarted.is_set():
                after_restart += 1
            await asyncio.sleep(0.005)

    settings = amqp_settings(queues_prefix=f"{unique_name}.", reconnect_interval_seconds=0.2)
    async with running(Settings(settings), resource):
        publisher = asyncio.create_task(publish_steadily())
        await wait_until(lambda: len(confirmed) >= 100, what="100 confirmed before the restart")
        assert await rpc.request("before", timeout=10) == "before"
        waiting = asyncio.create_task(held.request("anyone?", timeout=120))
        await wait_until(arrived.is_set, what="the held request published and handled")
        await asyncio.to_thread(rabbitmq_service.restart)
        restarted.set()
        with pytest.raises(NotConnectedError, match="lost before the answer came"):
            await asyncio.wait_for(waiting, 10)  # failed when the connection dropped, not at its timeout
        release.set()  # the redelivered request is answered to a reply-to that is gone: dropped
        await asyncio.wait_for(publisher, 60)
        assert await rpc.request("after", timeout=10) == "after", "direct reply-to restored"
        await wait_until(lambda: confirmed <= set(handled), timeout=30, what="every confirmed message handled")
        status = await resource.status()
    lost = confirmed - set(handled)
    duplicates = sum(count - 1 for count in handled.values())
    print(
        f"sent {sent}, confirmed {len(confirmed)}, handled {len(handled)}, duplicates {duplicates}, "
        f"lost {len(lost)}, publish failures {dict(failures)}, statuses {statuses}"
    )
    assert not lost
    assert statuses[:2] == ["CONNECTING", "STARTED"]
    assert ["STARTED", "CONNECTING", "STARTED"] == statuses[1:4], statuses
    assert status["broker"]["reconnects"] >= 1
