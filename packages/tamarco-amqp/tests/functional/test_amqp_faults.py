"""Bad input and faults against the harness RabbitMQ: an unreachable broker, refused credentials
(the password nowhere), a message over the broker's size limit, an undeclared vhost."""

from __future__ import annotations

import json
import logging
import re
import uuid

import pytest
from tamarco.core.errors import ResourceStartError
from tamarco.core.messaging import AuthenticationError, NotConnectedError, PublishError
from tamarco.harness.messaging_suite import running, wait_until
from tamarco.resources.io.amqp import AMQPOutput, AMQPPullInput, AMQPResource

pytestmark = pytest.mark.functional


class Settings:
    """A stand-in for a MessagingCase: only ``settings()`` is used by ``running``."""

    def __init__(self, settings):
        self._settings = settings

    def settings(self):
        return self._settings


def record_statuses(resource):
    seen = []
    resource.add_status_listener(lambda _resource, _old, new: seen.append(new.name))
    return seen


async def test_unreachable_broker_fails_after_the_timeout_naming_the_address(free_port):
    resource = AMQPResource(outputs=[AMQPOutput("cows")])
    statuses = record_statuses(resource)
    settings = {"host": "127.0.0.1", "port": free_port, "vhost": "herd", "connection_timeout": 1}
    with pytest.raises(ResourceStartError, match=rf"127\.0\.0\.1:{free_port}/herd within 1 s") as raised:
        async with running(Settings(settings), resource):
            pass
    assert isinstance(raised.value.error, NotConnectedError)
    assert statuses[:2] == ["CONNECTING", "FAILED"]
    assert f"127.0.0.1:{free_port}/herd" in (await resource.status())["last_error"]


async def test_wrong_credentials_fail_at_once_and_the_password_appears_nowhere(amqp_settings, caplog, rabbitmq_service):
    password = f"wrong-{uuid.uuid4().hex}"
    resource = AMQPResource(inputs=[AMQPPullInput("cows")], outputs=[AMQPOutput("cows")])
    statuses = record_statuses(resource)
    settings = amqp_settings(password=password, connection_timeout=10)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ResourceStartError, match="authentication failed for user 'guest'") as raised:
        async with running(Settings(settings), resource):
            pass
    assert isinstance(raised.value.error, AuthenticationError)
    assert statuses[:2] == ["CONNECTING", "FAILED"] and statuses.count("CONNECTING") == 1, statuses
    assert caplog.text.count("ACCESS_REFUSED") <= 2, "refused credentials are not retried"
    status = json.dumps(await resource.status())
    assert "authentication failed for user 'guest'" in status
    assert f"{rabbitmq_service.host}:{rabbitmq_service.port}/" in status
    for where, text in (
        ("exception", str(raised.value) + repr(raised.value)),
        ("logs", caplog.text),
        ("status", status),
    ):
        assert password not in text, f"the password appears in the {where}"


async def test_unknown_vhost_fails_naming_it(amqp_settings):
    resource = AMQPResource(outputs=[AMQPOutput("cows")])
    settings = amqp_settings(vhost="no-such-vhost", connection_timeout=1)
    with pytest.raises(ResourceStartError, match="refused to open vhost 'no-such-vhost'") as raised:
        async with running(Settings(settings), resource):
            pass
    assert isinstance(raised.value.error, NotConnectedError)
    assert "no-such-vhost" in (await resource.status())["last_error"]


async def test_message_over_the_size_limit_is_a_clear_publish_error(amqp_settings, unique_name):
    output = AMQPOutput("big")
    resource = AMQPResource(outputs=[output])
    settings = amqp_settings(queues_prefix=f"{unique_name}.", max_message_size=1024)
    async with running(Settings(settings), resource):
        with pytest.raises(PublishError, match=r"push to 'big'.* 2000\d\d bytes, over .* 1024 bytes"):
            await output.push("x" * 200_000)
        await output.push("small")  # the connection is fine


async def test_message_refused_by_the_broker_is_a_clear_publish_error(amqp_settings, rabbitmq_service, unique_name):
    rabbitmq_service.ctl("eval", "application:set_env(rabbit, max_message_size, 1048576).")
    try:
        received = []

        async def handler(body):
            received.append(body)

        output = AMQPOutput("big")
        resource = AMQPResource(inputs=[AMQPPullInput("big", on_message=handler)], outputs=[output])
        async with running(Settings(amqp_settings(queues_prefix=f"{unique_name}.")), resource):
            with pytest.raises(PublishError, match=r"push to 'big'.*larger than configured max size 1048576"):
                await output.push("x" * 2_000_000)
            # The broker closed the publishing channel; the next push waits for it to reopen.
            await output.push("small")
            await wait_until(lambda: received == ["small"], what="the next message delivered")
    finally:
        rabbitmq_service.ctl("eval", "application:set_env(rabbit, max_message_size, 134217728).")


async def test_a_dead_letter_queue_refusing_messages_backs_off_and_loses_nothing(
    amqp_settings, rabbitmq_service, unique_name, monkeypatch
):
    """<q>.dead with a max-length 0, reject-publish policy: the broker nacks every dead letter."""
    from tamarco.core.logging.testing import capture_logs
    from tamarco.core.messaging import _stalls

    monkeypatch.setattr(_stalls, "DEAD_LETTER_FIRST_DELAY", 0.05)
    prefix = f"{unique_name}."
    dead_queue = f"{prefix}jobs.dead"
    policy = f"{unique_name}-full"
    calls = []

    async def fail(body):
        calls.append(body)
        raise ValueError("always fails")

    output = AMQPOutput("jobs")
    resource = AMQPResource(inputs=[AMQPPullInput("jobs", on_message=fail)], outputs=[output])
    rule = '{"max-length": 0, "overflow": "reject-publish"}'
    rabbitmq_service.ctl("set_policy", "-p", "/", "--apply-to", "queues", policy, f"^{re.escape(dead_queue)}$", rule)
    settings = amqp_settings(queues_prefix=prefix, delivery={"retry": {"attempts": 2, "delay_seconds": 0}})
    try:
        with capture_logs() as logs:
            async with running(Settings(settings), resource):
                for n in range(3):
                    await output.push({"n": n})
                consumer = resource.consumers["jobs"]
                await wait_until(lambda: consumer.dead_letters.failures >= 9, what="three refusals of each message")
                inputs = (await resource.status())["inputs"]["jobs"]
                handled_while_refused = len(calls)
                rabbitmq_service.ctl("clear_policy", "-p", "/", policy)
                policy = None
                await wait_until(lambda: consumer.dead_lettered == 3, timeout=30, what="all three dead-lettered")
    finally:
        if policy is not None:
            rabbitmq_service.ctl("clear_policy", "-p", "/", policy)
    assert handled_while_refused == 6, "each message handled twice (its attempts), not again per refusal"
    assert len(calls) == 6
    assert inputs["dead_letters_waiting"] == 3 and inputs["dead_letter_refusals"] >= 9
    assert "PublishError" in inputs["last_dead_letter_error"]
    assert len(logs.filter(contains="could not dead-letter a message")) == 1, "one log line per interval"
    queues = dict(
        line.split("\t")
        for line in rabbitmq_service.ctl("list_queues", "-p", "/", "name", "messages").splitlines()
        if "\t" in line
    )
    assert queues[dead_queue] == "3", "every message in the dead-letter queue"
    assert queues[f"{prefix}jobs"] == "0", "none left behind"
